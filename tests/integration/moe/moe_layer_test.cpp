// The mixture-of-experts layer against in-process expert servers and a DHT:
// masks for live and missing experts, gradients equal to per-expert calls,
// expert scores, beam search end to end, deadlines, anomalies.

#include "actors/dht/dht_messages.hpp"
#include "actors/moe/client/moe_layer.hpp"
#include "actors/moe/client/remote_expert.hpp"
#include "actors/moe/expert_directory.hpp"
#include "actors/moe/expert_uid.hpp"
#include "tests/integration/test_nodes.hpp"

#include <algorithm>
#include <limits>
#include <set>
#include <thread>

using namespace colony;
using namespace colony::testing;
using namespace std::chrono_literals;

namespace {

/// The swarm of these tests, with the layer and reference calls.
struct moe_swarm : dht_expert_swarm {
  using dht_expert_swarm::dht_expert_swarm;

  moe::RemoteMixtureOfExperts layer(moe::RemoteMixtureOfExpertsOptions opts) {
    return moe::RemoteMixtureOfExperts(client->system(), client->transport(),
                                       client->dht(), std::move(opts));
  }

  moe::expert_info info(const std::string& uid) const {
    return {uid, "unknown", server->address()};
  }

  moe::RemoteExpert expert(const std::string& uid) {
    return moe::RemoteExpert(client->system(), client->transport(),
                             moe::RemoteExpertOptions(uid, server->address())
                                 .forward_timeout(5s)
                                 .backward_timeout(5s));
  }
};

constexpr float nan_value = std::numeric_limits<float>::quiet_NaN();

} // namespace

TEST(moe_layer, mask_outputs_and_gradients_match_per_expert_calls) {
  const int64_t d = 16;
  // expert.5 is missing.
  moe_swarm s{{frozen_expert_group(
      {"expert.0", "expert.1", "expert.2", "expert.3", "expert.4"}, "ffn", d)}};
  ASSERT_TRUE(s.ok());
  auto moe = s.layer(moe::RemoteMixtureOfExpertsOptions(d, {6}, "expert.")
                         .forward_timeout(5s)
                         .backward_timeout(5s));
  auto e = [&](int i) {
    return s.info("expert." + std::to_string(i));
  };
  std::vector<std::vector<moe::expert_info>> experts{
      {e(0), e(1), e(2)}, {e(2), e(4)}, {e(1), e(5), e(3)}, {}};
  auto x = torch::randn({4, d}, torch::requires_grad());
  auto g = torch::randn({4, d});
  auto y = moe->forward_with_experts(x, experts);
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{4, d}));
  (y * g).sum().backward();
  auto expected_mask = torch::tensor({1, 1, 1, 1, 1, 0, 1, 0, 1, 0, 0, 0})
                           .view({4, 3})
                           .to(torch::kBool);
  EXPECT_TRUE(torch::equal(moe->last_mask, expected_mask)) << moe->last_mask;
  EXPECT_TRUE(torch::equal(y[3], torch::zeros({d}))); // no experts: zeros
  // The same mixture from one RemoteExpert call per (sample, expert), with
  // the same gating in ordinary autograd.
  auto x_ref = x.detach().clone().requires_grad_(true);
  auto scores = moe->expert_scores(moe->grid_logits(x_ref), experts);
  std::vector<at::Tensor> rows;
  for (int64_t sample = 0; sample < 4; ++sample) {
    std::vector<at::Tensor> logits, outs;
    for (size_t k = 0; k < experts[sample].size(); ++k) {
      if (!expected_mask[sample][static_cast<int64_t>(k)].item<bool>())
        continue;
      logits.push_back(scores[sample][static_cast<int64_t>(k)]);
      outs.push_back(s.expert(experts[sample][k].uid)
                         ->forward_one(x_ref.slice(0, sample, sample + 1))[0]);
    }
    if (outs.empty()) {
      rows.push_back(torch::zeros({d}));
      continue;
    }
    auto w = torch::softmax(torch::stack(logits), 0);
    rows.push_back((w.unsqueeze(1) * torch::stack(outs)).sum(0));
  }
  auto y_ref = torch::stack(rows);
  (y_ref * g).sum().backward();
  EXPECT_TRUE(torch::allclose(y, y_ref, 1e-5, 1e-5));
  ASSERT_TRUE(x.grad().defined());
  EXPECT_TRUE(torch::allclose(x.grad(), x_ref.grad(), 1e-5, 1e-5))
      << x.grad() - x_ref.grad();
  ASSERT_TRUE(moe->proj->weight.grad().defined());
}

