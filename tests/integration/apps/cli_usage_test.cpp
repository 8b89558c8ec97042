// Usage errors of the `colony` commands: a bad flag, value or config file
// exits with status 2 and a one-line reason naming the flag or file, before
// any node listens. Each test runs the binary as a process.

#include "tests/integration/test_nodes.hpp"

#include <csignal>

using namespace colony;
using namespace colony::apps;
using namespace colony::testing;
using namespace std::chrono_literals;

namespace {

bool contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

/// Runs `colony ARGS` and expects a usage error: status 2, `reason` in the
/// output, and no node started.
void expect_usage_error(const std::vector<std::string>& args,
                        const std::string& reason) {
  temp_dir dir;
  auto [rc, out] = run_colony(dir, args);
  std::string command;
  for (const auto& a : args)
    command += a + " ";
  EXPECT_EQ(rc, 2) << command << "\n" << out;
  EXPECT_TRUE(contains(out, reason)) << command << "\n" << out;
  EXPECT_FALSE(contains(out, "listening on")) << command << "\n" << out;
}

} // namespace

TEST(cli_usage, dht_refuses_refresh_periods_no_timer_can_use) {
  expect_usage_error({"dht", "--refresh-period", "-1"},
                     "--refresh-period: must be a positive number of "
                     "seconds, got -1");
  expect_usage_error({"dht", "--refresh-period", "-0.5"},
                     "--refresh-period: must be a positive number of "
                     "seconds, got -0.5");
  expect_usage_error({"dht", "--refresh-period", "nan"},
                     "--refresh-period: must be a positive number of "
                     "seconds, got nan");
  expect_usage_error({"dht", "--refresh-period", "1e300"},
                     "--refresh-period: must be at most 1e+09 seconds");
  expect_usage_error({"dht", "--refresh-period", "0"},
                     "--refresh-period: must be a positive number of "
                     "seconds, got 0");
  expect_usage_error({"dht", "--refresh-period", "0.01"},
                     "--refresh-period: must be at least 0.1 seconds");
  expect_usage_error({"dht", "--refresh-period", "often"},
                     "--refresh-period: expected a number of seconds");
}

