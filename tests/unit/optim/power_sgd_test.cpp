// PowerSGD's math without actors: which tensors compress, orthogonal P,
// exact reconstruction of low-rank gradients, error feedback, and peers
// whose averaged factors agree and approach their mean gradient.

#include "actors/optim/power_sgd.hpp"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <vector>

using namespace colony::optim;

namespace {

at::Generator gen(uint64_t seed) {
  return at::make_generator<at::CPUGeneratorImpl>(seed);
}

/// A rank-`rank` n x m matrix.
at::Tensor low_rank(int64_t n, int64_t m, int64_t rank, uint64_t seed) {
  auto g = gen(seed);
  return at::mm(at::randn({n, rank}, g), at::randn({rank, m}, g));
}

float max_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<float>();
}

/// What an all-reduce does to the factors of one phase: every peer ends
/// with the weighted mean.
void average(const std::vector<const std::vector<at::Tensor>*>& peers,
             const std::vector<double>& weights) {
  double total = 0;
  for (auto w : weights)
    total += w;
  for (size_t k = 0; k < peers[0]->size(); ++k) {
    auto mean = at::zeros_like((*peers[0])[k]);
    for (size_t i = 0; i < peers.size(); ++i)
      mean.add_((*peers[i])[k], weights[i] / total);
    for (auto* p : peers)
      (*p)[k].copy_(mean);
  }
}

/// One PowerSGD round of `peers` over their gradients (averaged in place).
void round(std::vector<power_sgd_compressor*> peers,
           std::vector<std::vector<at::Tensor>*> grads,
           std::vector<double> weights = {}) {
  if (weights.empty())
    weights.assign(peers.size(), 1.0);
  std::vector<const std::vector<at::Tensor>*> ps, qs;
  for (size_t i = 0; i < peers.size(); ++i) {
    peers[i]->begin(*grads[i]);
    ps.push_back(&peers[i]->p_factors());
    qs.push_back(&peers[i]->q_factors());
  }
  average(ps, weights);
  for (auto* p : peers)
    p->project();
  average(qs, weights);
  for (size_t i = 0; i < peers.size(); ++i)
    peers[i]->finish(*grads[i]);
}

} // namespace

TEST(power_sgd, sees_tensors_as_matrices_merging_the_smallest_neighbours) {
  EXPECT_EQ(matrix_shape({}), (std::array<int64_t, 2>{1, 1}));
  EXPECT_EQ(matrix_shape({7}), (std::array<int64_t, 2>{7, 1}));
  EXPECT_EQ(matrix_shape({4, 6}), (std::array<int64_t, 2>{4, 6}));
  // 8x3x3x3: 3x3 merges first (9), then 9x3 (27) before 8x9 (72).
  EXPECT_EQ(matrix_shape({8, 3, 3, 3}), (std::array<int64_t, 2>{8, 27}));
  EXPECT_EQ(matrix_shape({2, 50, 3}), (std::array<int64_t, 2>{100, 3}));
}

TEST(power_sgd, vectors_and_small_matrices_compress_poorly) {
  EXPECT_TRUE(compresses_poorly({1000}, 1));         // a bias or norm
  EXPECT_TRUE(compresses_poorly({}, 1));             // a scalar
  EXPECT_FALSE(compresses_poorly({5, 6}, 1));        // 1 - 11/30 = 0.63
  EXPECT_TRUE(compresses_poorly({5, 6}, 2));         // 1 - 22/30 = 0.27
  EXPECT_FALSE(compresses_poorly({64, 64}, 16));     // 1 - 2048/4096 = 0.5
  EXPECT_TRUE(compresses_poorly({64, 64}, 17));      // 0.47
  EXPECT_TRUE(compresses_poorly({64, 64}, 1, 0.99)); // 0.97 < 0.99
  EXPECT_TRUE(compresses_poorly({64, 64}, 0));
}

TEST(power_sgd, the_compressor_sends_plain_what_compresses_poorly) {
  std::vector<at::Tensor> grads{at::zeros({32, 16}), at::zeros({32}),
                                at::zeros({2, 32}), at::zeros({16, 8, 3, 3}),
                                at::zeros({32, 32}, at::kHalf)};
  power_sgd_compressor c{grads, {2}};
  EXPECT_EQ(c.compressed(), (std::vector<size_t>{0, 3}));
  EXPECT_EQ(c.plain(), (std::vector<size_t>{1, 2, 4}));
  ASSERT_EQ(c.p_factors().size(), 2u);
  EXPECT_EQ(c.p_factors()[1].sizes(), (std::vector<int64_t>{16, 2}));
  EXPECT_EQ(c.q_factors()[1].sizes(), (std::vector<int64_t>{72, 2}));
  EXPECT_EQ(c.factor_numel(), 32 * 2 + 16 * 2 + 16 * 2 + 72 * 2);
}

TEST(power_sgd, first_q_is_the_same_on_every_peer_and_follows_the_seed) {
  std::vector<at::Tensor> grads{at::zeros({32, 16})};
  power_sgd_compressor a{grads, {3}}, b{grads, {3}};
  power_sgd_options other;
  other.rank = 3;
  other.seed = 99;
  power_sgd_compressor c{grads, other};
  EXPECT_TRUE(at::equal(a.q_factors()[0], b.q_factors()[0]));
  EXPECT_FALSE(at::equal(a.q_factors()[0], c.q_factors()[0]));
  EXPECT_GT(a.q_factors()[0].abs().sum().item<float>(), 0);
}

