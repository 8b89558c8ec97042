#pragma once

// Where `colony dht-store` takes the value to store from: its argument, a
// file, or standard input.

#include <caf/expected.hpp>

#include <cstddef>
#include <istream>
#include <optional>
#include <string>

namespace colony::apps {

/// Most bytes of a value given as a command-line argument: Linux passes no
/// longer argument to a program (MAX_ARG_STRLEN, 128 KiB), so a larger value
/// comes from a file or standard input.
constexpr size_t max_argument_value_bytes = size_t{128} << 10;

/// The value's sources as given on the command line.
struct store_value_source {
  /// The positional value, if given.
  std::optional<std::string> argument;
  /// `--value-file`: a path, `-` for standard input, or empty.
  std::string value_file;
};

/// Returns the value to store: the argument, or the whole file or standard
/// input (`standard_input`). Fails with `errc::invalid_argument` and a
/// one-line reason when both or neither source is given, the argument is
/// longer than `max_argument_value_bytes`, the file cannot be read, or the
/// value is longer than `max_bytes`.
[[nodiscard]] caf::expected<std::string>
read_store_value(const store_value_source& source, size_t max_bytes,
                 std::istream& standard_input);

} // namespace colony::apps
