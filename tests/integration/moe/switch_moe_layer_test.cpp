// The Switch mixture-of-experts layer against an in-process expert server
// and a DHT: top-1 routing with gated outputs and a balancing loss, the
// residual when every expert times out, deterministic routing in eval mode.

#include "actors/moe/client/switch_moe_layer.hpp"
#include "tests/integration/test_nodes.hpp"

#include <limits>

using namespace colony;
using namespace colony::testing;
using namespace std::chrono_literals;

namespace {

/// The swarm of these tests: one group of frozen experts (outputs stay
/// comparable across calls).
struct switch_swarm : dht_expert_swarm {
  switch_swarm(std::vector<std::string> uids, std::string cls, int64_t hidden)
      : dht_expert_swarm(
            {expert_group(std::move(uids), std::move(cls), hidden, "none")}) {}

  moe::RemoteSwitchMixtureOfExperts
  layer(moe::RemoteSwitchMixtureOfExpertsOptions opts) {
    return moe::RemoteSwitchMixtureOfExperts(
        client->system(), client->transport(), client->dht(), std::move(opts));
  }
};

std::vector<std::string> grid_uids(const std::string& prefix, int rows,
                                   int cols) {
  std::vector<std::string> uids;
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j)
      uids.push_back(prefix + std::to_string(i) + "." + std::to_string(j));
  return uids;
}

} // namespace

TEST(switch_moe_layer, top1_routing_gives_gated_outputs_and_balancing_loss) {
  const int64_t d = 8;
  switch_swarm s{grid_uids("ffn.", 2, 3), "ffn", d};
  ASSERT_TRUE(s.ok());
  // No jitter, so that the gating can be recomputed below.
  auto moe = s.layer(moe::RemoteSwitchMixtureOfExpertsOptions(d, {2, 3}, "ffn.")
                         .jitter_eps(0)
                         .forward_timeout(5s)
                         .backward_timeout(5s));
  ASSERT_TRUE(moe->is_training());
  auto before = moe->grid_utilization();
  auto x = torch::randn({6, d}, torch::requires_grad());
  auto [y, loss] = moe->forward(x);
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{6, d}));
  ASSERT_EQ(loss.dim(), 0);
  EXPECT_GT(loss.item<float>(), 0);
  EXPECT_TRUE(moe->last_answered.all().item<bool>());
  // Every sample went to one expert of the grid.
  ASSERT_EQ(moe->last_chosen_uids.size(), 6u);
  for (auto& uid : moe->last_chosen_uids)
    EXPECT_EQ(uid.rfind("ffn.", 0), 0u) << uid;
  // The balancing loss recomputed from the routing and the gating softmax.
  {
    torch::NoGradGuard no_grad;
    auto logits = moe->moe->grid_logits(x);
    float want = 0;
    const std::vector<int> grid{2, 3};
    for (size_t dim = 0; dim < 2; ++dim) {
      auto counts = torch::zeros({grid[dim]});
      for (auto& uid : moe->last_chosen_uids)
        counts[uid[4 + 2 * dim] - '0'] += 1;
      auto probs = torch::softmax(logits[dim], 1).mean(0);
      want += (counts / 6 * probs).sum().item<float>() * grid[dim];
    }
    EXPECT_NEAR(loss.item<float>(), want, 1e-5);
  }
  (y.sum() + loss).backward();
  ASSERT_TRUE(x.grad().defined());
  EXPECT_GT(x.grad().abs().sum().item<float>(), 0);
  ASSERT_TRUE(moe->proj->weight.grad().defined());
  EXPECT_GT(moe->proj->weight.grad().abs().sum().item<float>(), 0);
  // The utilization moving averages moved and still sum to 1.
  auto after = moe->grid_utilization();
  ASSERT_EQ(after.size(), 2u);
  bool changed = false;
  for (size_t dim = 0; dim < 2; ++dim) {
    EXPECT_NEAR(after[dim].sum().item<float>(), 1.f, 1e-4);
    changed = changed || !torch::allclose(after[dim], before[dim]);
  }
  EXPECT_TRUE(changed);
  // The buffers are the module's.
  EXPECT_EQ(moe->buffers().size(), 2u);
}

