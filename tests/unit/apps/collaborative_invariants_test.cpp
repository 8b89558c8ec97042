// The collaborative invariants of fault scenarios, on made-up runs: each
// holds on a healthy run and fails when its property is broken.

#include "apps/harness/collaborative_invariants.hpp"

#include <gtest/gtest.h>

#include <cmath>

using namespace colony;
using namespace colony::apps;

namespace {

/// Unix time at which the made-up runs' training starts.
constexpr double origin = 1000;

/// A digest whose parameters are `value` in every sketch entry; trainers
/// with the same value hold the same parameters.
trainer::parameter_digest digest(double t, uint64_t epoch, double value,
                                 bool loaded = false) {
  trainer::parameter_digest d;
  d.t = origin + t;
  d.epoch = epoch;
  d.loaded_state = loaded;
  d.sketch.assign(trainer::parameter_sketch_size, value);
  d.norm = std::abs(value) * 4; // sqrt(16) entries of `value`
  return d;
}

/// The parameters every trainer holds at `epoch` in a healthy run.
double value_at(uint64_t epoch) {
  return 1 + 0.01 * static_cast<double>(epoch);
}

node_sample loss_sample(double t, uint64_t step, double loss) {
  node_sample s;
  s.t = t;
  s.answered = true;
  trainer::training_record tr;
  tr.step = step;
  tr.train_loss = loss;
  s.status.training = tr;
  return s;
}

/// Three trainers reaching an epoch every 2 s for 60 s, equal parameters,
/// loss falling from 2 to 0.5; matchmaking 2 s, averaging_timeout 5 s, so
/// the derived bound is 2 + 5 + 2 x 2 = 11 s.
harness_run healthy_collaborative_run() {
  harness_run run;
  run.training_started_at = origin;
  run.training_s = 60;
  run.collaboration = collaboration_settings{2, 5};
  for (int k = 1; k <= 3; ++k) {
    harness_node n;
    n.name = "trainer-" + std::to_string(k);
    n.role = swarm_role::trainer;
    for (uint64_t e = 1; e <= 29; ++e)
      n.epochs.push_back(digest(2.0 * e + 0.05 * k, e, value_at(e)));
    for (int s = 1; s <= 60; ++s)
      n.samples.push_back(loss_sample(s, 10 * s, 2 - 1.5 * s / 60.0));
    run.nodes.push_back(std::move(n));
  }
  harness_node server;
  server.name = "server-1";
  server.role = swarm_role::server;
  run.nodes.push_back(server);
  return run;
}

applied_fault fault(double t, fault_action action, const std::string& target) {
  applied_fault f;
  f.t = t;
  f.action = action;
  f.targets = {target};
  return f;
}

/// Drops the digests of `node` logged in (from, to].
void drop_epochs(harness_run& run, size_t node, double from, double to) {
  auto& e = run.nodes[node].epochs;
  e.erase(std::remove_if(e.begin(), e.end(),
                         [&](const auto& d) {
                           return d.t - origin > from && d.t - origin <= to;
                         }),
          e.end());
}

/// A run where trainer-2 is killed at 21 s and a late trainer-4 starts at
/// 30 s, loads the state of epoch 15 at 33 s and follows the swarm.
harness_run churn_run() {
  auto run = healthy_collaborative_run();
  run.faults.push_back(fault(21, fault_action::kill, "trainer-2"));
  drop_epochs(run, 1, 21, 60);
  run.nodes[1].samples.resize(21);
  run.nodes[1].killed = true;
  run.faults.push_back(fault(30, fault_action::start, "trainer-4"));
  harness_node late;
  late.name = "trainer-4";
  late.role = swarm_role::trainer;
  late.epochs.push_back(digest(33, 16, value_at(16), true));
  for (uint64_t e = 17; e <= 29; ++e)
    late.epochs.push_back(digest(2.0 * e + 0.2, e, value_at(e)));
  for (int s = 33; s <= 60; ++s)
    late.samples.push_back(loss_sample(s, 10 * (s - 32), 0.6));
  run.nodes.push_back(std::move(late));
  return run;
}

invariant_spec collaborative_spec(invariant_kind kind, double threshold = 0) {
  invariant_spec s;
  s.kind = kind;
  s.threshold = threshold;
  s.warmup_s = 5;
  return s;
}

} // namespace

TEST(collaborative_invariants, the_bound_derives_from_the_round_settings) {
  auto run = healthy_collaborative_run();
  run.faults.push_back(fault(40, fault_action::kill, "trainer-2"));
  auto steps = global_epoch_steps(run);
  ASSERT_EQ(steps.size(), 29u);
  EXPECT_NEAR(steps.front().first, 2.05, 1e-9);
  EXPECT_NEAR(typical_epoch_s(steps, 40), 2.0, 1e-9);
  EXPECT_NEAR(
      epoch_bound_s(collaborative_spec(invariant_kind::epoch_progress), run),
      11, 1e-9);
  auto given = collaborative_spec(invariant_kind::epoch_progress);
  given.within_s = 30;
  EXPECT_EQ(epoch_bound_s(given, run), 30);
}

