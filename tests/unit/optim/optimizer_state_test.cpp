// The optimizer state a collaborative run averages and shares: created
// before the first step without changing what that step computes, listed
// by name, step counts and learning rates read and written back.

#include "actors/optim/optimizer_state.hpp"

#include <gtest/gtest.h>
#include <torch/nn/functional/loss.h>
#include <torch/optim.h>
#include <torch/utils.h>

using namespace colony::optim;

namespace {

std::vector<at::Tensor> make_params() {
  torch::manual_seed(3);
  return {torch::randn({4, 3}).requires_grad_(),
          torch::randn({3}).requires_grad_()};
}

void set_grads(std::vector<at::Tensor>& params, int seed) {
  torch::manual_seed(seed);
  for (auto& p : params)
    p.mutable_grad() = torch::randn_like(p);
}

/// Two steps of `make(params)`, with or without the state made first.
template <class Make>
std::vector<at::Tensor> two_steps(Make make, bool initialize) {
  auto params = make_params();
  auto opt = make(params);
  if (initialize) {
    auto err = initialize_optimizer_state(*opt);
    EXPECT_FALSE(err);
  }
  for (int s = 0; s < 2; ++s) {
    set_grads(params, 10 + s);
    opt->step();
  }
  return params;
}

template <class Make>
void initialized_state_changes_no_step(Make make) {
  auto plain = two_steps(make, false);
  auto initialized = two_steps(make, true);
  for (size_t i = 0; i < plain.size(); ++i)
    EXPECT_TRUE(torch::equal(plain[i], initialized[i])) << i;
}

} // namespace

TEST(optimizer_state, initializing_adam_changes_no_step) {
  initialized_state_changes_no_step([](std::vector<at::Tensor>& p) {
    return std::make_unique<torch::optim::Adam>(
        p, torch::optim::AdamOptions(0.01).amsgrad(true));
  });
}

TEST(optimizer_state, initializing_adamw_rmsprop_and_sgd_changes_no_step) {
  initialized_state_changes_no_step([](std::vector<at::Tensor>& p) {
    return std::make_unique<torch::optim::AdamW>(
        p, torch::optim::AdamWOptions(0.01));
  });
  initialized_state_changes_no_step([](std::vector<at::Tensor>& p) {
    return std::make_unique<torch::optim::RMSprop>(
        p, torch::optim::RMSpropOptions(0.01).momentum(0.5).centered(true));
  });
  initialized_state_changes_no_step([](std::vector<at::Tensor>& p) {
    return std::make_unique<torch::optim::SGD>(
        p, torch::optim::SGDOptions(0.1).momentum(0.9));
  });
}

TEST(optimizer_state, statistics_are_views_of_the_optimizer_state) {
  auto params = make_params();
  torch::optim::Adam opt(params, torch::optim::AdamOptions(0.01));
  ASSERT_FALSE(initialize_optimizer_state(opt));
  EXPECT_EQ(optimizer_statistic_names(opt),
            (std::vector<std::string>{"exp_avg", "exp_avg_sq"}));
  auto sq = optimizer_statistic(opt, "exp_avg_sq");
  ASSERT_TRUE(sq);
  ASSERT_EQ(sq->size(), 2u);
  (*sq)[0].fill_(4.0);
  auto again = optimizer_statistic(opt, "exp_avg_sq");
  EXPECT_EQ((*again)[0].max().item<float>(), 4.0f);
  EXPECT_FALSE(optimizer_statistic(opt, "momentum_buffer"));
  EXPECT_EQ(optimizer_state_tensors(opt).size(), 4u);
}

TEST(optimizer_state, step_counts_and_learning_rates_round_trip) {
  auto params = make_params();
  torch::optim::Adam opt(params, torch::optim::AdamOptions(0.01));
  ASSERT_FALSE(initialize_optimizer_state(opt));
  EXPECT_EQ(optimizer_step_counts(opt), (std::vector<int64_t>{0, 0}));
  set_grads(params, 1);
  opt.step();
  EXPECT_EQ(optimizer_step_counts(opt), (std::vector<int64_t>{1, 1}));
  ASSERT_FALSE(set_optimizer_step_counts(opt, {7, 7}));
  EXPECT_EQ(optimizer_step_counts(opt), (std::vector<int64_t>{7, 7}));
  EXPECT_TRUE(set_optimizer_step_counts(opt, {1}));
  set_learning_rate(opt, 0.5);
  EXPECT_EQ(learning_rates(opt), (std::vector<double>{0.5}));
  EXPECT_TRUE(set_learning_rates(opt, {0.1, 0.2}));
}

TEST(optimizer_state, plain_sgd_keeps_no_state_and_lbfgs_is_refused) {
  auto params = make_params();
  torch::optim::SGD sgd(params, torch::optim::SGDOptions(0.1));
  EXPECT_FALSE(initialize_optimizer_state(sgd));
  EXPECT_TRUE(optimizer_state_tensors(sgd).empty());
  EXPECT_TRUE(optimizer_step_counts(sgd).empty());
  torch::optim::LBFGS lbfgs(params, torch::optim::LBFGSOptions(0.1));
  EXPECT_TRUE(initialize_optimizer_state(lbfgs));
}
