#include "tests/integration/test_nodes.hpp"

#include <regex>

using namespace colony;
using namespace colony::testing;
using namespace std::chrono_literals;

namespace {

/// The config of a `colony average` node of prefix `t`, joining `peer` if
/// given.
std::string averager_toml(uint64_t seed, const std::string& peer = "") {
  std::string toml = "[node]\nswarm_id = \"test\"\n";
  if (!peer.empty())
    toml += "initial_peers = [\"" + peer + "\"]\n";
  toml += "[dht]\nenabled = true\n";
  toml += "[[averagers]]\nprefix = \"t\"\ntarget_group_size = 2\n"
          "min_matchmaking_time = 1\nfloats = 5000\ntensors = 3\n"
          "step_timeout = 20\nseed = " +
          std::to_string(seed) + "\n";
  return toml;
}

std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);)
    if (!line.empty())
      out.push_back(line);
  return out;
}

double number_after(const std::string& line, const std::string& key) {
  std::smatch m;
  std::regex re("\"" + key + "\":(-?[0-9.eE+-]+)");
  if (!std::regex_search(line, m, re))
    return std::nan("");
  return std::stod(m[1]);
}

} // namespace

TEST(average_command, two_nodes_average_their_tensors_step_by_step) {
  temp_dir dir;
  auto first_cfg = dir.file("a.toml");
  std::ofstream(first_cfg) << averager_toml(1);
  auto addr_file = dir.file("a.addr");
  auto first = apps::child_process::spawn(
      {COLONY_BINARY, "average", first_cfg, "--steps", "2", "--report",
       dir.file("a.jsonl"), "--address-file", addr_file},
      dir.file("a.log"));
  ASSERT_TRUE(first);
  auto addr = apps::wait_for_file_line(addr_file, 20s);
  ASSERT_TRUE(addr);
  auto second_cfg = dir.file("b.toml");
  std::ofstream(second_cfg) << averager_toml(2, *addr);
  auto [rc, out] = run_colony(dir, {"average", second_cfg, "--steps", "2",
                                    "--report", dir.file("b.jsonl")});
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(first->wait_for(30s), 0);
  auto a = lines_of(dir.file("a.jsonl"));
  auto b = lines_of(dir.file("b.jsonl"));
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(b.size(), 2u);
  for (size_t step = 0; step < 2; ++step) {
    for (const auto& line : {a[step], b[step]}) {
      EXPECT_NE(line.find("\"ok\":true"), std::string::npos) << line;
      EXPECT_NE(line.find("\"group_size\":2"), std::string::npos) << line;
      EXPECT_GT(number_after(line, "bytes_sent"), 0) << line;
    }
    // After a step both hold the same tensors: their sums agree.
    auto sa = number_after(a[step], "sum");
    auto sb = number_after(b[step], "sum");
    EXPECT_NEAR(sa, sb, 1e-6 * (1 + std::abs(sa))) << a[step] << b[step];
  }
}

TEST(average_command, alone_it_reports_each_failed_step_and_exits_1) {
  temp_dir dir;
  auto cfg = dir.file("a.toml");
  std::ofstream(cfg) << averager_toml(1);
  auto [rc, out] = run_colony(dir, {"average", cfg, "--steps", "1", "--set",
                                    "averagers.step_timeout=2"});
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("\"ok\":false"), std::string::npos) << out;
  EXPECT_NE(out.find("\"prefix\":\"t\""), std::string::npos) << out;
}

TEST(average_command, usage_errors_exit_2) {
  temp_dir dir;
  auto cfg = dir.file("a.toml");
  std::ofstream(cfg) << "[node]\nswarm_id = \"test\"\n";
  auto [rc, out] = run_colony(dir, {"average", cfg});
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("no [[averagers]] to average"), std::string::npos) << out;
  std::ofstream(cfg) << averager_toml(1) << "averaging_alpha = 0\n";
  std::tie(rc, out) = run_colony(dir, {"average", cfg});
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find(cfg), std::string::npos) << out;
  EXPECT_NE(out.find("averaging_alpha"), std::string::npos) << out;
}

TEST(average_command, a_run_node_hosts_averagers_that_step_by_themselves) {
  temp_dir dir;
  auto toml = averager_toml(1) + "average_period = 1\n";
  auto n = node_process::start(dir, "host", toml);
  ASSERT_TRUE(n);
  auto cfg = dir.file("b.toml");
  std::ofstream(cfg) << averager_toml(2, n->address);
  auto [rc, out] = run_colony(dir, {"average", cfg, "--steps", "1"});
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("\"group_size\":2"), std::string::npos) << out;
  EXPECT_TRUE(wait_until(10s, [&] {
    return n->log().find("averaged with") != std::string::npos;
  })) << n->log();
}
