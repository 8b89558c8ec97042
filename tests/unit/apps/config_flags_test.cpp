#include "apps/cli/checked_options.hpp"
#include "apps/cli/commands.hpp"
#include "apps/cli/config_flags.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace colony::apps {
namespace {

using namespace std::chrono_literals;
using strings = std::vector<std::string>;

const std::vector<config_flag> flags_under_test = {
    {"--listen", "node.listen", "address"},
    {"--initial-peers", "node.initial_peers", "peers", true},
    {"--wait-timeout", "dht.wait_timeout", "seconds"},
    {"--swarm-id", "node.swarm_id", "swarm"},
};

/// Parses `args` (without the program name) with the flags under test and
/// an optional positional `key`.
struct parsed_command {
  CLI::App app;
  config_flags flags;
  std::string key;

  explicit parsed_command(strings args, bool greedy = false) {
    flags.add(&app, flags_under_test, greedy);
    app.add_option("key", key);
    std::vector<const char*> argv{"colony"};
    for (const auto& a : args)
      argv.push_back(a.c_str());
    app.parse(static_cast<int>(argv.size()), argv.data());
  }
};

/// Loads a config from the flags; returns (status, stderr).
std::pair<int, std::string> load(const parsed_command& cmd, node_config& out,
                                 strings fixed = {}) {
  command_config_sources sources;
  sources.flags = &cmd.flags;
  sources.fixed = std::move(fixed);
  ::testing::internal::CaptureStderr();
  int rc = load_command_config(sources, out);
  return {rc, ::testing::internal::GetCapturedStderr()};
}

TEST(config_flags, flags_become_overrides_of_their_keys) {
  parsed_command cmd{{"--listen", "127.0.0.1:5000", "--initial-peers",
                      "a:1,b:2", "--initial-peers", "c:3", "--wait-timeout",
                      "2.5", "--swarm-id", "2024", "the-key"}};
  EXPECT_EQ(cmd.key, "the-key");
  EXPECT_EQ(cmd.flags.overrides(),
            (strings{"node.listen=127.0.0.1:5000",
                     "node.initial_peers=[\"a:1\", \"b:2\", \"c:3\"]",
                     "dht.wait_timeout=2.5", "node.swarm_id=2024"}));
  node_config cfg;
  auto [rc, err] = load(cmd, cfg, {"node.client_mode=true"});
  EXPECT_EQ(rc, 0) << err;
  EXPECT_EQ(cfg.listen, "127.0.0.1:5000");
  EXPECT_EQ(cfg.initial_peers, (strings{"a:1", "b:2", "c:3"}));
  EXPECT_EQ(cfg.dht.wait_timeout, 2500ms);
  EXPECT_EQ(cfg.swarm_id, "2024");
  EXPECT_TRUE(cfg.client_mode);
}

TEST(config_flags, flags_not_given_leave_the_defaults) {
  parsed_command cmd{{}};
  EXPECT_TRUE(cmd.flags.overrides().empty());
  node_config cfg;
  auto [rc, err] = load(cmd, cfg);
  EXPECT_EQ(rc, 0) << err;
  EXPECT_EQ(cfg.swarm_id, node_config{}.swarm_id);
}

TEST(config_flags, a_repeated_flag_keeps_its_last_value) {
  parsed_command cmd{{"--listen", "a:1", "--listen", "b:2", "key"}};
  EXPECT_EQ(cmd.flags.overrides(), (strings{"node.listen=b:2"}));
  EXPECT_EQ(cmd.key, "key");
}

TEST(config_flags, list_values_are_escaped_as_toml_strings) {
  parsed_command cmd{{"--initial-peers", "we\"ird\\name:1"}};
  EXPECT_EQ(cmd.flags.overrides(),
            (strings{"node.initial_peers=[\"we\\\"ird\\\\name:1\"]"}));
}

TEST(config_flags, greedy_lists_take_several_arguments) {
  parsed_command greedy{{"--initial-peers", "a:1", "b:2"}, true};
  EXPECT_EQ(greedy.flags.overrides(),
            (strings{"node.initial_peers=[\"a:1\", \"b:2\"]"}));
  parsed_command one{{"--initial-peers", "a:1", "key"}};
  EXPECT_EQ(one.key, "key");
}

TEST(config_flags, a_bad_flag_is_a_usage_error_that_names_the_flag) {
  node_config cfg;
  parsed_command garbage{{"--initial-peers", "garbage"}};
  auto [rc, err] = load(garbage, cfg);
  EXPECT_EQ(rc, usage_error_status);
  EXPECT_EQ(err.rfind("--initial-peers: node.initial_peers: element 0: ", 0),
            0u)
      << err;
  for (auto bad : {"-1", "-0.5", "nan", "1e300", "0", "soon"}) {
    parsed_command timeout{{"--wait-timeout", bad}};
    auto [rc2, err2] = load(timeout, cfg);
    EXPECT_EQ(rc2, usage_error_status) << bad;
    EXPECT_EQ(err2.rfind("--wait-timeout: dht.wait_timeout: ", 0), 0u) << err2;
  }
}

TEST(config_flags, name_flags_rewrites_only_whole_keys) {
  parsed_command cmd{{}};
  EXPECT_EQ(cmd.flags.name_flags("--set node.listen: bad\n"
                                 "--set node.listen_x: other\n"
                                 "--set dht.wait_timeout: x"),
            "--listen: bad\n--set node.listen_x: other\n--wait-timeout: x");
}

TEST(config_flags, a_missing_config_file_is_a_usage_error) {
  command_config_sources sources;
  sources.config_path = "/nonexistent/node.toml";
  node_config cfg;
  ::testing::internal::CaptureStderr();
  int rc = load_command_config(sources, cfg);
  auto err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(rc, usage_error_status);
  EXPECT_EQ(err, "/nonexistent/node.toml: no such file\n");
}

TEST(checked_options, parameters_use_the_value_rules) {
  auto parse = [](strings args) -> std::string {
    CLI::App app;
    double period = 30;
    int64_t count = 4;
    seconds_bounds bounds;
    bounds.min = 0.1;
    add_seconds_option(&app, "--refresh-period", period, "seconds", bounds);
    add_count_option(&app, "--count", count, "pings", 1, 100);
    std::vector<const char*> argv{"colony"};
    for (const auto& a : args)
      argv.push_back(a.c_str());
    try {
      app.parse(static_cast<int>(argv.size()), argv.data());
    } catch (const CLI::ParseError& e) {
      return e.what();
    }
    return "ok " + std::to_string(period) + " " + std::to_string(count);
  };
  EXPECT_EQ(parse({"--refresh-period", "1.5", "--count", "3"}),
            "ok 1.500000 3");
  EXPECT_EQ(parse({"--refresh-period", "-1"}),
            "--refresh-period: must be a positive number of seconds, got -1");
  EXPECT_EQ(parse({"--refresh-period", "nan"}),
            "--refresh-period: must be a positive number of seconds, got nan");
  EXPECT_EQ(parse({"--refresh-period", "1e300"}),
            "--refresh-period: must be at most 1e+09 seconds, got 1e+300");
  EXPECT_EQ(parse({"--refresh-period", "0.01"}),
            "--refresh-period: must be at least 0.1 seconds, got 0.01");
  EXPECT_EQ(parse({"--refresh-period", "soon"}),
            "--refresh-period: expected a number of seconds, got 'soon'");
  EXPECT_EQ(parse({"--count", "0"}),
            "--count: must be between 1 and 100, got 0");
  EXPECT_EQ(parse({"--count", "2.5"}),
            "--count: expected an integer, got '2.5'");
}

} // namespace
} // namespace colony::apps
