// Invariants of fault scenarios checked against made-up runs, and the
// report written from a run.

#include "apps/harness/harness_invariants.hpp"
#include "apps/harness/harness_report.hpp"

#include <gtest/gtest.h>

#include <cmath>

using namespace colony;
using namespace colony::apps;

namespace {

invariant_spec spec(invariant_kind kind, double threshold = 0) {
  invariant_spec s;
  s.kind = kind;
  s.threshold = threshold;
  return s;
}

node_sample trainer_sample(double t, uint64_t step, double loss,
                           std::optional<double> accuracy = {}) {
  node_sample s;
  s.t = t;
  s.answered = true;
  s.status.rss_bytes = 100u << 20;
  trainer::training_record tr;
  tr.step = step;
  tr.train_loss = loss;
  tr.samples_per_s = 1000;
  tr.test_accuracy = accuracy;
  s.status.training = tr;
  return s;
}

/// A run with a DHT node, a server and a trainer whose loss goes from 1 to
/// 0.3 over 40 s, and a kill at 10 s.
harness_run healthy_run() {
  harness_run run;
  run.scenario = "made-up";
  harness_node dht;
  dht.name = "dht-1";
  dht.role = swarm_role::dht;
  dht.answered_at_end = true;
  harness_node server;
  server.name = "server-1";
  server.role = swarm_role::server;
  server.answered_at_end = true;
  harness_node trainer;
  trainer.name = "trainer-1";
  trainer.role = swarm_role::trainer;
  trainer.final_accuracy = 0.85;
  trainer.final_step = 400;
  for (int i = 0; i <= 40; ++i) {
    auto t = static_cast<double>(i);
    trainer.samples.push_back(
        trainer_sample(t, 10 * (i + 1), 1.0 - 0.7 * t / 40));
    trainer.samples.back().status.has_dht = true;
    trainer.samples.back().status.dht_gets = 100 * i;
    trainer.samples.back().status.dht_gets_found = 99 * i;
    node_sample d;
    d.t = t;
    d.answered = true;
    d.status.has_dht = true;
    d.status.dht_gets = 100 * i;
    d.status.dht_gets_found = 99 * i;
    d.status.rss_bytes = (100u << 20) + static_cast<uint64_t>(i) * (1u << 20);
    dht.samples.push_back(d);
    server.samples.push_back(d);
  }
  run.nodes = {dht, server, trainer};
  applied_fault kill;
  kill.t = 10;
  kill.action = fault_action::kill;
  kill.targets = {"server-2"};
  run.faults = {kill};
  return run;
}

invariant_result check(const invariant_spec& s, const harness_run& run) {
  harness_scenario scenario;
  scenario.invariants = {s};
  auto results = check_invariants(scenario, run);
  EXPECT_EQ(results.size(), 1u);
  return results.front();
}

} // namespace

TEST(harness_invariants, quarter_means) {
  EXPECT_FALSE(first_and_last_quarter_means({1, 2, 3}));
  auto m = first_and_last_quarter_means({4, 4, 9, 9, 9, 9, 2, 2});
  ASSERT_TRUE(m);
  EXPECT_EQ(m->first, 4);
  EXPECT_EQ(m->second, 2);
}

TEST(harness_invariants, no_crash_counts_unexpected_exits_and_silence) {
  auto run = healthy_run();
  auto ok = check(spec(invariant_kind::no_crash), run);
  EXPECT_TRUE(ok.holds) << ok.detail;
  run.nodes[1].crashes.emplace_back(139, 12.5);
  auto crashed = check(spec(invariant_kind::no_crash), run);
  EXPECT_FALSE(crashed.holds);
  EXPECT_EQ(crashed.measured, 1);
  EXPECT_NE(crashed.detail.find("server-1 exited with status 139"),
            std::string::npos)
      << crashed.detail;
  run = healthy_run();
  run.nodes[0].answered_at_end = false;
  auto silent = check(spec(invariant_kind::no_crash), run);
  EXPECT_FALSE(silent.holds);
  EXPECT_NE(silent.detail.find("dht-1 did not answer"), std::string::npos);
  // A killed node need not answer.
  run.nodes[0].killed = true;
  EXPECT_TRUE(check(spec(invariant_kind::no_crash), run).holds);
}

TEST(harness_invariants, loss_falls_after_the_last_fault) {
  auto run = healthy_run();
  auto falls = check(spec(invariant_kind::loss_falls), run);
  EXPECT_TRUE(falls.holds) << falls.detail;
  EXPECT_LT(falls.measured, 1);
  // A loss that climbs after the fault breaks it.
  for (auto& s : run.nodes[2].samples)
    if (s.t >= 10)
      s.status.training->train_loss = 0.2 + 0.05 * s.t;
  auto rises = check(spec(invariant_kind::loss_falls), run);
  EXPECT_FALSE(rises.holds);
  EXPECT_GT(rises.measured, 1);
  // Tolerance lets a flat loss pass.
  for (auto& s : run.nodes[2].samples)
    s.status.training->train_loss = 0.5;
  auto flat = spec(invariant_kind::loss_falls);
  EXPECT_TRUE(check(flat, run).holds);
  // Too few reports after `after`.
  flat.after_s = 39;
  auto few = check(flat, run);
  EXPECT_FALSE(few.holds);
  EXPECT_NE(few.detail.find("too few reports"), std::string::npos);
}

