// The short form of every shipped fault scenario, run as a user runs it:
// `colony harness configs/harness/short/NAME.toml`. Each must pass its
// invariants, apply every fault it lists, and write its report and plot.

#include "apps/harness/harness_scenario.hpp"
#include "apps/node/node.hpp"
#include "apps/swarm/child_process.hpp"
#include "messages/error.hpp"
#include "runtime/ping_client.hpp"
#include "tests/support/required_package.hpp"
#include "tests/support/wait_until.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <unistd.h>

using namespace colony;
using namespace colony::apps;
using namespace std::chrono_literals;
using colony::testing::eventually;
using colony::testing::gnuplot_installed;

namespace {

std::string read_file(const std::filesystem::path& path) {
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
/// is removed unless the test failed. `plotted`: the swarm has trainers,
/// whose learning curves the harness plots.
void run_scenario(const std::string& name, bool plotted = true) {
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
  if (plotted) {
    EXPECT_TRUE(gnuplot_installed());
    EXPECT_TRUE(std::filesystem::exists(out / "harness.png")) << output;
  }
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

TEST(harness, averaging_churn) {
  run_scenario("averaging-churn", /*plotted=*/false);
}

TEST(harness, collaborative_churn) {
  run_scenario("collaborative-churn");
}

TEST(harness, an_interrupt_stops_every_process_it_started) {
  auto source = std::filesystem::path{COLONY_SOURCE_DIR} / "configs" /
                "harness" / "short" / "expert-churn.toml";
  auto out = std::filesystem::temp_directory_path() /
             ("colony-harness-interrupt-" + std::to_string(::getpid()));
  std::filesystem::remove_all(out);
  std::filesystem::create_directories(out);
  auto log = (out / "harness-output.txt").string();
  auto proc = child_process::spawn(
      {COLONY_BINARY, "harness", source.string(), "--out", out.string()}, log);
  ASSERT_TRUE(proc);
  // Wait until the whole swarm is up, then interrupt as Ctrl-C would.
  auto swarm_up = [&] {
    return read_file(log).find("swarm up") != std::string::npos;
  };
  ASSERT_TRUE(eventually(
      "the harness reports its swarm up", 120s,
      [&] { return swarm_up() || proc->wait_for(0ms) >= 0; }, 100ms))
      << read_file(log);
  ASSERT_TRUE(swarm_up()) << "the harness ended first:\n" << read_file(log);
  std::vector<std::string> addresses;
  for (const auto& entry : std::filesystem::directory_iterator(out))
    if (entry.path().extension() == ".addr") {
      std::ifstream in(entry.path());
      std::string line;
      std::getline(in, line);
      if (!line.empty())
        addresses.push_back(line);
    }
  EXPECT_EQ(addresses.size(), 6u); // dht, 4 servers, the trainer
  proc->signal(SIGINT);
  auto status = proc->wait_for(60s);
  EXPECT_EQ(status, 130) << read_file(log);
  EXPECT_NE(read_file(out / "report.json").find("\"interrupted\": true"),
            std::string::npos);
  // Nobody answers at any of the swarm's addresses any more.
  node_config cfg;
  cfg.client_mode = true;
  cfg.log_level = "off";
  auto n = node::start(cfg);
  ASSERT_TRUE(n);
  for (const auto& address : addresses) {
    auto rtt = ping_once((*n)->system(), (*n)->transport(), address, 0, 2s);
    EXPECT_FALSE(rtt) << address << " still answers";
  }
  std::filesystem::remove_all(out);
}

TEST(harness, a_bad_scenario_is_refused_before_anything_starts) {
  auto out = std::filesystem::temp_directory_path() /
             ("colony-harness-bad-" + std::to_string(::getpid()));
  std::filesystem::create_directories(out);
  auto scenario = (out / "bad.toml").string();
  std::ofstream(scenario) << "[[nodes]]\nrole = \"dht\"\nconfig = "
                             "\"nowhere.toml\"\n[[faults]]\naction = "
                             "\"explode\"\ntarget = \"dht\"\nat = 1\n";
  auto log = (out / "output.txt").string();
  auto proc = child_process::spawn({COLONY_BINARY, "harness", scenario}, log);
  ASSERT_TRUE(proc);
  EXPECT_EQ(proc->wait_for(30s), 2);
  auto text = read_file(log);
  EXPECT_NE(text.find("bad.toml:5:10: faults.action"), std::string::npos)
      << text;
  std::filesystem::remove_all(out);
}