TEST(switch_moe_layer, all_experts_timing_out_returns_the_residual_input) {
  const int64_t d = 8;
  switch_swarm s{{"slow.0.0", "slow.0.1", "slow.1.0"}, "nop_delay", d};
  ASSERT_TRUE(s.ok());
  auto moe =
      s.layer(moe::RemoteSwitchMixtureOfExpertsOptions(d, {2, 2}, "slow.")
                  .k_min(0)
                  .allow_zero_outputs(true)
                  .forward_timeout(100ms)
                  .timeout_after_k_min(50ms));
  auto x = torch::randn({4, d}, torch::requires_grad());
  at::Tensor y, loss;
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_NO_THROW(std::tie(y, loss) = moe->forward(x));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 450ms);
  EXPECT_TRUE(torch::equal(y, x));
  EXPECT_FALSE(moe->last_answered.any().item<bool>());
  EXPECT_EQ(loss.item<float>(), 0.f);
  // Nothing answered: the utilization stays uniform.
  for (auto& u : moe->grid_utilization())
    EXPECT_TRUE(torch::allclose(u, torch::full({2}, 0.5)));
  (y.sum() + loss).backward();
  EXPECT_TRUE(torch::equal(x.grad(), torch::ones({4, d})));
}

TEST(switch_moe_layer, eval_mode_routes_without_jitter) {
  const int64_t d = 8;
  switch_swarm s{grid_uids("ffn.", 3, 3), "ffn", d};
  ASSERT_TRUE(s.ok());
  // Large jitter and grid dropout: only eval mode makes routing repeatable.
  auto moe = s.layer(moe::RemoteSwitchMixtureOfExpertsOptions(d, {3, 3}, "ffn.")
                         .jitter_eps(0.5)
                         .grid_dropout(0.5)
                         .forward_timeout(5s)
                         .backward_timeout(5s));
  moe->eval();
  auto x = torch::randn({8, d});
  auto [y1, l1] = moe->forward(x);
  auto first = moe->last_chosen_uids;
  auto [y2, l2] = moe->forward(x);
  EXPECT_EQ(moe->last_chosen_uids, first);
  EXPECT_TRUE(torch::allclose(y1, y2));
  EXPECT_FLOAT_EQ(l1.item<float>(), l2.item<float>());
  // Eval routing is the argmax of the gating logits (all experts declared).
  auto logits = moe->moe->grid_logits(x);
  for (int64_t sample = 0; sample < 8; ++sample) {
    auto want =
        "ffn." + std::to_string(logits[0][sample].argmax().item<int64_t>()) +
        "." + std::to_string(logits[1][sample].argmax().item<int64_t>());
    EXPECT_EQ(first[static_cast<size_t>(sample)], want) << "sample " << sample;
  }
}

namespace {

/// Every field of two call settings, compared one by one.
void expect_same_calls(const moe::MoECallOptions& got,
                       const moe::MoECallOptions& want) {
  EXPECT_EQ(got.k_min(), want.k_min());
  EXPECT_EQ(got.forward_timeout(), want.forward_timeout());
  EXPECT_EQ(got.timeout_after_k_min(), want.timeout_after_k_min());
  EXPECT_EQ(got.backward_k_min(), want.backward_k_min());
  EXPECT_EQ(got.backward_timeout(), want.backward_timeout());
  EXPECT_EQ(got.backward_timeout_after_k_min(),
            want.backward_timeout_after_k_min());
  EXPECT_EQ(got.allow_zero_outputs(), want.allow_zero_outputs());
  EXPECT_EQ(got.detect_anomalies(), want.detect_anomalies());
  EXPECT_EQ(got.compression(), want.compression());
  EXPECT_EQ(got.failure_backoff(), want.failure_backoff());
  EXPECT_EQ(got.max_failure_backoff(), want.max_failure_backoff());
}

} // namespace

TEST(switch_moe_layer, inner_layer_calls_with_the_switch_call_settings) {
  dht_expert_swarm s{{}};
  ASSERT_TRUE(s.ok(false));
  auto layer = [&](moe::RemoteSwitchMixtureOfExpertsOptions opts) {
    return moe::RemoteSwitchMixtureOfExperts(
        s.client->system(), s.client->transport(), s.client->dht(), opts);
  };
  // Every field differs from both layers' defaults.
  auto calls = moe::MoECallOptions()
                   .k_min(3)
                   .forward_timeout(1234ms)
                   .timeout_after_k_min(56ms)
                   .backward_k_min(2)
                   .backward_timeout(789ms)
                   .backward_timeout_after_k_min(12ms)
                   .allow_zero_outputs(false)
                   .detect_anomalies(true)
                   .compression(compression_type::float16)
                   .failure_backoff(0ms)
                   .max_failure_backoff(7s);
  auto sw = layer(
      moe::RemoteSwitchMixtureOfExpertsOptions(8, {2, 3}, "ffn.").calls(calls));
  expect_same_calls(sw->moe->options().calls(), calls);
  EXPECT_EQ(sw->moe->options().k_best(), 1u);
  EXPECT_FALSE(sw->moe->backoff().enabled());
  // The defaults go through as well.
  auto plain = layer(moe::RemoteSwitchMixtureOfExpertsOptions(8, {2}, "x."));
  expect_same_calls(plain->moe->options().calls(),
                    moe::RemoteSwitchMixtureOfExpertsOptions::default_calls());
  EXPECT_TRUE(plain->moe->backoff().enabled());
}

