#include "runtime/ping_client.hpp"
#include "tests/integration/test_nodes.hpp"

#include <csignal>

using namespace colony;
using namespace colony::apps;
using namespace colony::testing;
using namespace std::chrono_literals;

TEST(run_command, config_errors_exit_2_with_file_and_line) {
  temp_dir dir;
  auto cfg = dir.file("bad.toml");
  std::ofstream(cfg) << "[node]\nlisten = \"127.0.0.1:0\"\nlisten_port = 5\n";
  auto [rc, out] = run_colony(dir, {"run", cfg});
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find(cfg + ":3"), std::string::npos) << out;
  std::ofstream(cfg) << "[node]\nlisten = \"127.0.0.1:70000\"\n";
  std::tie(rc, out) = run_colony(dir, {"run", cfg});
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find(cfg + ":2"), std::string::npos) << out;
  std::ofstream(cfg) << "[node\nlisten = 1\n";
  std::tie(rc, out) = run_colony(dir, {"run", cfg});
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find(cfg + ":1"), std::string::npos) << out;
  std::ofstream(cfg) << "[node]\nswarm_id = 5\n";
  std::tie(rc, out) = run_colony(dir, {"run", cfg});
  EXPECT_EQ(rc, 2) << out;
  std::ofstream(cfg) << "";
  std::tie(rc, out) =
      run_colony(dir, {"run", cfg, "--set", "transport.no_such_key=1"});
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("no_such_key"), std::string::npos) << out;
}

TEST(run_command, prints_address_writes_file_and_stops_cleanly_on_sigterm) {
  temp_dir dir;
  for (int sig : {SIGTERM, SIGINT}) {
    auto n = node_process::start(dir, "node", "[node]\nswarm_id = \"test\"\n");
    ASSERT_TRUE(n);
    auto client = start_node(test_config());
    ASSERT_TRUE(client);
    EXPECT_TRUE(
        ping_once(client->system(), client->transport(), n->address, 0, 5s));
    n->proc.signal(sig);
    EXPECT_EQ(n->proc.wait_for(10s), 0);
    EXPECT_NE(n->log().find("listening on " + n->address), std::string::npos);
  }
}

TEST(run_command, identity_file_keeps_the_peer_id_across_restarts) {
  temp_dir dir;
  auto toml = "[node]\nswarm_id = \"test\"\nidentity_path = \"" +
              dir.file("id.key") + "\"\n";
  std::string first_id;
  for (int round = 0; round < 2; ++round) {
    auto n = node_process::start(dir, "node", toml);
    ASSERT_TRUE(n);
    auto client = start_node(test_config());
    auto res =
        ping_once(client->system(), client->transport(), n->address, 0, 5s);
    ASSERT_TRUE(res);
    if (round == 0)
      first_id = res->peer_id;
    else
      EXPECT_EQ(res->peer_id, first_id);
  }
}

TEST(run_command, ping_command_reports_round_trips) {
  temp_dir dir;
  auto n = node_process::start(dir, "node", "");
  ASSERT_TRUE(n);
  auto [rc, out] = run_colony(
      dir, {"ping", n->address, "--count", "3", "--interval", "0", "--json"});
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("\"received\":3"), std::string::npos) << out;
  std::tie(rc, out) = run_colony(dir, {"ping", "127.0.0.1:1", "--count", "1"});
  EXPECT_EQ(rc, 1) << out;
}
