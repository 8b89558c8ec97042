#pragma once

#include <caf/expected.hpp>

#include <spdlog/common.h>
#include <spdlog/logger.h>

#include <memory>
#include <string>
#include <string_view>

namespace colony {

/// The line layout of node logs: time, the node's short id, level, text.
/// `%n` is the logger's name, which `make_node_logger` sets to the short id.
constexpr const char* node_log_pattern = "[%H:%M:%S.%e] [%n] [%^%l%$] %v";

/// Makes a logger that writes to stderr with `short_id` in every line, e.g.
/// `[12:00:01.234] [e8ieyF] [info] listening on 127.0.0.1:40123`.
///
/// All node loggers of a process share one stderr sink, so lines of many
/// nodes never interleave mid-line. The logger is not registered in spdlog's
/// global registry: a process may make any number of them, even with equal
/// ids, and each lives as long as its last owner.
[[nodiscard]] std::shared_ptr<spdlog::logger>
make_node_logger(const std::string& short_id, spdlog::level::level_enum level);

/// Like the above, but writes to `sink` (e.g. a file or, in tests, an
/// ostream); sets `sink`'s pattern to `node_log_pattern`.
[[nodiscard]] std::shared_ptr<spdlog::logger>
make_node_logger(const std::string& short_id, spdlog::level::level_enum level,
                 spdlog::sink_ptr sink);

/// Parses a log level name, case-insensitively: trace, debug, info, warn
/// (or warning), error, critical, off. Fails with `errc::invalid_argument`
/// listing the valid names.
[[nodiscard]] caf::expected<spdlog::level::level_enum>
parse_log_level(std::string_view name);

} // namespace colony
