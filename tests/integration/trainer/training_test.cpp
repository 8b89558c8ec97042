// The trainer against a real local swarm (a DHT node and an expert server
// in this process, talking over loopback): two Fashion-MNIST classes learnt
// in at most 100 steps through the MoE and the Switch-MoE layer, progress
// records, status and stop requests, and the ways training can fail.

#include "actors/moe/expert_uid.hpp"
#include "actors/trainer/dmoe_classifier.hpp"
#include "actors/trainer/trainer.hpp"
#include "actors/trainer/training_loop.hpp"
#include "tests/integration/test_nodes.hpp"
#include "tests/support/required_package.hpp"

#include <cmath>
#include <filesystem>

using namespace colony;
using namespace colony::testing;
using namespace std::chrono_literals;

namespace {

constexpr int64_t hidden = 64;

std::vector<std::string> grid_uids(const std::string& pattern) {
  auto uids = moe::expand_expert_pattern(pattern);
  return uids ? *uids : std::vector<std::string>{};
}

/// Two blocks of 2x2 ffn experts on one server.
std::vector<expert_group_config> two_grids() {
  std::vector<expert_group_config> groups;
  for (const auto* pattern : {"ffn0.[0:2].[0:2]", "ffn1.[0:2].[0:2]"})
    groups.push_back(expert_group(grid_uids(pattern), "ffn", hidden));
  return groups;
}

/// T-shirts against trousers, 100 steps of 64.
trainer::trainer_options two_class_options(std::string layer) {
  trainer::trainer_options o;
  o.classes = {0, 1};
  o.hidden_dim = hidden;
  o.layer = std::move(layer);
  o.grids = {"ffn0.[0:2].[0:2]", "ffn1.[0:2].[0:2]"};
  o.k_best = 2;
  o.batch_size = 64;
  o.max_steps = 100;
  o.eval_every = 50;
  o.eval_samples = 500;
  o.report_every = 10;
  o.seed = 7;
  o.wait_for_experts = 10s;
  return o;
}

trainer::swarm_access access_of(node& n) {
  return {&n.system(),   n.transport(), n.dht(),
          n.shared_me(), n.address(),   n.shared_log()};
}

/// What a trainer told its listener.
struct trainer_run {
  std::vector<trainer::training_record> records;
  std::optional<trainer::training_result> result;
};

/// Runs a trainer to its end (bounded by `limit`) and collects its reports.
trainer_run run_trainer(caf::actor_system& sys, trainer::trainer_config cfg,
                        std::chrono::seconds limit = 120s,
                        std::function<void(caf::actor&)> after_first = {}) {
  caf::scoped_actor self{sys};
  cfg.listener = caf::actor_cast<caf::actor>(self);
  auto t = trainer::spawn_trainer(sys, std::move(cfg));
  trainer_run run;
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!run.result && std::chrono::steady_clock::now() < deadline) {
    self->receive(
        [&](trainer::training_record& r) {
          run.records.push_back(r);
          if (run.records.size() == 1 && after_first)
            after_first(t);
        },
        [&](trainer::training_result& r) { run.result = std::move(r); },
        caf::after(1s) >> [] {});
  }
  if (!run.result)
    caf::anon_send_exit(t, caf::exit_reason::kill);
  return run;
}

void expect_learns_two_classes(const std::string& layer) {
  ASSERT_TRUE(fashion_mnist_installed());
  dht_expert_swarm swarm(two_grids());
  ASSERT_TRUE(swarm.ok());
  trainer::trainer_config cfg;
  cfg.options = two_class_options(layer);
  cfg.swarm = access_of(*swarm.client);
  cfg.log = swarm.client->shared_log();
  auto run = run_trainer(swarm.client->system(), std::move(cfg));
  ASSERT_TRUE(run.result) << "the trainer did not finish";
  EXPECT_EQ(run.result->error, "");
  EXPECT_EQ(run.result->steps, 100u);
  EXPECT_EQ(run.result->samples, 6400u);
  EXPECT_EQ(run.result->test_samples, 2000u); // all test items of 2 classes
  EXPECT_GE(run.result->test_accuracy, 0.9) << layer;
  // Records: every 10 steps, evaluations at 50 and at the end.
  ASSERT_GE(run.records.size(), 10u);
  size_t evaluations = 0;
  for (const auto& r : run.records) {
    if (r.test_accuracy)
      ++evaluations;
    EXPECT_GT(r.live_experts, 0u);
    EXPECT_LE(r.live_experts, 8u);
    EXPECT_EQ(r.failed_calls, 0.0);
    EXPECT_GT(r.samples_per_s, 0.0);
  }
  EXPECT_EQ(evaluations, 2u);
  EXPECT_EQ(run.records.back().step, 100u);
  EXPECT_EQ(*run.records.back().test_accuracy, run.result->test_accuracy);
  // The loss fell.
  EXPECT_LT(run.records.back().train_loss, run.records.front().train_loss);
}

} // namespace

