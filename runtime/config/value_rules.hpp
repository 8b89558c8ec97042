#pragma once

// The checks of a single config value by kind (durations, counts, numbers,
// sizes), shared by the node config's schema and by command-line flags that
// are not config keys, so a value is refused the same way, with the same
// words, wherever it is written.
//
// Each check returns the accepted value, or `errc::bad_config` whose reason
// says what the value must be and what it was ("must be a positive number
// of seconds, got -1"); callers put the key or flag in front.

#include <caf/expected.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace colony {

/// What a duration written in seconds may be.
struct seconds_bounds {
  /// 0 is a valid value (commonly "never" or "off").
  bool zero_allowed = false;
  /// Smallest positive value (seconds); durations are kept in milliseconds.
  double min = 0.001;
  /// Largest value (seconds); keeps the conversion to milliseconds (and any
  /// deadline computed from it) far inside int64.
  double max = 1e9;
};

/// Checks a duration in seconds and returns it in milliseconds (rounded).
/// Negative, NaN, infinite, below `min` or above `max` fail.
[[nodiscard]] caf::expected<std::chrono::milliseconds>
check_seconds(double seconds, const seconds_bounds& bounds = {});

/// Checks an integer in [min, max].
[[nodiscard]] caf::expected<int64_t> check_count(int64_t value, int64_t min,
                                                 int64_t max);

/// Checks a non-negative finite number, at most `max`.
[[nodiscard]] caf::expected<double>
check_number(double value,
             double max = std::numeric_limits<double>::infinity());

/// Checks a positive number of bytes.
[[nodiscard]] caf::expected<size_t> check_bytes(int64_t value);

/// Reads `text` whole as a decimal number (`1.5`, `-2`, `1e3`, `nan`, `inf`);
/// nothing if it is not one.
[[nodiscard]] std::optional<double> parse_number(std::string_view text);

/// Reads `text` whole as a decimal integer; nothing if it is not one or does
/// not fit in int64.
[[nodiscard]] std::optional<int64_t> parse_integer(std::string_view text);

/// Renders a number of seconds as users write it: `1.5`, `-1`, `nan`,
/// `1e+300`.
[[nodiscard]] std::string number_text(double value);

} // namespace colony
