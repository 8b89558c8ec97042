#pragma once

// Checking that a program printed JSON: a small strict parser (RFC 8259)
// that says where and why a text is not one JSON value. Strict means: no
// NaN or Infinity, no leading zeros or `+`, no trailing commas, no control
// characters or invalid UTF-8 in strings, no lone surrogate escapes,
// nothing but whitespace after the value.

#include <gtest/gtest.h>

#include <cstddef>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

namespace colony::testing {

namespace detail {

class json_checker {
 public:
  explicit json_checker(std::string_view text) : s_(text) {}

  std::optional<std::string> run() {
    skip_ws();
    if (!value(0))
      return error_;
    skip_ws();
    if (pos_ != s_.size()) {
      fail("text after the value");
      return error_;
    }
    return std::nullopt;
  }

 private:
  static constexpr int max_depth = 256;

  bool fail(const std::string& what) {
    if (!error_)
      error_ = "at byte " + std::to_string(pos_) + ": " + what;
    return false;
  }

  bool at_end() const { return pos_ >= s_.size(); }
  char peek() const { return at_end() ? '\0' : s_[pos_]; }

  void skip_ws() {
    while (!at_end() && (s_[pos_] == ' ' || s_[pos_] == '\t' ||
                         s_[pos_] == '\n' || s_[pos_] == '\r'))
      ++pos_;
  }

  bool literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word)
      return fail("expected a value");
    pos_ += word.size();
    return true;
  }

  bool value(int depth) {
    if (depth > max_depth)
      return fail("nested too deeply");
    switch (peek()) {
    case '{':
      return object(depth);
    case '[':
      return array(depth);
    case '"':
      return string();
    case 't':
      return literal("true");
    case 'f':
      return literal("false");
    case 'n':
      return literal("null");
    default:
      return number();
    }
  }

  bool object(int depth) {
    return elements('}', [&] {
      if (peek() != '"')
        return fail("expected a member name");
      if (!string())
        return false;
      skip_ws();
      if (peek() != ':')
        return fail("expected ':'");
      ++pos_;
      skip_ws();
      return value(depth + 1);
    });
  }

  bool array(int depth) {
    return elements(']', [&] { return value(depth + 1); });
  }

  /// The elements of an object or array after its opening bracket: none,
  /// or `element`s separated by commas, then `close`.
  template <class Element>
  bool elements(char close, Element element) {
    ++pos_; // the opening bracket
    skip_ws();
    if (peek() == close) {
      ++pos_;
      return true;
    }
    for (;;) {
      skip_ws();
      if (!element())
        return false;
      skip_ws();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == close) {
        ++pos_;
        return true;
      }
      return fail(std::string("expected ',' or '") + close + "'");
    }
  }

  static bool is_digit(char c) { return c >= '0' && c <= '9'; }

  bool digits() {
    if (!is_digit(peek()))
      return fail("expected a digit");
    while (is_digit(peek()))
      ++pos_;
    return true;
  }

  bool number() {
    if (peek() == '-')
      ++pos_;
    if (peek() == '0') {
      ++pos_;
      if (is_digit(peek()))
        return fail("leading zero");
    } else if (!digits()) {
      return fail("expected a value");
    }
    if (peek() == '.') {
      ++pos_;
      if (!digits())
        return false;
    }
    if (peek() == 'e' || peek() == 'E') {
      ++pos_;
      if (peek() == '+' || peek() == '-')
        ++pos_;
      if (!digits())
        return false;
    }
    return true;
  }

  static bool is_hex(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  }

  /// Reads 4 hex digits after `\u`.
  bool hex4(unsigned& out) {
    out = 0;
    for (int i = 0; i < 4; ++i) {
      char c = peek();
      if (!is_hex(c))
        return fail("bad \\u escape");
      out = out * 16 + static_cast<unsigned>(
                           is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10);
      ++pos_;
    }
    return true;
  }

  bool utf8() {
    auto b = [&](size_t i) {
      return pos_ + i < s_.size() ? static_cast<unsigned char>(s_[pos_ + i])
                                  : 0u;
    };
    auto cont = [&](size_t i) {
      return (b(i) & 0xC0) == 0x80;
    };
    unsigned c = b(0);
    size_t n = 0;
    if (c >= 0xC2 && c <= 0xDF && cont(1))
      n = 2;
    else if (c >= 0xE0 && c <= 0xEF && cont(1) && cont(2) &&
             !(c == 0xE0 && b(1) < 0xA0) && !(c == 0xED && b(1) >= 0xA0))
      n = 3;
    else if (c >= 0xF0 && c <= 0xF4 && cont(1) && cont(2) && cont(3) &&
             !(c == 0xF0 && b(1) < 0x90) && !(c == 0xF4 && b(1) >= 0x90))
      n = 4;
    if (n == 0)
      return fail("invalid UTF-8 in a string");
    pos_ += n;
    return true;
  }

  bool string() {
    ++pos_; // '"'
    for (;;) {
      if (at_end())
        return fail("unterminated string");
      auto c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c < 0x20)
        return fail("control character in a string");
      if (c >= 0x80) {
        if (!utf8())
          return false;
        continue;
      }
      ++pos_;
      if (c != '\\')
        continue;
      char e = peek();
      ++pos_;
      switch (e) {
      case '"':
      case '\\':
      case '/':
      case 'b':
      case 'f':
      case 'n':
      case 'r':
      case 't':
        break;
      case 'u': {
        unsigned u = 0;
        if (!hex4(u))
          return false;
        if (u >= 0xDC00 && u <= 0xDFFF)
          return fail("lone low surrogate escape");
        if (u >= 0xD800 && u <= 0xDBFF) {
          if (s_.substr(pos_, 2) != "\\u")
            return fail("lone high surrogate escape");
          pos_ += 2;
          unsigned low = 0;
          if (!hex4(low))
            return false;
          if (low < 0xDC00 || low > 0xDFFF)
            return fail("high surrogate without a low one");
        }
        break;
      }
      default:
        --pos_;
        return fail("bad escape");
      }
    }
  }

  std::string_view s_;
  size_t pos_ = 0;
  std::optional<std::string> error_;
};

} // namespace detail

/// Returns why `text` is not exactly one JSON value (surrounding whitespace
/// allowed), or nothing if it is.
[[nodiscard]] inline std::optional<std::string>
json_error(std::string_view text) {
  return detail::json_checker{text}.run();
}

/// `json_error` as a GoogleTest assertion: `EXPECT_TRUE(is_json(out))`.
[[nodiscard]] inline ::testing::AssertionResult is_json(std::string_view text) {
  if (auto why = json_error(text))
    return ::testing::AssertionFailure()
           << "not JSON (" << *why << "): " << text;
  return ::testing::AssertionSuccess();
}

/// The last line of `out` that starts a JSON object: a command's JSON line
/// among the log lines printed around it.
[[nodiscard]] inline std::string last_json_line(const std::string& out) {
  std::string last;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);)
    if (line.rfind('{', 0) == 0)
      last = line;
  return last;
}

} // namespace colony::testing
