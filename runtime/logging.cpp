#include "runtime/logging.hpp"

#include "messages/error.hpp"
#include "runtime/log_tally.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <algorithm>
#include <cctype>
#include <utility>

namespace colony {

namespace {

// One sink for every node logger of the process: its mutex keeps lines
// whole. Colors apply only when stderr is a terminal.
spdlog::sink_ptr shared_stderr_sink() {
  static const spdlog::sink_ptr sink = [] {
    auto result = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    result->set_pattern(node_log_pattern);
    return result;
  }();
  return sink;
}

std::shared_ptr<spdlog::logger> make_logger(const std::string& short_id,
                                            spdlog::level::level_enum level,
                                            spdlog::sink_ptr sink) {
  // Constructed directly, never through spdlog's factories, which register
  // the logger globally and refuse a second logger of the same name.
  auto result = std::make_shared<spdlog::logger>(
      short_id, spdlog::sinks_init_list{std::move(sink), log_tally_sink()});
  result->set_level(level);
  // Errors and worse should reach the terminal before a crash can lose them.
  result->flush_on(spdlog::level::err);
  return result;
}

} // namespace

std::shared_ptr<spdlog::logger>
make_node_logger(const std::string& short_id, spdlog::level::level_enum level) {
  return make_logger(short_id, level, shared_stderr_sink());
}

std::shared_ptr<spdlog::logger>
make_node_logger(const std::string& short_id, spdlog::level::level_enum level,
                 spdlog::sink_ptr sink) {
  sink->set_pattern(node_log_pattern);
  return make_logger(short_id, level, std::move(sink));
}

caf::expected<spdlog::level::level_enum>
parse_log_level(std::string_view name) {
  std::string lower{name};
  std::transform(lower.begin(), lower.end(), lower.begin(), [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  });
  using spdlog::level::level_enum;
  static constexpr std::pair<std::string_view, level_enum> names[] = {
      {"trace", level_enum::trace},       {"debug", level_enum::debug},
      {"info", level_enum::info},         {"warn", level_enum::warn},
      {"warning", level_enum::warn},      {"error", level_enum::err},
      {"critical", level_enum::critical}, {"off", level_enum::off},
  };
  for (const auto& [text, level] : names)
    if (text == lower)
      return level;
  return make_error(errc::invalid_argument,
                    "unknown log level '" + std::string{name} +
                        "' (expected trace, debug, info, warn, error, "
                        "critical or off)");
}

} // namespace colony
