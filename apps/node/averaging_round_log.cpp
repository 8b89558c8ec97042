#include "apps/node/averaging_round_log.hpp"

#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace colony {

namespace {

/// Doubles round-trip exactly.
std::string exact(double x) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.17g", x);
  return buf;
}

template <class T, class F>
std::string joined(const std::vector<T>& items, F text) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i)
    out += (i ? "," : "") + text(items[i]);
  return out;
}

std::vector<std::string> split(std::string_view text, char sep) {
  std::vector<std::string> out;
  if (text.empty())
    return out;
  size_t start = 0;
  for (;;) {
    auto pos = text.find(sep, start);
    out.emplace_back(text.substr(start, pos - start));
    if (pos == std::string_view::npos)
      return out;
    start = pos + 1;
  }
}

std::optional<double> number(const std::string& text) {
  if (text.empty())
    return std::nullopt;
  char* end = nullptr;
  auto x = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size())
    return std::nullopt;
  return x;
}

std::optional<std::vector<double>> numbers(const std::string& text) {
  std::vector<double> out;
  for (const auto& item : split(text, ',')) {
    auto x = number(item);
    if (!x)
      return std::nullopt;
    out.push_back(*x);
  }
  return out;
}

} // namespace

std::string format_round_line(const averaging_round_record& r) {
  std::string out{averaging_round_marker};
  out += "t=" + exact(r.t) + " prefix=" + r.prefix + " peer=" + r.peer;
  if (!r.ok)
    return out + " ok=0 error=" + r.error;
  auto text = [](double x) {
    return exact(x);
  };
  out += " ok=1 group=" + r.group + " index=" + std::to_string(r.index) +
         " weight=" + exact(r.weight) + " members=" +
         joined(r.members, [](const std::string& s) { return s; }) +
         " pre=" + joined(r.pre, text) + " post=" + joined(r.post, text) +
         " averaged=" + std::to_string(r.averaged_parts) +
         " kept=" + std::to_string(r.kept_parts);
  return out;
}

std::optional<averaging_round_record> parse_round_line(std::string_view line) {
  auto at = line.find(averaging_round_marker);
  if (at == std::string_view::npos)
    return std::nullopt;
  auto rest = line.substr(at + averaging_round_marker.size());
  averaging_round_record r;
  bool has_t = false;
  bool has_ok = false;
  while (!rest.empty()) {
    auto eq = rest.find('=');
    if (eq == std::string_view::npos)
      return std::nullopt;
    auto key = rest.substr(0, eq);
    rest = rest.substr(eq + 1);
    if (key == "error") {
      r.error = std::string{rest};
      break;
    }
    auto space = rest.find(' ');
    std::string value{rest.substr(0, space)};
    rest = space == std::string_view::npos ? std::string_view{}
                                           : rest.substr(space + 1);
    if (key == "t") {
      auto x = number(value);
      if (!x)
        return std::nullopt;
      r.t = *x;
      has_t = true;
    } else if (key == "prefix") {
      r.prefix = value;
    } else if (key == "peer") {
      r.peer = value;
    } else if (key == "ok") {
      r.ok = value == "1";
      has_ok = true;
    } else if (key == "group") {
      r.group = value;
    } else if (key == "index" || key == "averaged" || key == "kept") {
      auto x = number(value);
      if (!x || *x < 0)
        return std::nullopt;
      auto n = static_cast<size_t>(*x);
      (key == "index"      ? r.index
       : key == "averaged" ? r.averaged_parts
                           : r.kept_parts) = n;
    } else if (key == "weight") {
      auto x = number(value);
      if (!x)
        return std::nullopt;
      r.weight = *x;
    } else if (key == "members") {
      r.members = split(value, ',');
    } else if (key == "pre" || key == "post") {
      auto xs = numbers(value);
      if (!xs)
        return std::nullopt;
      (key == "pre" ? r.pre : r.post) = std::move(*xs);
    }
    // Unknown keys are skipped: later versions may add some.
  }
  if (!has_t || !has_ok)
    return std::nullopt;
  if (r.ok &&
      (r.members.empty() || r.index >= r.members.size() ||
       r.pre.size() != r.members.size() || r.post.size() != r.members.size()))
    return std::nullopt;
  return r;
}

} // namespace colony