TEST(training, moe_layer_learns_two_classes_within_100_steps) {
  expect_learns_two_classes("moe");
}

TEST(training, switch_layer_learns_two_classes_within_100_steps) {
  expect_learns_two_classes("switch");
}

TEST(training, local_baseline_learns_two_classes_without_a_swarm) {
  ASSERT_TRUE(fashion_mnist_installed());
  auto o = two_class_options("moe");
  o.local_experts = true;
  auto loop = trainer::training_loop::make(o, {});
  ASSERT_TRUE(loop) << describe(loop.error());
  for (int i = 0; i < 100; ++i) {
    auto step = (*loop)->step();
    ASSERT_TRUE(step) << describe(step.error());
    EXPECT_TRUE(step->answered_experts.empty()); // nothing remote
  }
  auto ev = (*loop)->evaluate();
  ASSERT_TRUE(ev);
  EXPECT_GE(ev->accuracy, 0.9);
  EXPECT_EQ((*loop)->call_stats().forward_calls, 0u);
  // 784*64+64, the experts (8 x 33,216), the gating (2 x (64*4+4)), 64*10+10
  EXPECT_EQ((*loop)->parameter_count(), 50240 + 8 * 33216 + 2 * 260 + 650);
}

TEST(training, same_seed_same_local_run) {
  ASSERT_TRUE(fashion_mnist_installed());
  auto o = two_class_options("moe");
  o.local_experts = true;
  std::vector<double> losses[2];
  for (auto& run : losses) {
    auto loop = trainer::training_loop::make(o, {});
    ASSERT_TRUE(loop);
    for (int i = 0; i < 5; ++i)
      run.push_back((*loop)->step()->loss);
  }
  EXPECT_EQ(losses[0], losses[1]);
}

TEST(training, status_and_stop_requests_are_answered_between_steps) {
  ASSERT_TRUE(fashion_mnist_installed());
  dht_expert_swarm swarm(two_grids());
  ASSERT_TRUE(swarm.ok());
  trainer::trainer_config cfg;
  cfg.options = two_class_options("moe");
  cfg.options.max_steps = 1'000'000;
  cfg.options.eval_samples = 100;
  cfg.swarm = access_of(*swarm.client);
  cfg.log = swarm.client->shared_log();
  std::optional<trainer::training_record> status;
  auto run = run_trainer(
      swarm.client->system(), std::move(cfg), 60s, [&](caf::actor& t) {
        caf::scoped_actor asker{swarm.client->system()};
        asker->request(t, 5s, trainer::trainer_status_atom::value)
            .receive([&](trainer::training_record& r) { status = r; },
                     [&](caf::error& err) { ADD_FAILURE() << describe(err); });
        caf::anon_send(t, trainer::trainer_stop_atom::value);
      });
  ASSERT_TRUE(run.result);
  EXPECT_EQ(run.result->error, "");
  ASSERT_TRUE(status);
  EXPECT_GE(status->step, 10u);
  EXPECT_LT(run.result->steps, 1000u);        // stopped long before max_steps
  EXPECT_EQ(run.result->test_samples, 2000u); // final evaluation ran
}

