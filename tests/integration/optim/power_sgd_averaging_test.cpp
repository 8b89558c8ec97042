// PowerSGD gradient averaging between real nodes: two collaborative
// optimizers train one model with it (identical parameters, falling loss,
// fewer bytes per epoch than plain averaging), and a peer missing from
// phase 2 falls back to its local gradients alone while the others agree.

#include "actors/averaging/decentralized_averager.hpp"
#include "actors/optim/collaborative_optimizer.hpp"
#include "actors/optim/power_sgd_averager.hpp"
#include "messages/error.hpp"
#include "tests/integration/test_nodes.hpp"
#include "tests/support/wait_until.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim.h>
#include <torch/utils.h>

#include <future>
#include <iostream>

using namespace colony;
using namespace colony::optim;
using namespace colony::testing;
using namespace std::chrono_literals;

namespace {

/// Two hidden matrices large enough for rank-2 factors (64x16, 32x64),
/// a small output matrix and biases that go plain.
struct mlpImpl : torch::nn::Module {
  mlpImpl() {
    first = register_module("first", torch::nn::Linear(16, 64));
    second = register_module("second", torch::nn::Linear(64, 32));
    third = register_module("third", torch::nn::Linear(32, 2));
  }
  at::Tensor forward(const at::Tensor& x) {
    return third->forward(
        torch::tanh(second->forward(torch::tanh(first->forward(x)))));
  }
  torch::nn::Linear first{nullptr}, second{nullptr}, third{nullptr};
};
TORCH_MODULE(mlp);

constexpr int64_t share = 32; ///< samples per peer and epoch

/// `rows` samples of a fixed smooth function, drawn with `seed`.
std::pair<at::Tensor, at::Tensor> samples(uint64_t seed, int64_t rows) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto x = at::randn({rows, 16}, gen);
  auto y = at::sin(x.narrow(1, 0, 2)) + 0.5 * x.narrow(1, 2, 2);
  return {x, y};
}

float loss_on(mlp& m, const std::pair<at::Tensor, at::Tensor>& data) {
  at::NoGradGuard no_grad;
  return torch::mse_loss(m->forward(data.first), data.second).item<float>();
}

at::Tensor flat_parameters(mlp& m) {
  std::vector<at::Tensor> flat;
  for (auto& p : m->parameters())
    flat.push_back(p.detach().reshape(-1).clone());
  return at::cat(flat);
}

struct trainer_peer {
  std::unique_ptr<node> n;
  mlp net{nullptr};
  std::unique_ptr<collaborative_optimizer> opt;
};

std::unique_ptr<node> start_dht_node(const std::string& bootstrap) {
  auto cfg = test_config();
  cfg.dht_enabled = true;
  cfg.dht.wait_timeout = 3000ms;
  if (!bootstrap.empty())
    cfg.initial_peers = {bootstrap};
  auto n = start_node(cfg);
  if (n && !bootstrap.empty() && !n->join_dht())
    return nullptr;
  return n;
}

/// What one run of two peers measured.
struct run_result {
  std::vector<std::vector<at::Tensor>> after; ///< [peer][epoch] parameters
  std::vector<collaborative_status> status;
  float loss_before = 0;
  float loss_after = 0;
};