TEST(collaborative_invariants, epoch_progress_catches_a_stall) {
  auto s = collaborative_spec(invariant_kind::epoch_progress, 20);
  auto run = healthy_collaborative_run();
  auto ok = epoch_progress(s, run);
  EXPECT_TRUE(ok.holds) << ok.detail;
  EXPECT_NEAR(ok.measured, 2.0, 0.1);
  // No trainer reaches an epoch from 20 s to 40 s.
  for (size_t i = 0; i < 3; ++i)
    drop_epochs(run, i, 20, 40);
  for (auto& n : run.nodes)
    for (auto& d : n.epochs)
      if (d.t - origin > 40)
        d.epoch -= 10;
  auto stalled = epoch_progress(s, run);
  EXPECT_FALSE(stalled.holds);
  EXPECT_GT(stalled.measured, 11);
}

TEST(collaborative_invariants, epoch_progress_needs_the_minimum_epoch) {
  auto run = healthy_collaborative_run();
  EXPECT_FALSE(epoch_progress(
                   collaborative_spec(invariant_kind::epoch_progress, 30), run)
                   .holds);
  // A stall at the very end counts too.
  for (size_t i = 0; i < 3; ++i)
    drop_epochs(run, i, 45, 60);
  EXPECT_FALSE(
      epoch_progress(collaborative_spec(invariant_kind::epoch_progress), run)
          .holds);
}

TEST(collaborative_invariants, epoch_progress_wants_survivors_in_step) {
  auto run = healthy_collaborative_run();
  // trainer-3 stops reaching epochs at 40 s but is alive at the end.
  drop_epochs(run, 2, 40, 60);
  auto r =
      epoch_progress(collaborative_spec(invariant_kind::epoch_progress), run);
  EXPECT_FALSE(r.holds);
  EXPECT_NE(r.detail.find("trainer-3 ended at epoch 19"), std::string::npos)
      << r.detail;
  // Killed, it is no survivor.
  run.faults.push_back(fault(40, fault_action::kill, "trainer-3"));
  EXPECT_TRUE(
      epoch_progress(collaborative_spec(invariant_kind::epoch_progress), run)
          .holds);
}

TEST(collaborative_invariants, epoch_recovery_after_a_kill) {
  auto run = churn_run();
  auto r =
      epoch_recovery(collaborative_spec(invariant_kind::epoch_recovery), run);
  EXPECT_TRUE(r.holds) << r.detail;
  // Epoch 10 at 21 s; the survivors reach 11 at 22.05 and 22.15 s.
  EXPECT_NEAR(r.measured, 1.15, 1e-6);
  // The survivors wait 15 s for the dead peer.
  auto stalled = churn_run();
  for (size_t i : {size_t{0}, size_t{2}}) {
    drop_epochs(stalled, i, 21, 36);
    for (auto& d : stalled.nodes[i].epochs)
      if (d.t - origin > 36)
        d.epoch -= 7;
  }
  auto late = epoch_recovery(collaborative_spec(invariant_kind::epoch_recovery),
                             stalled);
  EXPECT_FALSE(late.holds);
  EXPECT_GT(late.measured, 11);
}

TEST(collaborative_invariants, epoch_recovery_after_a_freeze_and_one_laggard) {
  auto run = healthy_collaborative_run();
  run.faults.push_back(fault(21, fault_action::freeze, "trainer-3"));
  run.faults.push_back(fault(31, fault_action::thaw, "trainer-3"));
  drop_epochs(run, 2, 21, 31);
  EXPECT_TRUE(
      epoch_recovery(collaborative_spec(invariant_kind::epoch_recovery), run)
          .holds);
  // One survivor never moves on.
  drop_epochs(run, 0, 21, 60);
  auto r =
      epoch_recovery(collaborative_spec(invariant_kind::epoch_recovery), run);
  EXPECT_FALSE(r.holds);
  EXPECT_NE(r.detail.find("trainer-1 never left epoch 10"), std::string::npos)
      << r.detail;
}

TEST(collaborative_invariants, epoch_recovery_needs_a_trainer_fault) {
  auto run = healthy_collaborative_run();
  EXPECT_FALSE(
      epoch_recovery(collaborative_spec(invariant_kind::epoch_recovery), run)
          .holds);
  run.faults.push_back(fault(21, fault_action::kill, "server-1"));
  EXPECT_FALSE(
      epoch_recovery(collaborative_spec(invariant_kind::epoch_recovery), run)
          .holds);
}

