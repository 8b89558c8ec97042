// Remote experts as LibTorch modules: forward and backward through a real
// server on loopback, autograd, errors as exceptions, concurrent calls.

#include "actors/moe/client/expert_calls.hpp"
#include "actors/moe/client/expert_client.hpp"
#include "actors/moe/client/remote_expert.hpp"
#include "tests/integration/test_nodes.hpp"

#include <torch/nn/modules/linear.h>

using namespace colony;
using namespace colony::testing;
using namespace std::chrono_literals;

namespace {

struct expert_swarm : local_expert_server {
  using local_expert_server::local_expert_server;

  moe::RemoteExpert expert(const std::string& uid) {
    return moe::RemoteExpert(client->system(), client->transport(),
                             moe::RemoteExpertOptions(uid, server->address())
                                 .forward_timeout(5s)
                                 .backward_timeout(5s));
  }
};

} // namespace

TEST(remote_expert, output_shapes_and_row_slices) {
  expert_swarm s{{frozen_expert_group({"ffn.0"}, "ffn", 16)}};
  ASSERT_TRUE(s.ok());
  auto expert = s.expert("ffn.0");
  for (int64_t batch : {1, 3}) {
    auto y = expert->forward_one(torch::randn({batch, 16}));
    EXPECT_EQ(y.sizes(), (std::vector<int64_t>{batch, 16}));
  }
  auto x = torch::randn({3, 16});
  auto all = expert->forward_one(x);
  for (int64_t row = 0; row < 3; ++row)
    EXPECT_TRUE(torch::allclose(expert->forward_one(x.slice(0, row, row + 1)),
                                all.slice(0, row, row + 1), 1e-5, 1e-5));
  // The module composes like any other: a clone calls the same expert.
  auto copy = std::dynamic_pointer_cast<moe::RemoteExpertImpl>(expert->clone());
  ASSERT_TRUE(copy);
  EXPECT_TRUE(torch::allclose(copy->forward_one(x), all, 1e-6, 1e-6));
}

TEST(remote_expert, gradients_flow_through_the_server) {
  expert_swarm s{{frozen_expert_group({"nop.0"}, "nop", 8),
                  frozen_expert_group({"ffn.0"}, "ffn", 8)}};
  ASSERT_TRUE(s.ok());
  // nop: y = x, so d(sum(y * w))/dx = w.
  auto x = torch::randn({4, 8}, torch::requires_grad());
  auto w = torch::randn({4, 8});
  auto y = s.expert("nop.0")->forward_one(x);
  (y * w).sum().backward();
  ASSERT_TRUE(x.grad().defined());
  EXPECT_TRUE(torch::allclose(x.grad(), w, 1e-6, 1e-6));
  // ffn: the gradient equals what the server's backward returns directly.
  auto x2 = torch::randn({4, 8}, torch::requires_grad());
  auto g = torch::randn({4, 8});
  auto y2 = s.expert("ffn.0")->forward_one(x2);
  y2.backward(g);
  moe::expert_client direct{s.client->system(), s.client->transport()};
  auto expected =
      direct.backward(s.server->address(), "ffn.0", {x2.detach()}, {g}, 5s);
  ASSERT_TRUE(expected) << describe(expected.error());
  EXPECT_TRUE(torch::allclose(x2.grad(), (*expected)[0], 1e-5, 1e-5));
  // Through a local layer before and after, as in a model.
  auto lin = torch::nn::Linear(8, 8);
  auto z = lin->forward(s.expert("ffn.0")->forward_one(lin->forward(x2)));
  z.sum().backward();
  EXPECT_TRUE(lin->weight.grad().defined());
  EXPECT_GT(lin->weight.grad().abs().sum().item<float>(), 0);
}

TEST(remote_expert, server_errors_become_exceptions_naming_the_problem) {
  expert_swarm s{{frozen_expert_group({"ffn.0"}, "ffn", 16)}};
  ASSERT_TRUE(s.ok());
  try {
    s.expert("ffn.0")->forward_one(torch::randn({2, 17}));
    FAIL() << "no exception for a wrong width";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string{e.what()}.find("17"), std::string::npos) << e.what();
    EXPECT_NE(std::string{e.what()}.find("ffn.0"), std::string::npos);
  }
  try {
    s.expert("ffn.9")->forward_one(torch::randn({2, 16}));
    FAIL() << "no exception for an unknown uid";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string{e.what()}.find("ffn.9"), std::string::npos)
        << e.what();
  }
  // A server that is not there fails within the deadline.
  moe::RemoteExpert gone(
      s.client->system(), s.client->transport(),
      moe::RemoteExpertOptions("ffn.0", "127.0.0.1:1").forward_timeout(2s));
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(gone->forward_one(torch::randn({1, 16})), std::runtime_error);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

TEST(remote_expert, concurrent_calls_with_k_min_deadline) {
  // The slow expert has a server (and device) of its own: on one device it
  // would hold up the fast experts' batches too.
  expert_swarm s{{frozen_expert_group({"nop.0", "nop.1"}, "nop", 8)}};
  expert_swarm slow{{frozen_expert_group({"slow.0"}, "nop_delay", 8)}};
  ASSERT_TRUE(s.ok() && slow.ok());
  auto x = torch::randn({2, 8});
  std::vector<moe::expert_call> calls;
  for (auto uid : {"nop.0", "slow.0", "nop.1", "missing.0"})
    calls.push_back({std::string{uid} == "slow.0" ? slow.server->address()
                                                  : s.server->address(),
                     uid,
                     "forward",
                     {x}});
  moe::expert_call_deadlines d;
  d.timeout = 3s;
  d.k_min = 2;
  d.timeout_after_k_min = 100ms;
  auto t0 = std::chrono::steady_clock::now();
  auto results =
      moe::call_experts(s.client->system(), s.client->transport(), calls, d);
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_EQ(results.size(), 4u);
  EXPECT_TRUE(results[0]);
  EXPECT_TRUE(results[2]);
  ASSERT_FALSE(results[1]); // 0.5 s > 100 ms after the second answer
  EXPECT_TRUE(is_error(results[1].error(), errc::timeout))
      << describe(results[1].error());
  ASSERT_FALSE(results[3]);
  EXPECT_TRUE(is_error(results[3].error(), errc::unknown_service));
  EXPECT_LT(took, 450ms);
  EXPECT_TRUE(torch::allclose((*results[0])[0], x));
  // Without the k_min cut-off the slow expert answers.
  d.k_min = 0;
  results =
      moe::call_experts(s.client->system(), s.client->transport(), calls, d);
  EXPECT_TRUE(results[1]) << describe(results[1].error());
}