/// Two peers on one DHT train `epochs` epochs of 2 * share samples with
/// SGD, averaging gradients with `kind`; parameters are never averaged, so
/// only the gradient rounds keep the peers alike.
run_result train_two_peers(grad_averager_kind kind, uint64_t epochs) {
  run_result out;
  auto eval = samples(4242, 512);
  std::vector<std::unique_ptr<trainer_peer>> peers;
  std::string bootstrap;
  for (size_t i = 0; i < 2; ++i) {
    auto p = std::make_unique<trainer_peer>();
    p->n = start_dht_node(bootstrap);
    if (!p->n)
      return out;
    if (bootstrap.empty())
      bootstrap = p->n->address();
    torch::manual_seed(23); // every peer starts from the same parameters
    p->net = mlp{};
    collaborative_options o;
    o.run_id = "powersgd";
    o.target_batch_size = 2 * share;
    o.matchmaking_time = 3000ms;
    o.averaging_timeout = 20000ms;
    o.next_chunk_timeout = 3000ms;
    o.load_state_timeout = 20000ms;
    o.min_refresh_period = 100ms;
    o.max_refresh_period = 500ms;
    o.part_size_bytes = 4096;
    o.average_state_every = 1000;
    o.grad_averager = kind;
    o.power_sgd_rank = 2;
    o.seed = 31 + i;
    swarm_endpoint endpoint{&p->n->system(), p->n->transport(),
                            p->n->dht(),     p->n->shared_me(),
                            p->n->address(), p->n->shared_log()};
    auto opt = collaborative_optimizer::create(
        endpoint,
        std::make_shared<torch::optim::SGD>(
            p->net->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9)),
        o);
    if (!opt) {
      ADD_FAILURE() << describe(opt.error());
      return out;
    }
    p->opt = std::move(*opt);
    peers.push_back(std::move(p));
  }
  out.loss_before = loss_on(peers[0]->net, eval);
  out.after.resize(2);
  std::vector<std::future<std::string>> runs;
  for (size_t i = 0; i < 2; ++i)
    runs.push_back(std::async(std::launch::async, [&, i]() -> std::string {
      auto& p = *peers[i];
      for (uint64_t e = 0; e < epochs; ++e) {
        auto [x, y] = samples(1000 + e, 2 * share);
        auto rows = share * static_cast<int64_t>(i);
        torch::mse_loss(p.net->forward(x.narrow(0, rows, share)),
                        y.narrow(0, rows, share))
            .backward();
        if (auto r = p.opt->step(share); !r)
          return describe(r.error());
        bool next = wait_until(
            30000ms,
            [&] {
              auto r = p.opt->step(0);
              return r && p.opt->local_epoch() > e;
            },
            20ms);
        if (!next)
          return "peer " + std::to_string(i) + " stuck in epoch " +
                 std::to_string(e);
        auto guard = p.opt->lock_parameters();
        out.after[i].push_back(flat_parameters(p.net));
      }
      return {};
    }));
  for (auto& r : runs)
    EXPECT_EQ(r.get(), "");
  out.loss_after = loss_on(peers[0]->net, eval);
  for (auto& p : peers)
    out.status.push_back(p->opt->status());
  return out;
}

/// A node with a PowerSGD averager over `grads`, whose phase 2 runs under
/// `phase2_prefix`.
struct psgd_peer {
  std::unique_ptr<node> n;
  std::vector<at::Tensor> grads;
  std::unique_ptr<power_sgd_averager> averager;
};

std::unique_ptr<psgd_peer> make_psgd_peer(const std::string& bootstrap,
                                          std::vector<at::Tensor> grads,
                                          std::string phase2_prefix,
                                          uint64_t seed) {
  auto p = std::make_unique<psgd_peer>();
  p->n = start_dht_node(bootstrap);
  if (!p->n)
    return nullptr;
  p->grads = std::move(grads);
  auto* n = p->n.get();
  auto make = [&](int phase, std::vector<at::Tensor> tensors,
                  std::shared_ptr<std::mutex> lock) {
    averaging::averager_config ac;
    ac.tensors = std::move(tensors);
    ac.transport = n->transport();
    ac.dht = n->dht();
    ac.self = averaging::peer_contact{n->me().peer_id(), n->address()};
    ac.options.prefix = phase == 1 ? "psgd" : phase2_prefix;
    ac.options.min_matchmaking_time = 1500ms;
    ac.options.part_size_bytes = 1024;
    ac.options.next_chunk_timeout = 3000ms;
    ac.options.allow_state_sharing = false;
    ac.options.initial_group_bits = "0000";
    ac.tensors_lock = std::move(lock);
    ac.log = n->shared_log();
    ac.seed = seed + static_cast<uint64_t>(phase);
    return averaging::decentralized_averager::create(n->system(),
                                                     std::move(ac));
  };
  power_sgd_options po;
  po.rank = 2;
  auto a = power_sgd_averager::create(p->grads, po, make, n->shared_log());
  if (!a) {
    ADD_FAILURE() << describe(a.error());
    return nullptr;
  }
  p->averager = std::move(*a);
  return p;
}

} // namespace

