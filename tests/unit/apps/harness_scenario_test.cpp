// Fault-injection scenarios: parsing, the shipped files, and their errors.

#include "apps/harness/harness_scenario.hpp"
#include "messages/error.hpp"

#include <gtest/gtest.h>

#include <filesystem>

using namespace colony;
using namespace colony::apps;

namespace {

const char* swarm_part = R"(
[[nodes]]
role = "dht"
config = "dht.toml"
count = 2

[[nodes]]
role = "server"
config = "server.toml"
count = 4

[[nodes]]
role = "trainer"
config = "trainer.toml"
)";

std::string error_of(const std::string& text) {
  auto s = parse_harness_scenario(text, "s.toml", "/base");
  if (s)
    return "parsed";
  EXPECT_TRUE(is_error(s.error(), errc::bad_config));
  return error_reason(s.error());
}

bool contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

} // namespace

TEST(harness_scenario, parses_nodes_faults_and_invariants) {
  auto s = parse_harness_scenario(std::string{R"(
[scenario]
name = "mixed"
description = "a bit of everything"
duration = 50
sample_period = 0.5
seed = 7
)"} + swarm_part + R"(
[[faults]]
at = 10
action = "kill"
target = "server"
fraction = 0.5

[[faults]]
at_step = 300
action = "delay"
target = ["server-1", "server-2"]
delay_ms = 150
jitter_ms = 50

[[faults]]
at = 20
action = "partition"
target = "trainer-1"
peers = "server"
peers_count = 2

[[faults]]
at = 30
action = "poison"
target = "server-3"
mode = "wrong_shape"
experts = ["ffn0.0.1"]

[[faults]]
at = 31
action = "garbage"
target = "dht"
kinds = ["oversized_length"]
repeat = 4

[[invariants]]
kind = "no_crash"

[[invariants]]
kind = "final_accuracy"
min = 0.8

[[invariants]]
kind = "loss_falls"
after = 12
tolerance = 0.1

[[invariants]]
kind = "accuracy_vs_baseline"
max_drop_points = 2
)",
                                  "s.toml", "/base");
  ASSERT_TRUE(s) << error_reason(s.error());
  EXPECT_EQ(s->name, "mixed");
  EXPECT_EQ(s->duration_s, 50);
  EXPECT_EQ(s->sample_period_s, 0.5);
  EXPECT_EQ(s->seed, 7u);
  ASSERT_EQ(s->swarm.nodes.size(), 3u);
  EXPECT_EQ(s->swarm.nodes[1].config, "/base/server.toml");
  ASSERT_EQ(s->faults.size(), 5u);
  const auto& kill = s->faults[0];
  EXPECT_EQ(kill.action, fault_action::kill);
  EXPECT_EQ(kill.at_s, 10.0);
  EXPECT_EQ(kill.targets.role, swarm_role::server);
  EXPECT_EQ(kill.targets.fraction, 0.5);
  const auto& delay = s->faults[1];
  EXPECT_EQ(delay.at_step, 300u);
  EXPECT_FALSE(delay.at_s);
  EXPECT_EQ(delay.targets.names,
            (std::vector<std::string>{"server-1", "server-2"}));
  EXPECT_EQ(delay.delay.count(), 150);
  EXPECT_EQ(delay.jitter.count(), 50);
  const auto& partition = s->faults[2];
  EXPECT_EQ(partition.peers.role, swarm_role::server);
  EXPECT_EQ(partition.peers.count, 2u);
  EXPECT_EQ(s->faults[3].poison_mode, "wrong_shape");
  EXPECT_EQ(s->faults[3].poison_experts,
            (std::vector<std::string>{"ffn0.0.1"}));
  EXPECT_EQ(s->faults[4].garbage_kinds,
            (std::vector<std::string>{"oversized_length"}));
  EXPECT_EQ(s->faults[4].repeat, 4u);
  ASSERT_EQ(s->invariants.size(), 4u);
  EXPECT_EQ(s->invariants[1].kind, invariant_kind::final_accuracy);
  EXPECT_EQ(s->invariants[1].threshold, 0.8);
  EXPECT_EQ(s->invariants[2].after_s, 12.0);
  EXPECT_EQ(s->invariants[2].tolerance, 0.1);
  EXPECT_TRUE(s->needs_baseline());
  EXPECT_TRUE(contains(s->faults[0].origin, "s.toml:"));
}

TEST(harness_scenario, member_names_follow_start_order) {
  auto s = parse_harness_scenario(swarm_part, "s.toml", "/base");
  ASSERT_TRUE(s);
  EXPECT_EQ(member_names(s->swarm),
            (std::vector<std::string>{"dht-1", "dht-2", "server-1", "server-2",
                                      "server-3", "server-4", "trainer-1"}));
  // Without [scenario] the name is the file's stem and defaults hold.
  EXPECT_EQ(s->name, "s");
  EXPECT_FALSE(s->needs_baseline());
}

