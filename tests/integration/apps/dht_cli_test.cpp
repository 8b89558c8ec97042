#include "tests/integration/test_nodes.hpp"
#include "tests/support/wait_until.hpp"

#include <fstream>
#include <iterator>
#include <string>

using namespace colony;
using namespace colony::apps;
using namespace colony::testing;
using namespace std::chrono_literals;

TEST(dht_cli, store_get_and_experts_through_running_dht_nodes) {
  temp_dir dir;
  auto addr_file = dir.file("boot.addr");
  auto boot = child_process::spawn({COLONY_BINARY, "dht", "--address-file",
                                    addr_file, "--refresh-period", "1"},
                                   dir.file("boot.log"));
  ASSERT_TRUE(boot);
  auto addr = wait_for_file_line(addr_file, 20s);
  ASSERT_TRUE(addr);
  auto second_file = dir.file("second.addr");
  auto second = child_process::spawn({COLONY_BINARY, "dht", "--initial-peers",
                                      *addr, "--address-file", second_file},
                                     dir.file("second.log"));
  ASSERT_TRUE(second);
  ASSERT_TRUE(wait_for_file_line(second_file, 20s));
  auto [rc, out] =
      run_colony(dir, {"dht-store", "--initial-peers", *addr, "greeting",
                       "hello world", "--expiration", "30"});
  EXPECT_EQ(rc, 0) << out;
  std::tie(rc, out) = run_colony(
      dir, {"dht-get", "--initial-peers", *addr, "greeting", "--json"});
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("\"value\":\"hello world\""), std::string::npos) << out;
  std::tie(rc, out) =
      run_colony(dir, {"dht-get", "--initial-peers", *addr, "nothing-here"});
  EXPECT_EQ(rc, 1) << out;
  std::tie(rc, out) = run_colony(dir, {"dht-store", "--initial-peers", *addr,
                                       "ffn.", "x", "--subkey", "0"});
  EXPECT_EQ(rc, 0) << out; // a malformed expert record: listed as nothing
  std::tie(rc, out) =
      run_colony(dir, {"experts", "--initial-peers", *addr, "ffn.", "--json"});
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("[]"), std::string::npos) << out;
  std::tie(rc, out) =
      run_colony(dir, {"experts", "--initial-peers", *addr, "not a prefix"});
  EXPECT_EQ(rc, 2) << out;
  std::tie(rc, out) = run_colony(
      dir, {"dht-get", "--initial-peers", "127.0.0.1:1", "greeting"});
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("initial peers answered"), std::string::npos) << out;
  // The node reports its routing table and stored keys periodically.
  std::string log;
  EXPECT_TRUE(eventually("the boot node reports its routing table", 10s, [&] {
    std::ifstream in(dir.file("boot.log"));
    log.assign(std::istreambuf_iterator<char>(in), {});
    return log.find("routing table: 1 peers") != std::string::npos;
  })) << log;
}
