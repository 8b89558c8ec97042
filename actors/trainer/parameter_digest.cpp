#include "actors/trainer/parameter_digest.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

namespace colony::trainer {

namespace {

/// Doubles round-trip exactly.
std::string exact(double x) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.17g", x);
  return buf;
}

std::optional<double> number(std::string_view text) {
  if (text.empty())
    return std::nullopt;
  std::string copy{text};
  char* end = nullptr;
  auto x = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size() || !std::isfinite(x))
    return std::nullopt;
  return x;
}

} // namespace

std::string format_digest_line(const parameter_digest& d) {
  std::string out{parameter_digest_marker};
  out += "t=" + exact(d.t) + " epoch=" + std::to_string(d.epoch) +
         " loaded=" + (d.loaded_state ? "1" : "0") + " norm=" + exact(d.norm) +
         " sketch=";
  for (size_t i = 0; i < d.sketch.size(); ++i)
    out += (i ? "," : "") + exact(d.sketch[i]);
  return out;
}

std::optional<parameter_digest> parse_digest_line(std::string_view line) {
  auto at = line.find(parameter_digest_marker);
  if (at == std::string_view::npos)
    return std::nullopt;
  auto rest = line.substr(at + parameter_digest_marker.size());
  parameter_digest d;
  bool has_t = false;
  bool has_epoch = false;
  bool has_norm = false;
  bool has_sketch = false;
  while (!rest.empty()) {
    auto space = rest.find(' ');
    auto field = rest.substr(0, space);
    rest = space == std::string_view::npos ? std::string_view{}
                                           : rest.substr(space + 1);
    auto eq = field.find('=');
    if (eq == std::string_view::npos)
      return std::nullopt;
    auto key = field.substr(0, eq);
    auto value = field.substr(eq + 1);
    if (key == "t") {
      auto x = number(value);
      if (!x)
        return std::nullopt;
      d.t = *x;
      has_t = true;
    } else if (key == "epoch") {
      auto x = number(value);
      if (!x || *x < 0)
        return std::nullopt;
      d.epoch = static_cast<uint64_t>(*x);
      has_epoch = true;
    } else if (key == "loaded") {
      d.loaded_state = value == "1";
    } else if (key == "norm") {
      auto x = number(value);
      if (!x || *x < 0)
        return std::nullopt;
      d.norm = *x;
      has_norm = true;
    } else if (key == "sketch") {
      while (!value.empty()) {
        auto comma = value.find(',');
        auto x = number(value.substr(0, comma));
        if (!x)
          return std::nullopt;
        d.sketch.push_back(*x);
        value = comma == std::string_view::npos ? std::string_view{}
                                                : value.substr(comma + 1);
      }
      has_sketch = !d.sketch.empty();
    }
    // Unknown keys are skipped: later versions may add some.
  }
  if (!has_t || !has_epoch || !has_norm || !has_sketch)
    return std::nullopt;
  return d;
}

double relative_distance(const parameter_digest& a,
                         const parameter_digest& b) noexcept {
  if (a.sketch.size() != b.sketch.size())
    return std::numeric_limits<double>::infinity();
  double squares = 0;
  for (size_t i = 0; i < a.sketch.size(); ++i) {
    auto diff = a.sketch[i] - b.sketch[i];
    squares += diff * diff;
  }
  auto scale = std::max(a.norm, b.norm);
  auto distance = std::max(std::sqrt(squares), std::abs(a.norm - b.norm));
  if (scale == 0)
    return distance == 0 ? 0 : std::numeric_limits<double>::infinity();
  return distance / scale;
}

} // namespace colony::trainer
