#include "runtime/logging.hpp"

#include "messages/error.hpp"

#include <gtest/gtest.h>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <regex>
#include <sstream>

namespace colony {
namespace {

TEST(logging, parse_log_level) {
  using spdlog::level::level_enum;
  EXPECT_EQ(parse_log_level("trace"), level_enum::trace);
  EXPECT_EQ(parse_log_level("debug"), level_enum::debug);
  EXPECT_EQ(parse_log_level("info"), level_enum::info);
  EXPECT_EQ(parse_log_level("warn"), level_enum::warn);
  EXPECT_EQ(parse_log_level("WARNING"), level_enum::warn);
  EXPECT_EQ(parse_log_level("error"), level_enum::err);
  EXPECT_EQ(parse_log_level("critical"), level_enum::critical);
  EXPECT_EQ(parse_log_level("off"), level_enum::off);
  auto bad = parse_log_level("verbose");
  ASSERT_FALSE(bad);
  EXPECT_TRUE(is_error(bad.error(), errc::invalid_argument));
  EXPECT_NE(describe(bad.error()).find("'verbose'"), std::string::npos);
  EXPECT_FALSE(parse_log_level(""));
}

TEST(logging, every_line_carries_the_short_id) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  auto log = make_node_logger("ieyFCN", spdlog::level::info, sink);
  log->info("listening on {}", "127.0.0.1:5000");
  log->debug("hidden below the level");
  log->warn("second line");
  log->flush();
  auto text = out.str();
  std::regex line{R"(\[\d\d:\d\d:\d\d\.\d{3}\] \[ieyFCN\] \[info\] )"
                  R"(listening on 127\.0\.0\.1:5000\n)"
                  R"(\[\d\d:\d\d:\d\d\.\d{3}\] \[ieyFCN\] \[warning\] )"
                  R"(second line\n)"};
  EXPECT_TRUE(std::regex_match(text, line)) << text;
}

TEST(logging, many_loggers_with_equal_ids_coexist) {
  auto a = make_node_logger("AAAAAA", spdlog::level::info);
  auto b = make_node_logger("AAAAAA", spdlog::level::debug);
  auto c = make_node_logger("BBBBBB", spdlog::level::off);
  EXPECT_NE(a, b);
  EXPECT_EQ(a->level(), spdlog::level::info);
  EXPECT_EQ(b->level(), spdlog::level::debug);
  // Nothing went into spdlog's global registry.
  EXPECT_EQ(spdlog::get("AAAAAA"), nullptr);
  EXPECT_EQ(spdlog::get("BBBBBB"), nullptr);
}

TEST(logging, stderr_logger_writes_to_stderr) {
  ::testing::internal::CaptureStderr();
  {
    auto log = make_node_logger("xYz123", spdlog::level::info);
    log->info("hello from a node");
    log->flush();
  }
  auto text = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(text.find("[xYz123] [info] hello from a node"), std::string::npos)
      << text;
}

} // namespace
} // namespace colony