TEST(harness_scenario, reports_every_problem_with_its_place) {
  auto text =
      std::string{"[scenario]\nduration = -3\ncolour = 1\n"} + swarm_part + R"(
[[faults]]
action = "explode"
target = "server"

[[faults]]
at = 5
action = "kill"
target = "server-9"

[[faults]]
at = 5
at_step = 10
action = "drop"
target = "server"
drop_rate = 1.5

[[faults]]
at = 5
action = "partition"
target = "trainer-1"

[[faults]]
at = 5
action = "garbage"
target = "dht"
kinds = ["cake"]

[[invariants]]
kind = "final_accuracy"

[[invariants]]
kind = "dht_get_success"
min = 95

[[invariants]]
kind = "happiness"
)";
  auto error = error_of(text);
  EXPECT_TRUE(contains(error, "s.toml:2:12: scenario.duration")) << error;
  EXPECT_TRUE(contains(error, "unknown key 'colour' in [scenario]")) << error;
  EXPECT_TRUE(contains(error, "faults.action: expected one of kill")) << error;
  EXPECT_TRUE(contains(error, "needs at (seconds) or at_step")) << error;
  EXPECT_TRUE(contains(error, "no node or role named 'server-9'")) << error;
  EXPECT_TRUE(contains(error, "at or at_step, not both")) << error;
  EXPECT_TRUE(contains(error, "faults.drop_rate: must be between 0 and 1, "
                              "got 1.5"))
      << error;
  EXPECT_TRUE(contains(error, "a partition needs peers")) << error;
  EXPECT_TRUE(contains(error, "unknown kind 'cake'")) << error;
  EXPECT_TRUE(contains(error, "final_accuracy needs its bound")) << error;
  EXPECT_TRUE(contains(error, "dht_get_success: min is a fraction")) << error;
  EXPECT_TRUE(contains(error, "invariants.kind: expected one of")) << error;
}

TEST(harness_scenario, bad_toml_and_bad_nodes_are_config_errors) {
  EXPECT_TRUE(contains(error_of("[scenario\nname = 1"), "s.toml:1:"));
  EXPECT_TRUE(contains(error_of("[scenario]\nname = \"x\"\n"),
                       "a swarm needs a [[nodes]] table with role = \"dht\""));
  EXPECT_TRUE(contains(error_of(std::string{swarm_part} +
                                "[[faults]]\nat = 999\naction = "
                                "\"kill\"\ntarget = \"server\"\n"),
                       "lies after the scenario's duration"));
  auto missing = load_harness_scenario("/nonexistent/scenario.toml");
  ASSERT_FALSE(missing);
  EXPECT_TRUE(is_error(missing.error(), errc::io_error));
}

TEST(harness_scenario, every_shipped_scenario_parses_in_both_forms) {
  auto dir = std::filesystem::path{COLONY_SOURCE_DIR} / "configs" / "harness";
  std::vector<std::string> names = {"expert-churn", "dht-churn", "stragglers",
                                    "bad-peers",    "partition", "soak"};
  for (const auto& name : names) {
    for (auto path :
         {dir / (name + ".toml"), dir / "short" / (name + ".toml")}) {
      auto s = load_harness_scenario(path.string());
      ASSERT_TRUE(s) << path << ": " << error_reason(s.error());
      EXPECT_FALSE(s->faults.empty()) << path;
      EXPECT_FALSE(s->invariants.empty()) << path;
      EXPECT_EQ(s->invariants.front().kind, invariant_kind::no_crash) << path;
      for (const auto& n : s->swarm.nodes)
        EXPECT_TRUE(std::filesystem::exists(n.config)) << n.config;
    }
    // Short forms fit CI: together under five minutes.
    auto short_form =
        load_harness_scenario((dir / "short" / (name + ".toml")).string());
    ASSERT_TRUE(short_form);
    EXPECT_LE(short_form->duration_s, 40) << name;
    EXPECT_FALSE(short_form->needs_baseline()) << name;
  }
  auto bad_peers =
      load_harness_scenario((dir / "short/bad-peers.toml").string());
  ASSERT_TRUE(bad_peers);
  EXPECT_EQ(bad_peers->faults.size(), 5u);
}

TEST(harness_scenario, collaborative_churn_holds_back_its_late_joiner) {
  auto dir = std::filesystem::path{COLONY_SOURCE_DIR} / "configs" / "harness";
  for (auto [path, joiner] :
       {std::pair{dir / "collaborative-churn.toml", "trainer-5"},
        std::pair{dir / "short" / "collaborative-churn.toml", "trainer-4"}}) {
    auto s = load_harness_scenario(path.string());
    ASSERT_TRUE(s) << path << ": " << error_reason(s.error());
    EXPECT_EQ(s->held_back(), std::vector<std::string>{joiner}) << path;
    EXPECT_EQ(s->invariants.front().kind, invariant_kind::no_crash) << path;
    for (const auto& n : s->swarm.nodes)
      EXPECT_TRUE(std::filesystem::exists(n.config)) << n.config;
  }
  auto short_form = load_harness_scenario(
      (dir / "short" / "collaborative-churn.toml").string());
  ASSERT_TRUE(short_form);
  EXPECT_LE(short_form->duration_s, 60);
}

TEST(harness_scenario, a_start_names_its_nodes) {
  auto text = std::string{R"(
[[nodes]]
role = "dht"
config = "dht.toml"
[[nodes]]
role = "trainer"
config = "trainer.toml"
count = 2
[[faults]]
at = 5
action = "start"
target = "trainer"
[[invariants]]
kind = "parameters_agree"
heal_epochs = 2
tolerance = 0.001
)"};
  auto bad = parse_harness_scenario(text, "s.toml", ".");
  ASSERT_FALSE(bad);
  EXPECT_NE(error_reason(bad.error()).find("a start needs node names"),
            std::string::npos)
      << error_reason(bad.error());
  auto pos = text.find("target = \"trainer\"");
  text.replace(pos, 18, "target = \"trainer-2\"");
  auto good = parse_harness_scenario(text, "s.toml", ".");
  ASSERT_TRUE(good) << error_reason(good.error());
  EXPECT_EQ(good->held_back(), std::vector<std::string>{"trainer-2"});
  EXPECT_EQ(good->invariants.front().heal_epochs, 2u);
  EXPECT_FALSE(good->invariants.front().within_s);
}
