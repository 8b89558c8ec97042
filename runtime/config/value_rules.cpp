#include "runtime/config/value_rules.hpp"

#include "messages/error.hpp"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <sstream>

namespace colony {

std::string number_text(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

caf::expected<std::chrono::milliseconds>
check_seconds(double seconds, const seconds_bounds& bounds) {
  auto text = number_text(seconds);
  if (bounds.zero_allowed && seconds == 0)
    return std::chrono::milliseconds{0};
  // Written as a negation so that NaN fails too.
  if (!(std::isfinite(seconds) && seconds > 0))
    return make_error(errc::bad_config,
                      std::string{"must be a positive number of seconds"} +
                          (bounds.zero_allowed ? " or 0" : "") + ", got " +
                          text);
  if (seconds > bounds.max)
    return make_error(errc::bad_config, "must be at most " +
                                            number_text(bounds.max) +
                                            " seconds, got " + text);
  auto ms = std::llround(seconds * 1000);
  if (ms < std::llround(bounds.min * 1000) || ms < 1)
    return make_error(errc::bad_config, "must be at least " +
                                            number_text(bounds.min) +
                                            " seconds, got " + text);
  return std::chrono::milliseconds{ms};
}

caf::expected<int64_t> check_count(int64_t value, int64_t min, int64_t max) {
  if (max == std::numeric_limits<int64_t>::max() && value < min)
    return make_error(errc::bad_config, "must be at least " +
                                            std::to_string(min) + ", got " +
                                            std::to_string(value));
  if (value < min || value > max)
    return make_error(errc::bad_config, "must be between " +
                                            std::to_string(min) + " and " +
                                            std::to_string(max) + ", got " +
                                            std::to_string(value));
  return value;
}

caf::expected<double> check_number(double value, double max) {
  auto text = number_text(value);
  // Written as negations so that NaN fails too.
  if (std::isfinite(max) && !(value >= 0 && value <= max))
    return make_error(errc::bad_config, "must be between 0 and " +
                                            number_text(max) + ", got " + text);
  if (!(std::isfinite(value) && value >= 0))
    return make_error(errc::bad_config,
                      "must be a non-negative number, got " + text);
  return value;
}

caf::expected<size_t> check_bytes(int64_t value) {
  if (value <= 0)
    return make_error(errc::bad_config,
                      "must be a positive number of bytes, got " +
                          std::to_string(value));
  return static_cast<size_t>(value);
}

std::optional<double> parse_number(std::string_view text) {
  std::string copy{text};
  if (copy.empty() || std::isspace(static_cast<unsigned char>(copy.front())))
    return std::nullopt;
  char* end = nullptr;
  errno = 0;
  double value = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size())
    return std::nullopt;
  // Overflow gives +-HUGE_VAL with ERANGE: keep it, the range checks refuse
  // it with the text the user wrote.
  return value;
}

std::optional<int64_t> parse_integer(std::string_view text) {
  std::string copy{text};
  if (copy.empty() || std::isspace(static_cast<unsigned char>(copy.front())))
    return std::nullopt;
  char* end = nullptr;
  errno = 0;
  long long value = std::strtoll(copy.c_str(), &end, 10);
  if (end != copy.c_str() + copy.size() || errno == ERANGE)
    return std::nullopt;
  return static_cast<int64_t>(value);
}

} // namespace colony