TEST(switch_moe_layer, both_layers_honour_one_call_settings_value) {
  const int64_t d = 8;
  switch_swarm s{grid_uids("slow.", 2, 2), "nop_delay", d};
  ASSERT_TRUE(s.ok());
  // Each differs observably from both layers' defaults: the experts take
  // 500 ms, the back-off is off, NaN inputs are refused.
  auto calls = moe::MoECallOptions()
                   .k_min(0)
                   .forward_timeout(150ms)
                   .allow_zero_outputs(true)
                   .detect_anomalies(true)
                   .failure_backoff(0ms);
  auto sw = s.layer(moe::RemoteSwitchMixtureOfExpertsOptions(d, {2, 2}, "slow.")
                        .calls(calls));
  auto mixture = moe::RemoteMixtureOfExperts(
      s.client->system(), s.client->transport(), s.client->dht(),
      moe::RemoteMixtureOfExpertsOptions(d, {2, 2}, "slow.")
          .k_best(1)
          .calls(calls));
  auto x = torch::randn({3, d});
  auto nan_x = x.clone();
  nan_x[1][2] = std::numeric_limits<float>::quiet_NaN();
  auto refuses_nan = [&](auto&& forward) {
    try {
      forward(nan_x);
      ADD_FAILURE() << "NaN input accepted";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string{e.what()}.find("NaN or inf in the input"),
                std::string::npos)
          << e.what();
    }
  };
  // forward_timeout: both give up on the slow experts long before 500 ms.
  auto t0 = std::chrono::steady_clock::now();
  auto [y, loss] = sw->forward(x);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 450ms);
  EXPECT_FALSE(sw->last_answered.any().item<bool>());
  EXPECT_TRUE(torch::equal(y, x)); // allow_zero_outputs: the residual
  t0 = std::chrono::steady_clock::now();
  auto m = mixture->forward(x);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 450ms);
  EXPECT_FALSE(mixture->last_mask.any().item<bool>());
  EXPECT_TRUE(torch::equal(m, torch::zeros({3, d})));
  // failure_backoff 0: the experts that failed are not held back.
  EXPECT_EQ(sw->moe->backoff().skipped_count(), 0u);
  EXPECT_EQ(mixture->backoff().skipped_count(), 0u);
  EXPECT_GT(sw->moe->call_stats().forward_failures, 0u);
  EXPECT_GT(mixture->call_stats().forward_failures, 0u);
  // detect_anomalies.
  refuses_nan([&](const at::Tensor& in) { sw->forward(in); });
  refuses_nan([&](const at::Tensor& in) { mixture->forward(in); });
}

TEST(switch_moe_layer, backward_needs_no_expert_answer_by_default) {
  const int64_t d = 8;
  switch_swarm s{grid_uids("ffn.", 2, 2), "ffn", d};
  ASSERT_TRUE(s.ok());
  // Without allow_zero_outputs, only backward_k_min = 0 lets backward pass
  // without answers.
  auto opts = moe::RemoteSwitchMixtureOfExpertsOptions(d, {2, 2}, "ffn.")
                  .jitter_eps(0)
                  .allow_zero_outputs(false)
                  .forward_timeout(5s)
                  .backward_timeout(2s);
  EXPECT_EQ(opts.backward_k_min(), 0u);
  auto lenient = s.layer(opts);
  auto strict =
      s.layer(moe::RemoteSwitchMixtureOfExpertsOptions(opts).backward_k_min(1));
  auto x1 = torch::randn({4, d}, torch::requires_grad());
  auto x2 = x1.detach().clone().requires_grad_(true);
  auto [y1, l1] = lenient->forward(x1);
  auto [y2, l2] = strict->forward(x2);
  ASSERT_TRUE(lenient->last_answered.all().item<bool>());
  ASSERT_TRUE(strict->last_answered.all().item<bool>());
  // The experts go away: every backward call fails.
  s.server.reset();
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_NO_THROW((y1.sum() + l1).backward());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  auto stats = lenient->moe->call_stats();
  EXPECT_GT(stats.backward_calls, 0u);
  EXPECT_EQ(stats.backward_failures, stats.backward_calls);
  // The gating still learns, through the gating probability.
  ASSERT_TRUE(x1.grad().defined());
  ASSERT_TRUE(lenient->proj->weight.grad().defined());
  EXPECT_GT(lenient->proj->weight.grad().abs().sum().item<float>(), 0);
  // With backward_k_min 1 the same backward is an error.
  try {
    (y2.sum() + l2).backward();
    FAIL() << "no exception with backward_k_min = 1";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string{e.what()}.find("backward_k_min = 1"),
              std::string::npos)
        << e.what();
  }
}