TEST(moe_layer, expert_scores_sum_gating_logits_per_dimension) {
  moe_swarm s{{}};
  ASSERT_TRUE(s.ok(false));
  auto moe = s.layer(moe::RemoteMixtureOfExpertsOptions(8, {3, 4}, "ffn."));
  auto l0 = torch::randn({2, 3}, torch::requires_grad());
  auto l1 = torch::randn({2, 4}, torch::requires_grad());
  auto info = [](const std::string& uid) {
    return moe::expert_info{uid, "p", "127.0.0.1:1"};
  };
  std::vector<std::vector<moe::expert_info>> experts{
      {info("ffn.0.1"), info("ffn.2.3")}, {info("ffn.1.0")}};
  auto scores = moe->expert_scores({l0, l1}, experts);
  ASSERT_EQ(scores.sizes(), (std::vector<int64_t>{2, 2}));
  auto at = [](const at::Tensor& t, int64_t i, int64_t j) {
    return t[i][j].item<float>();
  };
  EXPECT_FLOAT_EQ(at(scores, 0, 0), at(l0, 0, 0) + at(l1, 0, 1));
  EXPECT_FLOAT_EQ(at(scores, 0, 1), at(l0, 0, 2) + at(l1, 0, 3));
  EXPECT_FLOAT_EQ(at(scores, 1, 0), at(l0, 1, 1) + at(l1, 1, 0));
  EXPECT_FLOAT_EQ(at(scores, 1, 1), 0.f); // empty slot
  // Differentiable: each chosen coordinate's logit gets gradient 1.
  scores.sum().backward();
  auto g0 = torch::tensor({1.f, 0.f, 1.f, 0.f, 1.f, 0.f}).view({2, 3});
  auto g1 =
      torch::tensor({0.f, 1.f, 0.f, 1.f, 1.f, 0.f, 0.f, 0.f}).view({2, 4});
  EXPECT_TRUE(torch::equal(l0.grad(), g0)) << l0.grad();
  EXPECT_TRUE(torch::equal(l1.grad(), g1)) << l1.grad();
  // Through proj: grid_logits splits proj's output per dimension.
  auto logits = moe->grid_logits(torch::randn({5, 8}));
  ASSERT_EQ(logits.size(), 2u);
  EXPECT_EQ(logits[0].sizes(), (std::vector<int64_t>{5, 3}));
  EXPECT_EQ(logits[1].sizes(), (std::vector<int64_t>{5, 4}));
  // Uids off the grid are refused.
  EXPECT_THROW(moe->expert_scores({l0, l1}, {{info("ffn.3.0")}, {}}),
               std::invalid_argument);
  EXPECT_THROW(moe->expert_scores({l0, l1}, {{info("other.0.0")}, {}}),
               std::invalid_argument);
  EXPECT_THROW(moe->expert_scores({l0, l1}, {{info("ffn.0")}, {}}),
               std::invalid_argument);
}

TEST(moe_layer, beam_search_end_to_end_picks_the_best_declared_experts) {
  const int64_t d = 8;
  std::vector<std::string> declared{"ffn.0.0", "ffn.0.2", "ffn.1.1", "ffn.2.0",
                                    "ffn.2.2"};
  moe_swarm s{{frozen_expert_group(declared, "ffn", d)}};
  ASSERT_TRUE(s.ok());
  auto moe = s.layer(moe::RemoteMixtureOfExpertsOptions(d, {3, 3}, "ffn.")
                         .k_best(3)
                         .forward_timeout(5s)
                         .backward_timeout(5s));
  auto x = torch::randn({5, d}, torch::requires_grad());
  auto y = moe->forward(x);
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{5, d}));
  y.pow(2).sum().backward();
  ASSERT_TRUE(x.grad().defined());
  EXPECT_GT(x.grad().abs().sum().item<float>(), 0);
  ASSERT_TRUE(moe->proj->weight.grad().defined());
  EXPECT_GT(moe->proj->weight.grad().abs().sum().item<float>(), 0);
  EXPECT_TRUE(moe->last_mask.all().item<bool>());
  // Exhaustive ranking of the declared experts by score.
  auto logits = moe->grid_logits(x.detach());
  ASSERT_EQ(moe->last_chosen_experts.size(), 5u);
  for (int64_t sample = 0; sample < 5; ++sample) {
    std::vector<std::pair<float, std::string>> ranked;
    for (auto& uid : declared) {
      auto c = moe::parse_uid(uid)->coordinates;
      ranked.emplace_back(logits[0][sample][c[0]].item<float>() +
                              logits[1][sample][c[1]].item<float>(),
                          uid);
    }
    std::sort(ranked.begin(), ranked.end(),
              [](auto& a, auto& b) { return a.first > b.first; });
    std::vector<std::string> want, got;
    for (size_t k = 0; k < 3; ++k)
      want.push_back(ranked[k].second);
    for (auto& e : moe->last_chosen_experts[sample]) {
      got.push_back(e.uid);
      EXPECT_EQ(e.address, s.server->address());
    }
    EXPECT_EQ(got, want) << "sample " << sample;
  }
}

