#include "tests/integration/test_nodes.hpp"
#include "tests/support/json_check.hpp"
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

TEST(dht_cli, json_output_is_valid_for_awkward_values_and_refusals_say_why) {
  temp_dir dir;
  auto addr_file = dir.file("boot.addr");
  auto boot =
      child_process::spawn({COLONY_BINARY, "dht", "--address-file", addr_file},
                           dir.file("boot.log"));
  ASSERT_TRUE(boot);
  auto addr = wait_for_file_line(addr_file, 20s);
  ASSERT_TRUE(addr);
  // Values that are not plain text: quotes and control bytes, invalid
  // UTF-8, NUL bytes.
  const std::vector<std::pair<std::string, std::string>> values = {
      {"quotes", "say \"hi\"\\\n\t\x01\x7f"},
      {"latin1", "caf\xe9 \xff\xfe"},
      {"binary", std::string("\0\x01\x02\x80\xc0", 5)},
      {"utf8", "\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87 \xe2\x9c\x93"}};
  for (auto& [key, value] : values) {
    auto file = dir.file(key + ".bin");
    std::ofstream(file, std::ios::binary) << value;
    auto [rc, out] = run_colony(dir, {"dht-store", "--initial-peers", *addr,
                                      key, "--value-file", file, "--json"});
    EXPECT_EQ(rc, 0) << out;
    EXPECT_TRUE(is_json(last_json_line(out))) << out;
    std::tie(rc, out) =
        run_colony(dir, {"dht-get", "--initial-peers", *addr, key, "--json"});
    EXPECT_EQ(rc, 0) << out;
    auto line = last_json_line(out);
    EXPECT_TRUE(is_json(line)) << out;
    bool text = key == "quotes" || key == "utf8";
    EXPECT_EQ(line.find("\"value_base64\":") != std::string::npos, !text)
        << line;
  }
  // The exact bytes of a binary value, in base64.
  auto [rc, out] = run_colony(
      dir, {"dht-get", "--initial-peers", *addr, "binary", "--json"});
  EXPECT_NE(out.find("\"value_base64\":\"AAECgMA=\""), std::string::npos)
      << out;
  // A dictionary with an awkward subkey.
  std::tie(rc, out) =
      run_colony(dir, {"dht-store", "--initial-peers", *addr, "dict", "v",
                       "--subkey", "sub\"key\x01"});
  EXPECT_EQ(rc, 0) << out;
  std::tie(rc, out) =
      run_colony(dir, {"dht-get", "--initial-peers", *addr, "dict", "--json"});
  EXPECT_EQ(rc, 0) << out;
  EXPECT_TRUE(is_json(last_json_line(out))) << out;
  // Expirations beyond the horizon fail with the reason, as JSON too.
  std::tie(rc, out) = run_colony(dir, {"dht-store", "--initial-peers", *addr,
                                       "far", "x", "--expiration", "1e8"});
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("refused: expiration_too_far"), std::string::npos) << out;
  std::tie(rc, out) =
      run_colony(dir, {"dht-store", "--initial-peers", *addr, "far", "x",
                       "--expiration", "1e8", "--json"});
  EXPECT_EQ(rc, 1) << out;
  auto line = last_json_line(out);
  EXPECT_TRUE(is_json(line)) << out;
  EXPECT_NE(line.find("\"stored\":false"), std::string::npos) << line;
  // An infinite expiration never reaches a node.
  std::tie(rc, out) = run_colony(dir, {"dht-store", "--initial-peers", *addr,
                                       "forever", "x", "--expiration", "inf"});
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(out.find("--expiration"), std::string::npos) << out;
  std::tie(rc, out) =
      run_colony(dir, {"dht-get", "--initial-peers", *addr, "far"});
  EXPECT_EQ(rc, 1) << out;
}