TEST(training, no_experts_ends_with_an_error_after_waiting) {
  ASSERT_TRUE(fashion_mnist_installed());
  dht_expert_swarm swarm({}); // a DHT, no expert server
  ASSERT_TRUE(swarm.ok(false));
  trainer::trainer_config cfg;
  cfg.options = two_class_options("moe");
  cfg.options.wait_for_experts = 1500ms;
  cfg.options.forward_timeout = 500ms;
  cfg.swarm = access_of(*swarm.client);
  cfg.log = swarm.client->shared_log();
  auto began = std::chrono::steady_clock::now();
  auto run = run_trainer(swarm.client->system(), std::move(cfg), 30s);
  ASSERT_TRUE(run.result);
  EXPECT_GE(std::chrono::steady_clock::now() - began, 1500ms);
  EXPECT_NE(run.result->error.find("no step succeeded"), std::string::npos)
      << run.result->error;
  EXPECT_NE(run.result->error.find("no expert"), std::string::npos)
      << run.result->error;
  EXPECT_EQ(run.result->steps, 0u);
}

TEST(training, options_that_make_no_model_fail_at_start) {
  ASSERT_TRUE(fashion_mnist_installed());
  auto o = two_class_options("moe");
  o.local_experts = true;
  o.grids = {"ffn.[1:3]"};
  auto loop = trainer::training_loop::make(o, {});
  ASSERT_FALSE(loop);
  EXPECT_NE(describe(loop.error()).find("[0:N]"), std::string::npos);
  o = two_class_options("moe");
  o.classes = {12};
  loop = trainer::training_loop::make(o, {});
  ASSERT_FALSE(loop);
  EXPECT_NE(describe(loop.error()).find("12"), std::string::npos);
  o = two_class_options("moe");
  o.dataset_dir = "/nonexistent";
  loop = trainer::training_loop::make(o, {});
  ASSERT_FALSE(loop);
  EXPECT_TRUE(is_error(loop.error(), errc::io_error)) << describe(loop.error());
  o = two_class_options("moe"); // remote blocks without a swarm
  loop = trainer::training_loop::make(o, {});
  ASSERT_FALSE(loop);
  EXPECT_NE(describe(loop.error()).find("swarm"), std::string::npos);
}

TEST(training, call_keys_become_one_call_settings_value) {
  trainer::trainer_options o;
  o.k_min = 3;
  o.backward_k_min = 0;
  o.forward_timeout = 1234ms;
  o.backward_timeout = 789ms;
  o.timeout_after_k_min = 56ms;
  o.allow_zero_outputs = false;
  o.detect_anomalies = true;
  o.failure_backoff = 0ms;
  o.max_failure_backoff = 7s;
  o.compression = compression_type::float16;
  auto c = o.call_options();
  EXPECT_EQ(c.k_min(), 3u);
  EXPECT_EQ(c.backward_k_min(), 0u);
  EXPECT_EQ(c.forward_timeout(), 1234ms);
  EXPECT_EQ(c.backward_timeout(), 789ms);
  // One key for both directions.
  EXPECT_EQ(c.timeout_after_k_min(), std::optional{56ms});
  EXPECT_EQ(c.backward_timeout_after_k_min(), std::optional{56ms});
  EXPECT_FALSE(c.allow_zero_outputs());
  EXPECT_TRUE(c.detect_anomalies());
  EXPECT_EQ(c.failure_backoff(), 0ms);
  EXPECT_EQ(c.max_failure_backoff(), 7s);
  EXPECT_EQ(c.compression(), compression_type::float16);
  // 0: no shorter deadline once k_min answered.
  o.timeout_after_k_min = 0ms;
  EXPECT_FALSE(o.call_options().timeout_after_k_min());
  EXPECT_FALSE(o.call_options().backward_timeout_after_k_min());
}

TEST(training, both_kinds_of_block_take_the_call_keys) {
  dht_expert_swarm swarm{{}}; // a DHT without experts
  ASSERT_TRUE(swarm.ok(false));
  auto nan_images = torch::full({2, 784}, std::nanf(""));
  for (const char* layer : {"moe", "switch"}) {
    for (bool detect : {true, false}) {
      auto o = two_class_options(layer);
      o.detect_anomalies = detect;
      o.forward_timeout = 2s;
      trainer::DmoeClassifier model(o, access_of(*swarm.client), 784);
      // detect_anomalies refuses the NaN before the search; without it the
      // search runs and finds nobody.
      try {
        model(nan_images);
        ADD_FAILURE() << layer << ": NaN images passed";
      } catch (const std::exception& e) {
        std::string what = e.what();
        EXPECT_EQ(what.find("NaN or inf in the input") != std::string::npos,
                  detect)
            << layer << ": " << what;
      }
    }
  }
}