TEST(moe_layer, failed_experts_are_passed_over_for_a_while) {
  const int64_t d = 8;
  moe_swarm s{{frozen_expert_group({"pick.0", "pick.1", "pick.2"}, "nop", d)}};
  ASSERT_TRUE(s.ok());
  // pick.3 is declared at an address where nobody listens: it fails.
  dht::dht_client dht{s.client->system(), s.client->dht()};
  ASSERT_TRUE(moe::declare_experts(dht, {"pick.3", "dead.0"}, "12D3KooWGone",
                                   "127.0.0.1:1", dht::dht_time() + 60, 5s));
  auto make = [&](std::chrono::milliseconds backoff, const std::string& prefix,
                  int size) {
    auto moe = s.layer(moe::RemoteMixtureOfExpertsOptions(d, {size}, prefix)
                           .k_best(2)
                           .forward_timeout(5s)
                           .allow_zero_outputs(true)
                           .failure_backoff(backoff)
                           .max_failure_backoff(10s));
    // The gating prefers the dead expert for every sample.
    torch::NoGradGuard no_grad;
    moe->proj->weight.zero_();
    moe->proj->bias.zero_();
    moe->proj->bias[size - 1] = 10;
    return moe;
  };
  auto chosen = [](const moe::RemoteMixtureOfExperts& moe) {
    std::set<std::string> uids;
    for (auto& sample : moe->last_chosen_experts)
      for (auto& e : sample)
        uids.insert(e.uid);
    return uids;
  };
  auto x = torch::randn({3, d});
  auto moe = make(400ms, "pick.", 4);
  // How long until the back-off lets pick.3 go (polled; nullopt past
  // `limit`).
  auto released_after = [&](std::chrono::steady_clock::time_point since,
                            std::chrono::milliseconds limit)
      -> std::optional<std::chrono::steady_clock::duration> {
    while (moe->backoff().skipped("pick.3")) {
      if (std::chrono::steady_clock::now() - since > limit)
        return std::nullopt;
      std::this_thread::sleep_for(5ms);
    }
    return std::chrono::steady_clock::now() - since;
  };
  moe->forward(x);
  EXPECT_EQ(chosen(moe).count("pick.3"), 1u);
  EXPECT_FALSE(moe->last_mask.all().item<bool>()); // pick.3 failed
  EXPECT_TRUE(moe->backoff().skipped("pick.3"));
  // The next steps choose the best of the others instead.
  moe->forward(x);
  EXPECT_EQ(chosen(moe).count("pick.3"), 0u);
  EXPECT_TRUE(moe->last_mask.all().item<bool>());
  // Once the skip passed, one probe; its failure doubles the skip.
  ASSERT_TRUE(released_after(std::chrono::steady_clock::now(), 5s));
  moe->forward(x);
  auto probed = std::chrono::steady_clock::now();
  EXPECT_EQ(chosen(moe).count("pick.3"), 1u);
  EXPECT_TRUE(moe->backoff().skipped("pick.3"));
  moe->forward(x);
  EXPECT_EQ(chosen(moe).count("pick.3"), 0u);
  auto held = released_after(probed, 5s);
  ASSERT_TRUE(held);
  EXPECT_GT(*held, 600ms); // 800 ms, not the first 400 ms
  // failure_backoff 0 is hivemind's behaviour: the dead expert every time.
  auto plain = make(0ms, "pick.", 4);
  plain->forward(x);
  plain->forward(x);
  EXPECT_EQ(chosen(plain).count("pick.3"), 1u);
  // An expert held back is still better than no expert at all.
  auto lonely = make(10s, "dead.", 1);
  lonely->forward(x);
  EXPECT_TRUE(lonely->backoff().skipped("dead.0"));
  EXPECT_NO_THROW(lonely->forward(x));
  EXPECT_EQ(chosen(lonely).count("dead.0"), 1u);
}