TEST(power_sgd, orthogonalize_makes_orthonormal_columns_of_the_same_span) {
  auto g = gen(3);
  auto original = at::randn({20, 4}, g);
  auto p = original.clone();
  orthogonalize(p);
  EXPECT_LE(max_diff(at::mm(p.t(), p), at::eye(4)), 1e-5);
  // The span is kept: projecting the original onto P changes nothing.
  EXPECT_LE(max_diff(at::mm(p, at::mm(p.t(), original)), original), 1e-4);
}

TEST(power_sgd, orthogonalize_zeroes_dependent_and_zero_columns) {
  auto g = gen(4);
  auto a = at::randn({10}, g);
  auto p = at::stack({a, at::zeros({10}), a * 3, at::randn({10}, g)}, 1);
  orthogonalize(p);
  EXPECT_NEAR(p.select(1, 0).norm().item<float>(), 1, 1e-5);
  EXPECT_EQ(p.select(1, 1).abs().max().item<float>(), 0);
  EXPECT_EQ(p.select(1, 2).abs().max().item<float>(), 0);
  EXPECT_NEAR(p.select(1, 3).norm().item<float>(), 1, 1e-5);
  EXPECT_NEAR(at::dot(p.select(1, 0), p.select(1, 3)).item<float>(), 0, 1e-5);
}

TEST(power_sgd, identical_peers_reproduce_a_rank_r_gradient_in_one_round) {
  auto m = low_rank(24, 12, 3, 5);
  std::vector<at::Tensor> ga{m.clone(), at::ones({12})};
  std::vector<at::Tensor> gb{m.clone(), at::ones({12})};
  power_sgd_compressor a{ga, {3}}, b{gb, {3}};
  round({&a, &b}, {&ga, &gb});
  EXPECT_LE(max_diff(ga[0], m), 1e-4 * m.abs().max().item<float>());
  EXPECT_TRUE(at::equal(ga[0], gb[0]));
  EXPECT_LE(a.errors()[0].abs().max().item<float>(),
            1e-4 * m.abs().max().item<float>());
  // The plain tensor is the caller's to average: untouched here.
  EXPECT_TRUE(at::equal(ga[1], at::ones({12})));
}

TEST(power_sgd, a_rank_too_low_leaves_the_residual_in_error_feedback) {
  auto g = at::randn({16, 10}, gen(6));
  std::vector<at::Tensor> grads{g.clone()};
  power_sgd_compressor c{grads, {1}};
  round({&c}, {&grads});
  auto first = grads[0].clone();
  // One rank-1 round cannot reproduce a full-rank gradient: E holds the
  // rest, and sent + kept is the gradient.
  EXPECT_GT(c.errors()[0].norm().item<float>(), 0.1 * g.norm().item<float>());
  EXPECT_LE(max_diff(first + c.errors()[0], g), 1e-5);
  // Over rounds the residual is added back: what was sent plus what is
  // kept is every gradient given so far.
  auto sent = first.clone();
  for (int t = 2; t <= 5; ++t) {
    grads[0].copy_(g);
    round({&c}, {&grads});
    sent += grads[0];
    EXPECT_LE(max_diff(sent + c.errors()[0], g * t), 1e-4) << "round " << t;
  }
}

TEST(power_sgd, two_peers_agree_and_approach_their_mean_gradient) {
  auto g1 = at::randn({16, 10}, gen(7));
  auto g2 = at::randn({16, 10}, gen(8));
  double w1 = 3, w2 = 1;
  auto mean = (g1 * w1 + g2 * w2) / (w1 + w2);
  std::vector<at::Tensor> a_grads{g1.clone()}, b_grads{g2.clone()};
  power_sgd_compressor a{a_grads, {2}}, b{b_grads, {2}};
  auto sum = at::zeros_like(mean);
  float first_error = 0;
  constexpr int rounds = 200;
  for (int t = 1; t <= rounds; ++t) {
    a_grads[0].copy_(g1);
    b_grads[0].copy_(g2);
    round({&a, &b}, {&a_grads, &b_grads}, {w1, w2});
    ASSERT_LE(max_diff(a_grads[0], b_grads[0]), 1e-5) << "round " << t;
    sum += a_grads[0];
    auto error = ((sum / t) - mean).norm().item<float>();
    if (t == 1)
      first_error = error;
  }
  auto error = ((sum / rounds) - mean).norm().item<float>();
  auto scale = mean.norm().item<float>();
  EXPECT_GT(first_error, 0.3 * scale); // rank 2 of 10: one round is coarse
  EXPECT_LT(error, 0.05 * scale);      // the mean of the rounds converges
}

TEST(power_sgd, abandon_restores_q_and_keeps_error_feedback) {
  auto g = at::randn({16, 10}, gen(9));
  std::vector<at::Tensor> grads{g.clone()};
  power_sgd_compressor c{grads, {2}};
  round({&c}, {&grads});
  auto q = c.q_factors()[0].clone();
  auto e = c.errors()[0].clone();
  grads[0].copy_(g);
  c.begin(grads);
  c.project();
  ASSERT_FALSE(at::equal(c.q_factors()[0], q));
  c.abandon();
  EXPECT_TRUE(at::equal(c.q_factors()[0], q));
  EXPECT_TRUE(at::equal(c.errors()[0], e));
  EXPECT_TRUE(at::equal(grads[0], g)); // local gradients stay
}