TEST(power_sgd_averaging,
     two_peers_train_alike_and_send_fewer_bytes_than_plain) {
  constexpr uint64_t epochs = 6;
  auto plain = train_two_peers(grad_averager_kind::plain, epochs);
  auto psgd = train_two_peers(grad_averager_kind::power_sgd, epochs);
  for (auto* run : {&plain, &psgd}) {
    ASSERT_EQ(run->status.size(), 2u);
    for (size_t i = 0; i < 2; ++i) {
      EXPECT_EQ(run->status[i].grad_rounds_averaged, epochs) << "peer " << i;
      ASSERT_EQ(run->after[i].size(), epochs);
    }
    for (uint64_t e = 0; e < epochs; ++e)
      EXPECT_LE((run->after[1][e] - run->after[0][e]).abs().max().item<float>(),
                1e-6)
          << "epoch " << e;
    EXPECT_LT(run->loss_after, 0.8 * run->loss_before);
  }
  double plain_bytes = 0, psgd_bytes = 0;
  for (size_t i = 0; i < 2; ++i) {
    plain_bytes += double(plain.status[i].grad_bytes_sent) / epochs / 2;
    psgd_bytes += double(psgd.status[i].grad_bytes_sent) / epochs / 2;
  }
  std::cout << "bytes sent per peer and epoch: plain " << plain_bytes
            << ", PowerSGD rank 2 " << psgd_bytes << "\n"
            << "eval loss: plain " << plain.loss_before << " -> "
            << plain.loss_after << ", PowerSGD " << psgd.loss_before << " -> "
            << psgd.loss_after << "\n";
  EXPECT_GT(psgd_bytes, 0);
  // 3234 gradient elements plain; 352 factor and 162 plain elements with
  // PowerSGD: about a sixth, plus the second round's framing.
  EXPECT_LT(psgd_bytes, 0.3 * plain_bytes);
}

TEST(power_sgd_averaging, a_peer_missing_from_phase_two_falls_back_alone) {
  auto local = [](uint64_t seed) {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    return std::vector<at::Tensor>{at::randn({32, 16}, gen),
                                   at::randn({32}, gen)};
  };
  std::vector<std::unique_ptr<psgd_peer>> peers;
  std::string bootstrap;
  for (size_t i = 0; i < 3; ++i) {
    // The third peer's phase 2 looks for its group elsewhere: it is
    // missing from the others' phase 2, and they from its.
    auto prefix = i == 2 ? "psgd_phase2_elsewhere" : "psgd_phase2";
    peers.push_back(make_psgd_peer(bootstrap, local(50 + i), prefix, 90 + i));
    ASSERT_TRUE(peers.back());
    if (bootstrap.empty())
      bootstrap = peers.back()->n->address();
  }
  std::vector<std::future<caf::expected<averaging::step_result>>> steps;
  for (auto& p : peers)
    steps.push_back(std::async(std::launch::async, [&p] {
      if (auto err = p->averager->set_group_bits("0000"))
        return caf::expected<averaging::step_result>{err};
      averaging::step_request r;
      r.expected_group_size = 3;
      return p->averager->step(r);
    }));
  std::vector<caf::expected<averaging::step_result>> results;
  for (auto& s : steps)
    results.push_back(s.get());
  for (size_t i = 0; i < 2; ++i)
    ASSERT_TRUE(results[i])
        << "peer " << i << ": " << describe(results[i].error());
  ASSERT_FALSE(results[2]);
  EXPECT_TRUE(is_error(results[2].error(), errc::allreduce_failed))
      << describe(results[2].error());
  EXPECT_EQ(results[0]->group.members.size(), 3u); // phase 1 had everyone
  // The two that met in phase 2 agree; the third keeps its local
  // gradients (the plain bias too, which phase 1 had averaged), its error
  // feedback stays zero.
  auto& a = peers[0]->grads;
  auto& b = peers[1]->grads;
  auto& c = peers[2]->grads;
  EXPECT_LE((a[0] - b[0]).abs().max().item<float>(), 1e-6);
  EXPECT_LE((a[1] - b[1]).abs().max().item<float>(), 1e-6);
  EXPECT_FALSE(at::allclose(a[0], local(50)[0]));
  EXPECT_TRUE(at::equal(c[0], local(52)[0]));
  EXPECT_TRUE(at::equal(c[1], local(52)[1]));
  EXPECT_EQ(
      peers[2]->averager->compressor().errors()[0].abs().max().item<float>(),
      0);
  // The bias went plain with phase 1: the mean of all three.
  auto mean_bias = (local(50)[1] + local(51)[1] + local(52)[1]) / 3;
  EXPECT_LE((a[1] - mean_bias).abs().max().item<float>(), 1e-5);
  // The matrix is the two peers' mean gradient seen through phase 1's P.
  auto p = peers[0]->averager->compressor().p_factors()[0];
  auto mean_ab = (local(50)[0] + local(51)[0]) / 2;
  EXPECT_LE(
      (a[0] - at::mm(p, at::mm(p.t(), mean_ab))).abs().max().item<float>(),
      1e-4);
}