TEST(moe_layer, slow_experts_time_out_into_zero_outputs_when_allowed) {
  const int64_t d = 8;
  moe_swarm s{{frozen_expert_group({"slow.0", "slow.1"}, "nop_delay", d)}};
  ASSERT_TRUE(s.ok());
  auto moe = s.layer(moe::RemoteMixtureOfExpertsOptions(d, {2}, "slow.")
                         .k_best(2)
                         .k_min(0)
                         .forward_timeout(100ms)
                         .timeout_after_k_min(100ms)
                         .allow_zero_outputs(true));
  // The search over the local DHT is fast; the calls take 500 ms > 100 ms.
  auto x = torch::randn({3, d}, torch::requires_grad());
  auto t0 = std::chrono::steady_clock::now();
  at::Tensor y;
  ASSERT_NO_THROW(y = moe->forward(x));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 450ms);
  EXPECT_TRUE(torch::equal(y, torch::zeros({3, d})));
  EXPECT_FALSE(moe->last_mask.any().item<bool>());
  y.sum().backward();
  EXPECT_TRUE(torch::equal(x.grad(), torch::zeros({3, d})));
  // Without allow_zero_outputs the same call is an error naming the samples.
  auto strict = s.layer(moe::RemoteMixtureOfExpertsOptions(d, {2}, "slow.")
                            .k_best(2)
                            .forward_timeout(300ms));
  try {
    strict->forward(x);
    FAIL() << "no exception without allow_zero_outputs";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string{e.what()}.find("3 samples"), std::string::npos)
        << e.what();
  }
}

TEST(moe_layer, detect_anomalies_refuses_nan_inputs) {
  const int64_t d = 8;
  moe_swarm s{{frozen_expert_group({"nop.0", "nop.1"}, "nop", d)}};
  ASSERT_TRUE(s.ok());
  auto x = torch::randn({2, d});
  x[1][3] = nan_value;
  std::vector<std::vector<moe::expert_info>> experts{
      {s.info("nop.0"), s.info("nop.1")}, {s.info("nop.1")}};
  auto opts = moe::RemoteMixtureOfExpertsOptions(d, {2}, "nop.")
                  .forward_timeout(5s)
                  .detect_anomalies(true);
  auto strict = s.layer(opts);
  EXPECT_THROW(strict->forward(x), std::runtime_error);
  EXPECT_THROW(strict->forward_with_experts(x, experts), std::runtime_error);
  // Finite inputs pass.
  auto ok = strict->forward_with_experts(torch::randn({2, d}), experts);
  EXPECT_TRUE(strict->last_mask.slice(1, 0, 1).all().item<bool>());
  EXPECT_TRUE(torch::isfinite(ok).all().item<bool>());
  // Without detect_anomalies the input check lets NaN through.
  // (The server may refuse NaN; zero outputs keep that out of this check.)
  auto lax = s.layer(opts.detect_anomalies(false).allow_zero_outputs(true));
  EXPECT_NO_THROW(lax->forward_with_experts(x, experts));
  // NaN output gradients are refused in backward.
  auto xg = torch::randn({2, d}, torch::requires_grad());
  auto y = strict->forward_with_experts(xg, experts);
  auto g = torch::ones({2, d});
  g[0][0] = nan_value;
  EXPECT_THROW(y.backward(g), std::exception);
}

TEST(moe_layer, no_experts_found_is_a_clear_error) {
  moe_swarm s{{}};
  ASSERT_TRUE(s.ok(false));
  auto moe = s.layer(moe::RemoteMixtureOfExpertsOptions(8, {3, 2}, "ghost.")
                         .k_best(2)
                         .forward_timeout(2s));
  auto t0 = std::chrono::steady_clock::now();
  try {
    moe->forward(torch::randn({2, 8}));
    FAIL() << "no exception without experts";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string{e.what()}.find("no experts found for prefix ghost."),
              std::string::npos)
        << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
}