TEST(collaborative_invariants, parameters_agree_up_to_rounding) {
  auto run = healthy_collaborative_run();
  // Rounding: one trainer 1e-9 off everywhere.
  for (auto& d : run.nodes[1].epochs)
    for (auto& x : d.sketch)
      x *= 1 + 1e-9;
  auto r = parameters_agree(
      collaborative_spec(invariant_kind::parameters_agree, 20), run);
  EXPECT_TRUE(r.holds) << r.detail;
  EXPECT_EQ(r.measured, 0);
  EXPECT_NE(r.detail.find("29 epochs compared, 29 agreeing"), std::string::npos)
      << r.detail;
  // Fewer epochs compared than asked.
  EXPECT_FALSE(
      parameters_agree(collaborative_spec(invariant_kind::parameters_agree, 30),
                       run)
          .holds);
}

TEST(collaborative_invariants, a_divergence_must_heal) {
  auto run = healthy_collaborative_run();
  // A round fell back to local gradients at epoch 10: trainer-3 is 1e-2
  // off for two epochs, then a state averaging joins them again.
  for (auto& d : run.nodes[2].epochs)
    if (d.epoch == 10 || d.epoch == 11)
      for (auto& x : d.sketch)
        x += 0.01;
  auto s = collaborative_spec(invariant_kind::parameters_agree, 20);
  auto healed = parameters_agree(s, run);
  EXPECT_TRUE(healed.holds) << healed.detail;
  EXPECT_EQ(healed.measured, 2);
  // It never heals.
  for (auto& d : run.nodes[2].epochs)
    if (d.epoch > 11)
      for (auto& x : d.sketch)
        x += 0.01;
  auto split = parameters_agree(s, run);
  EXPECT_FALSE(split.holds);
  EXPECT_EQ(split.measured, 20);
  EXPECT_NE(split.detail.find("(10 to 29)"), std::string::npos) << split.detail;
}

TEST(collaborative_invariants, a_late_joiner_loads_the_state_and_follows) {
  auto run = churn_run();
  auto s = collaborative_spec(invariant_kind::joiner_catches_up, 5);
  auto r = joiner_catches_up(s, run);
  EXPECT_TRUE(r.holds) << r.detail;
  EXPECT_NEAR(r.measured, 3, 1e-6);
  EXPECT_NE(r.detail.find("trainer-4 (start at 30.0 s, swarm at epoch 14)"),
            std::string::npos)
      << r.detail;
}

TEST(collaborative_invariants, a_joiner_that_starts_over_is_caught) {
  auto run = churn_run();
  // It trains from epoch 0 on its own instead of loading the state.
  auto& late = run.nodes.back().epochs;
  for (size_t k = 0; k < late.size(); ++k) {
    late[k].epoch = k + 1;
    late[k].loaded_state = false;
  }
  auto r = joiner_catches_up(
      collaborative_spec(invariant_kind::joiner_catches_up), run);
  EXPECT_FALSE(r.holds);
  EXPECT_NE(r.detail.find("never loaded"), std::string::npos) << r.detail;
}

TEST(collaborative_invariants, a_joiner_that_loads_late_or_drifts_is_caught) {
  auto slow = churn_run();
  // Its state arrives 40 s after its start; the derived bound is 22 s.
  slow.nodes.back().epochs.front().t = origin + 70;
  slow.training_s = 75;
  EXPECT_FALSE(joiner_catches_up(
                   collaborative_spec(invariant_kind::joiner_catches_up), slow)
                   .holds);
  auto drift = churn_run();
  // It loads the state, then steps on its own.
  for (auto& d : drift.nodes.back().epochs)
    if (!d.loaded_state)
      for (auto& x : d.sketch)
        x += 0.05;
  auto r = joiner_catches_up(
      collaborative_spec(invariant_kind::joiner_catches_up), drift);
  EXPECT_FALSE(r.holds);
  EXPECT_NE(r.detail.find("agreed at 1 of 14"), std::string::npos) << r.detail;
  // No joiner at all: the scenario does not test what it claims.
  EXPECT_FALSE(
      joiner_catches_up(collaborative_spec(invariant_kind::joiner_catches_up),
                        healthy_collaborative_run())
          .holds);
}

TEST(collaborative_invariants, swarm_loss_falls_pooled) {
  auto run = churn_run();
  auto s = collaborative_spec(invariant_kind::swarm_loss_falls);
  auto r = swarm_loss_falls(s, run);
  EXPECT_TRUE(r.holds) << r.detail;
  EXPECT_LT(r.measured, 1);
  // A survivor whose loss went up.
  auto worse = churn_run();
  for (auto& sample : worse.nodes.back().samples)
    sample.status.training->train_loss = 3;
  EXPECT_FALSE(swarm_loss_falls(s, worse).holds);
  // The swarm's loss does not fall.
  auto flat = healthy_collaborative_run();
  for (auto& n : flat.nodes)
    for (auto& sample : n.samples)
      sample.status.training->train_loss = 1;
  s.tolerance = 0;
  auto f = swarm_loss_falls(s, flat);
  EXPECT_FALSE(f.holds) << f.detail;
  // No reports at all.
  EXPECT_FALSE(swarm_loss_falls(s, harness_run{}).holds);
}
