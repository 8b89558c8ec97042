// The short form of every shipped fault scenario, run as a user runs it:
// `colony harness configs/harness/short/NAME.toml`. Each must pass its
// invariants, apply every fault it lists, and write its report and plot.

#include "apps/child_process.hpp"
#include "apps/harness_scenario.hpp"
#include "messages/error.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <unistd.h>

using namespace colony;
using namespace std::chrono_literals;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), {}};
}

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + 1))
    ++n;
  return n;
}

/// Runs one short scenario; its output stays in a scratch directory that
/// is removed unless the test failed.
void run_scenario(const std::string& name) {
  auto source = std::filesystem::path{COLONY_SOURCE_DIR} / "configs" /
                "harness" / "short" / (name + ".toml");
  auto scenario = load_harness_scenario(source.string());
  ASSERT_TRUE(scenario) << error_reason(scenario.error());
  auto out = std::filesystem::temp_directory_path() /
             ("colony-harness-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(out);
  std::filesystem::create_directories(out);
  auto log = (out / "harness-output.txt").string();
  auto proc = child_process::spawn(
      {COLONY_BINARY, "harness", source.string(), "--out", out.string()}, log);
  ASSERT_TRUE(proc) << describe(proc.error());
  // Start-up, the scenario's duration, the final evaluation: bounded.
  auto bound =
      std::chrono::seconds(static_cast<int64_t>(scenario->duration_s) + 120);
  auto status = proc->wait_for(bound);
  if (status < 0)
    status = proc->stop(10s); // SIGTERM: the harness stops its swarm
  auto output = read_file(log);
  EXPECT_EQ(status, 0) << output;
  auto report = read_file((out / "report.json").string());
  ASSERT_FALSE(report.empty()) << output;
  EXPECT_NE(report.find("\"passed\": true"), std::string::npos) << output;
  // Every fault of the scenario fired and worked.
  EXPECT_EQ(count_of(report, "\"action\": "), scenario->faults.size())
      << output;
  EXPECT_EQ(count_of(report, "\"ok\": false"), 0u) << output;
  EXPECT_EQ(count_of(report, "\"holds\": true"), scenario->invariants.size())
      << output;
  EXPECT_NE(output.find("PASSED"), std::string::npos) << output;
  if (std::filesystem::exists("/usr/bin/gnuplot"))
    EXPECT_TRUE(std::filesystem::exists(out / "harness.png")) << output;
  if (!::testing::Test::HasFailure())
    std::filesystem::remove_all(out);
  else
    std::printf("harness output kept in %s\n", out.c_str());
}

} // namespace

TEST(harness, expert_churn) {
  run_scenario("expert-churn");
}

TEST(harness, dht_churn) {
  run_scenario("dht-churn");
}

TEST(harness, stragglers) {
  run_scenario("stragglers");
}

TEST(harness, bad_peers) {
  run_scenario("bad-peers");
}

TEST(harness, partition) {
  run_scenario("partition");
}

TEST(harness, soak) {
  run_scenario("soak");
}
