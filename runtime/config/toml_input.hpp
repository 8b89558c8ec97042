#pragma once

// Reading the text of a TOML config and parsing it, with the problems
// reported the same way by every reader (node configs, swarm specs, harness
// scenarios).

#include "runtime/config/config_issues.hpp"

#include <caf/expected.hpp>
#include <toml++/toml.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace colony {

/// Largest config file read (bytes): a config is a page of text, and a path
/// such as /dev/zero must fail instead of filling memory.
constexpr size_t max_config_file_bytes = size_t{16} << 20;

/// Reads the file at `path` whole. Fails with `errc::io_error` and the reason
/// `PATH: what is wrong` when the path names nothing, a directory, or a file
/// that cannot be read or is larger than `max_config_file_bytes`.
[[nodiscard]] caf::expected<std::string>
read_config_file(const std::string& path);

/// Parses `text` as TOML. On a syntax error adds `SOURCE:LINE:COL: TOML
/// syntax error: ...` to `issues` and returns nothing.
[[nodiscard]] std::optional<toml::table> parse_toml(std::string_view text,
                                                    const std::string& source,
                                                    config_issues& issues);

/// "a string", "an integer", ...: the type of `node` for messages.
[[nodiscard]] const char* toml_type_name(const toml::node& node) noexcept;

} // namespace colony