TEST(cli_usage, dht_with_a_short_refresh_period_reports_and_stops_on_sigterm) {
  temp_dir dir;
  auto addr_file = dir.file("dht.addr");
  auto log = dir.file("dht.log");
  auto proc = child_process::spawn({COLONY_BINARY, "dht", "--address-file",
                                    addr_file, "--refresh-period", "0.1"},
                                   log);
  ASSERT_TRUE(proc);
  ASSERT_TRUE(wait_for_file_line(addr_file, 20s));
  // A status line shows the loop runs; then SIGTERM ends it.
  auto deadline = std::chrono::steady_clock::now() + 20s;
  bool reported = false;
  while (!reported && std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(log);
    std::string text((std::istreambuf_iterator<char>(in)), {});
    reported = contains(text, "routing table:");
    if (!reported)
      std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(reported) << tail_of_file(log);
  proc->signal(SIGTERM);
  EXPECT_EQ(proc->wait_for(10s), 0) << tail_of_file(log);
}

TEST(cli_usage, missing_or_directory_config_files_exit_2_with_the_path) {
  temp_dir dir;
  auto missing = dir.file("missing.toml");
  expect_usage_error({"run", missing}, missing + ": no such file");
  expect_usage_error({"run", dir.path.string()},
                     dir.path.string() + ": is a directory, not a config file");
  expect_usage_error({"dht", "--config", missing}, missing + ": no such file");
  expect_usage_error({"server", "--config", missing, "--expert-uids", "ffn.0"},
                     missing + ": no such file");
  expect_usage_error({"train", missing}, missing + ": no such file");
  expect_usage_error({"swarm", missing}, missing + ": no such file");
  expect_usage_error({"swarm", dir.path.string()},
                     dir.path.string() + ": is a directory");
  expect_usage_error({"harness", missing}, missing + ": no such file");
}

TEST(cli_usage, bad_initial_peers_are_refused_before_listening) {
  expect_usage_error({"dht", "--initial-peers", "garbage"},
                     "--initial-peers: node.initial_peers: element 0: bad "
                     "address 'garbage'");
  expect_usage_error({"dht", "--initial-peers", "127.0.0.1:0"},
                     "--initial-peers: node.initial_peers: element 0: bad "
                     "address '127.0.0.1:0': port 0 cannot be dialed");
  expect_usage_error({"dht-get", "--initial-peers", "garbage", "key"},
                     "--initial-peers: node.initial_peers: element 0");
  expect_usage_error({"dht", "--listen", "127.0.0.1:70000"},
                     "--listen: node.listen: bad address '127.0.0.1:70000'");
}

TEST(cli_usage, dht_client_flags_are_checked_like_their_keys) {
  expect_usage_error(
      {"dht-get", "--initial-peers", "127.0.0.1:1", "--wait-timeout", "-1",
       "key"},
      "--wait-timeout: dht.wait_timeout: must be a positive number of "
      "seconds, got -1");
  expect_usage_error({"dht-store", "--initial-peers", "127.0.0.1:1",
                      "--swarm-id", "", "key", "value"},
                     "--swarm-id: node.swarm_id: must not be empty");
  expect_usage_error({"experts", "--initial-peers", "127.0.0.1:1", "ffn"},
                     "'ffn' is not an expert prefix");
}

TEST(cli_usage, dht_store_says_why_an_expiration_is_refused) {
  expect_usage_error({"dht-store", "--initial-peers", "127.0.0.1:1", "key",
                      "value", "--expiration", "-100"},
                     "--expiration: must be a positive number of seconds, "
                     "got -100");
  expect_usage_error({"dht-store", "--initial-peers", "127.0.0.1:1", "key"},
                     "no value: give it as an argument, or with --value-file");
  expect_usage_error({"dht-store", "--initial-peers", "127.0.0.1:1", "key",
                      "--value-file", "/nonexistent/value"},
                     "/nonexistent/value: no such file");
}

TEST(cli_usage, server_refuses_unknown_classes_and_too_many_experts) {
  expect_usage_error(
      {"server", "--expert-uids", "ffn.0", "--expert-cls", "nosuch"},
      "--expert-cls: experts.expert_cls: unknown expert class "
      "'nosuch'");
  expect_usage_error(
      {"server", "--expert-pattern", "ffn.[0:4]", "--num-experts", "100"},
      "--num-experts: [[experts]] #1: num_experts (100) is "
      "more than the 4 uids of expert_pattern ffn.[0:4]");
  expect_usage_error(
      {"server", "--expert-uids", "ffn.0", "--update-period", "nan"},
      "--update-period: experts.update_period: must be a "
      "positive number of seconds, got nan");
}

TEST(cli_usage, run_refuses_the_same_values_in_a_config_file) {
  temp_dir dir;
  auto cfg = dir.file("node.toml");
  std::ofstream(cfg) << "[[experts]]\nexpert_uids = [\"ffn.0\"]\n"
                        "expert_cls = \"nosuch\"\n";
  expect_usage_error({"run", cfg}, cfg + ":3:14: experts.expert_cls: unknown "
                                         "expert class 'nosuch'");
  expect_usage_error({"run", cfg, "--set", "dht.refresh_period=-1"},
                     "--set dht.refresh_period: dht.refresh_period: must be "
                     "a positive number of seconds, got -1");
}

TEST(cli_usage, train_refuses_an_auxiliary_peer_and_names_colony_run) {
  temp_dir dir;
  auto cfg = dir.file("aux.toml");
  std::ofstream(cfg) << "[dht]\nenabled = true\n[trainer]\ncollaborative = "
                        "true\nrun_id = \"r\"\ntarget_batch_size = 64\n"
                        "auxiliary = true\n";
  expect_usage_error({"train", cfg},
                     "trainer.auxiliary: an auxiliary peer trains nothing; "
                     "start it with `colony run " +
                         cfg + "`");
}

TEST(cli_usage, ping_checks_its_address_and_numbers) {
  expect_usage_error({"ping", "garbage"}, "bad address 'garbage'");
  expect_usage_error({"ping", "127.0.0.1:1", "--count", "0"},
                     "--count: must be between 1 and 1000000, got 0");
  expect_usage_error({"ping", "127.0.0.1:1", "--interval", "-1"},
                     "--interval: must be a positive number of seconds or 0, "
                     "got -1");
  expect_usage_error({"ping", "127.0.0.1:1", "--timeout", "nan"},
                     "--timeout: must be a positive number of seconds, got "
                     "nan");
  expect_usage_error({"ping", "127.0.0.1:1", "--swarm-id", ""},
                     "--swarm-id: node.swarm_id: must not be empty");
}

TEST(cli_usage, unknown_flags_are_usage_errors_too) {
  expect_usage_error({"dht", "--no-such-flag"}, "--no-such-flag");
  expect_usage_error({"dht-get"}, "key is required");
}

TEST(cli_usage, dht_store_reads_the_value_from_a_file_or_standard_input) {
  temp_dir dir;
  auto addr_file = dir.file("boot.addr");
  // Values beyond the default 8 KiB need nodes that take them, the
  // client's own included (it checks before storing and when reading).
  const std::string big_values = "dht.max_value_bytes=262144";
  auto boot = child_process::spawn(
      {COLONY_BINARY, "dht", "--address-file", addr_file, "--set", big_values},
      dir.file("boot.log"));
  ASSERT_TRUE(boot);
  auto addr = wait_for_file_line(addr_file, 20s);
  ASSERT_TRUE(addr);
  // Larger than any argument can be.
  std::string big(200 * 1024, 'v');
  big += "end";
  auto value_file = dir.file("value.bin");
  std::ofstream(value_file, std::ios::binary) << big;
  auto [rc, out] =
      run_colony(dir, {"dht-store", "--initial-peers", *addr, "big",
                       "--value-file", value_file, "--set", big_values});
  EXPECT_EQ(rc, 0) << out;
  std::tie(rc, out) = run_colony(dir, {"dht-get", "--initial-peers", *addr,
                                       "big", "--json", "--set", big_values});
  EXPECT_EQ(rc, 0);
  EXPECT_TRUE(contains(out, "\"value\":\"" + big + "\"")) << out.size();
  // Standard input, through a shell pipe.
  auto log = dir.file("stdin-store.log");
  auto piped = child_process::spawn(
      {"/bin/sh", "-c",
       "printf 'from stdin' | '" + std::string{COLONY_BINARY} +
           "' dht-store --initial-peers " + *addr + " piped --value-file -"},
      log);
  ASSERT_TRUE(piped);
  EXPECT_EQ(piped->wait_for(60s), 0) << tail_of_file(log);
  std::tie(rc, out) =
      run_colony(dir, {"dht-get", "--initial-peers", *addr, "piped", "--json"});
  EXPECT_EQ(rc, 0) << out;
  EXPECT_TRUE(contains(out, "\"value\":\"from stdin\"")) << out;
}