TEST(harness_invariants, accuracy_bounds_and_baseline) {
  auto run = healthy_run();
  EXPECT_TRUE(check(spec(invariant_kind::final_accuracy, 0.8), run).holds);
  auto low = check(spec(invariant_kind::final_accuracy, 0.9), run);
  EXPECT_FALSE(low.holds);
  EXPECT_DOUBLE_EQ(low.measured, 0.85);
  run.nodes[2].final_accuracy.reset();
  EXPECT_FALSE(check(spec(invariant_kind::final_accuracy, 0.1), run).holds);
  run = healthy_run();
  auto missing = check(spec(invariant_kind::accuracy_vs_baseline, 3), run);
  EXPECT_FALSE(missing.holds);
  run.baseline_accuracy = std::vector<double>{0.87};
  auto close = check(spec(invariant_kind::accuracy_vs_baseline, 3), run);
  EXPECT_TRUE(close.holds) << close.detail;
  EXPECT_NEAR(close.measured, 2.0, 1e-9);
  run.baseline_accuracy = std::vector<double>{0.90};
  EXPECT_FALSE(check(spec(invariant_kind::accuracy_vs_baseline, 3), run).holds);
}

TEST(harness_invariants, dht_get_success_counts_the_window_and_restarts) {
  auto run = healthy_run();
  // The trainer finds 99 of 100 keys per second; the other nodes' gets
  // (a server sampling free uids) do not count.
  for (auto& s : run.nodes[1].samples)
    s.status.dht_gets_found = 0;
  auto r = check(spec(invariant_kind::dht_get_success, 0.95), run);
  EXPECT_TRUE(r.holds) << r.detail;
  EXPECT_NEAR(r.measured, 0.99, 1e-9);
  // A restarted trainer's counters start again from zero: still counted.
  auto& samples = run.nodes[2].samples;
  for (size_t i = 20; i < samples.size(); ++i) {
    samples[i].status.dht_gets = 100 * (i - 20);
    samples[i].status.dht_gets_found = 50 * (i - 20);
  }
  auto restarted = check(spec(invariant_kind::dht_get_success, 0.95), run);
  EXPECT_FALSE(restarted.holds);
  // From the fault at 10 s: 10 s of 100 gets with 99 found, then 20 s of
  // 100 with 50 found, counted from zero.
  EXPECT_NEAR(restarted.measured, (990.0 + 1000) / (1000 + 2000), 1e-9);
  // No gets at all is a failure, not a success.
  run = healthy_run();
  for (auto& n : run.nodes)
    for (auto& s : n.samples)
      s.status.dht_gets = s.status.dht_gets_found = 0;
  EXPECT_FALSE(check(spec(invariant_kind::dht_get_success, 0.5), run).holds);
}

TEST(harness_invariants, rss_growth_after_warmup) {
  auto run = healthy_run();
  // 100 MiB + 1 MiB per second: from 110 at the 10 s warm-up to 140.
  auto s = spec(invariant_kind::rss_growth, 50);
  s.warmup_s = 10;
  auto r = check(s, run);
  EXPECT_TRUE(r.holds) << r.detail;
  EXPECT_NEAR(r.measured, 100.0 * 30 / 110, 1e-6);
  s.threshold = 20;
  EXPECT_FALSE(check(s, run).holds);
  s.warmup_s = 1000;
  EXPECT_FALSE(check(s, run).holds) << "no samples after the warm-up";
}

TEST(harness_invariants, trainer_progress) {
  auto run = healthy_run();
  EXPECT_TRUE(check(spec(invariant_kind::trainer_progress, 400), run).holds);
  EXPECT_FALSE(check(spec(invariant_kind::trainer_progress, 401), run).holds);
}

TEST(harness_report, json_and_summary_hold_the_run) {
  auto run = healthy_run();
  harness_scenario scenario;
  scenario.invariants = {spec(invariant_kind::no_crash),
                         spec(invariant_kind::final_accuracy, 0.9)};
  run.invariants = check_invariants(scenario, run);
  run.nodes[2].samples[3].status.training->test_accuracy = NAN;
  auto json = harness_report_json(run);
  EXPECT_NE(json.find("\"scenario\": \"made-up\""), std::string::npos);
  EXPECT_NE(json.find("\"passed\": false"), std::string::npos);
  EXPECT_NE(json.find("\"action\": \"kill\""), std::string::npos);
  EXPECT_NE(json.find("\"targets\": [\"server-2\"]"), std::string::npos);
  EXPECT_NE(json.find("\"kind\": \"final_accuracy\", \"holds\": false"),
            std::string::npos);
  EXPECT_NE(json.find("\"name\": \"trainer-1\""), std::string::npos);
  EXPECT_NE(json.find("\"final_accuracy\": 0.85"), std::string::npos);
  EXPECT_NE(json.find("\"dht_gets_found\": 99"), std::string::npos);
  // NaN is not JSON.
  EXPECT_EQ(json.find("nan"), std::string::npos);
  EXPECT_NE(json.find("\"test_accuracy\": null"), std::string::npos);
  auto summary = harness_summary(run);
  EXPECT_NE(summary.find("PASS no_crash"), std::string::npos) << summary;
  EXPECT_NE(summary.find("FAIL final_accuracy"), std::string::npos);
  EXPECT_NE(summary.find("85.00% at step 400"), std::string::npos);
  EXPECT_NE(summary.find("kill"), std::string::npos);
  EXPECT_EQ(summary.substr(summary.size() - 7), "FAILED\n");
}
