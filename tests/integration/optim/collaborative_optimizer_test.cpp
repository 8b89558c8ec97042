// Collaborative optimizers on one DHT: peers that each contribute a fixed
// share of every epoch's batch end each epoch with the parameters of one
// process that trained on the whole batch; joiners and laggards load the
// swarm's state; a peer killed mid-epoch does not stall the others.

#include "actors/optim/collaborative_optimizer.hpp"
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

#include <atomic>
#include <future>
#include <thread>

using namespace colony;
using namespace colony::optim;
using namespace colony::testing;
using namespace std::chrono_literals;

namespace {

/// The model every peer trains: small, with gradients far from zero so
/// that Adam's normalized steps compare closely.
struct tiny_netImpl : torch::nn::Module {
  tiny_netImpl() {
    first = register_module("first", torch::nn::Linear(6, 5));
    second = register_module("second", torch::nn::Linear(5, 2));
  }
  at::Tensor forward(const at::Tensor& x) {
    return second->forward(torch::tanh(first->forward(x)));
  }
  torch::nn::Linear first{nullptr}, second{nullptr};
};
TORCH_MODULE(tiny_net);
using model = tiny_net;

model make_model() {
  torch::manual_seed(17); // every peer starts from the same parameters
  return model{};
}

enum class kind { sgd, adam };

std::shared_ptr<torch::optim::Optimizer> make_optimizer(kind k, model& m) {
  if (k == kind::sgd)
    return std::make_shared<torch::optim::SGD>(
        m->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  return std::make_shared<torch::optim::Adam>(m->parameters(),
                                              torch::optim::AdamOptions(0.01));
}

/// Samples of epoch `epoch`, rows [begin, begin + count) of it.
std::pair<at::Tensor, at::Tensor> batch(uint64_t epoch, int64_t begin,
                                        int64_t count) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1000 + epoch);
  auto x = at::randn({64, 6}, gen);
  auto y = at::randn({64, 2}, gen) + x.narrow(1, 0, 2);
  return {x.narrow(0, begin, count), y.narrow(0, begin, count)};
}

void backward_on(model& m, uint64_t epoch, int64_t begin, int64_t count) {
  auto [x, y] = batch(epoch, begin, count);
  torch::mse_loss(m->forward(x), y).backward();
}

at::Tensor flat_parameters(model& m) {
  std::vector<at::Tensor> flat;
  for (auto& p : m->parameters())
    flat.push_back(p.detach().reshape(-1).clone());
  return at::cat(flat);
}

struct peer {
  std::unique_ptr<node> n;
  model net;
  std::unique_ptr<collaborative_optimizer> opt;
};

collaborative_options test_options(uint64_t target) {
  collaborative_options o;
  o.run_id = "testrun";
  o.target_batch_size = target;
  o.matchmaking_time = 3000ms;
  o.averaging_timeout = 20000ms;
  o.next_chunk_timeout = 3000ms;
  o.load_state_timeout = 20000ms;
  o.min_refresh_period = 100ms;
  o.max_refresh_period = 500ms;
  o.part_size_bytes = 4096;
  return o;
}

class swarm {
 public:
  /// Starts a node on the DHT (the first bootstraps the others).
  std::unique_ptr<node> start() {
    auto cfg = test_config();
    cfg.dht_enabled = true;
    cfg.dht.wait_timeout = 3000ms;
    if (!first_address_.empty())
      cfg.initial_peers = {first_address_};
    auto n = start_node(cfg);
    if (!n)
      return nullptr;
    if (first_address_.empty())
      first_address_ = n->address();
    else if (!n->join_dht())
      return nullptr;
    return n;
  }

  /// A peer with its own node, model and optimizer.
  std::unique_ptr<peer> add(kind k, const collaborative_options& options,
                            std::vector<at::Tensor> extra_tensors = {}) {
    auto p = std::make_unique<peer>();
    p->n = start();
    if (!p->n)
      return nullptr;
    p->net = make_model();
    swarm_endpoint endpoint{&p->n->system(), p->n->transport(),
                            p->n->dht(),     p->n->shared_me(),
                            p->n->address(), p->n->shared_log()};
    auto opt = collaborative_optimizer::create(
        endpoint, make_optimizer(k, p->net), options, std::move(extra_tensors));
    if (!opt) {
      ADD_FAILURE() << describe(opt.error());
      return nullptr;
    }
    p->opt = std::move(*opt);
    return p;
  }

 private:
  std::string first_address_;
};

/// Steps with no new samples until the epoch passes `epoch`.
bool wait_for_epoch_after(peer& p, uint64_t epoch,
                          std::chrono::milliseconds timeout = 30000ms) {
  return wait_until(
      timeout,
      [&] {
        auto r = p.opt->step(0);
        return r && p.opt->local_epoch() > epoch;
      },
      20ms);
}

/// Peer `i` trains `epochs` epochs on its `share` rows of each; empty or
/// what went wrong.
std::string train_share(peer& p, size_t i, int64_t share, uint64_t epochs) {
  for (uint64_t e = 0; e < epochs; ++e) {
    backward_on(p.net, e, share * static_cast<int64_t>(i), share);
    if (auto r = p.opt->step(share); !r)
      return describe(r.error());
    if (!wait_for_epoch_after(p, e))
      return "peer " + std::to_string(i) + " stuck in epoch " +
             std::to_string(e);
  }
  return {};
}

/// One process training on the whole batch of every epoch.
std::vector<at::Tensor> reference_run(kind k, int64_t rows, uint64_t epochs) {
  auto m = make_model();
  auto opt = make_optimizer(k, m);
  std::vector<at::Tensor> after;
  for (uint64_t e = 0; e < epochs; ++e) {
    opt->zero_grad();
    backward_on(m, e, 0, rows);
    opt->step();
    after.push_back(flat_parameters(m));
  }
  return after;
}

/// One process applying each epoch's gradients one epoch late, as peers
/// with delay_grad_averaging do: the gradients of epoch e, computed at the
/// parameters of epoch e, are applied when epoch e + 1 ends.
std::vector<at::Tensor> delayed_reference_run(kind k, int64_t rows,
                                              uint64_t epochs) {
  auto m = make_model();
  auto opt = make_optimizer(k, m);
  std::vector<at::Tensor> pending;
  std::vector<at::Tensor> after;
  for (uint64_t e = 0; e < epochs; ++e) {
    opt->zero_grad();
    backward_on(m, e, 0, rows);
    std::vector<at::Tensor> grads;
    for (auto& p : m->parameters())
      grads.push_back(p.grad().clone());
    if (!pending.empty()) {
      auto params = m->parameters();
      for (size_t i = 0; i < params.size(); ++i)
        params[i].mutable_grad().copy_(pending[i]);
      opt->step();
    }
    pending = std::move(grads);
    after.push_back(flat_parameters(m));
  }
  return after;
}

void peers_match_one_process(kind k, size_t count, bool delayed = false) {
  constexpr int64_t share = 16;
  constexpr uint64_t epochs = 3;
  auto rows = share * static_cast<int64_t>(count);
  auto expected = delayed ? delayed_reference_run(k, rows, epochs)
                          : reference_run(k, rows, epochs);
  swarm s;
  std::vector<std::unique_ptr<peer>> peers;
  for (size_t i = 0; i < count; ++i) {
    auto o = test_options(static_cast<uint64_t>(rows));
    o.seed = 11 + i;
    o.delay_grad_averaging = delayed;
    peers.push_back(s.add(k, o));
    ASSERT_TRUE(peers.back());
  }
  // after[peer][epoch]: parameters once the peer ended the epoch.
  std::vector<std::vector<at::Tensor>> after(count);
  std::vector<std::future<std::string>> runs;
  for (size_t i = 0; i < count; ++i)
    runs.push_back(std::async(std::launch::async, [&, i]() -> std::string {
      auto& p = *peers[i];
      for (uint64_t e = 0; e < epochs; ++e) {
        backward_on(p.net, e, share * static_cast<int64_t>(i), share);
        auto r = p.opt->step(share);
        if (!r)
          return describe(r.error());
        if (!wait_for_epoch_after(p, e))
          return "peer " + std::to_string(i) + " stuck in epoch " +
                 std::to_string(e);
        auto guard = p.opt->lock_parameters();
        after[i].push_back(flat_parameters(p.net));
      }
      return {};
    }));
  for (auto& r : runs)
    EXPECT_EQ(r.get(), "");
  for (size_t i = 0; i < count; ++i) {
    ASSERT_EQ(after[i].size(), epochs);
    auto status = peers[i]->opt->status();
    // A delayed peer's last round may still run.
    EXPECT_GE(status.grad_rounds_averaged, delayed ? epochs - 1 : epochs)
        << "peer " << i;
    for (uint64_t e = 0; e < epochs; ++e) {
      EXPECT_LE((after[i][e] - after[0][e]).abs().max().item<float>(), 1e-6)
          << "peer " << i << " epoch " << e;
      EXPECT_LE((after[i][e] - expected[e]).abs().max().item<float>(), 1e-5)
          << "peer " << i << " epoch " << e;
    }
  }
}

} // namespace

TEST(collaborative_optimizer, two_sgd_peers_match_one_process_on_their_union) {
  peers_match_one_process(kind::sgd, 2);
}

TEST(collaborative_optimizer,
     two_delayed_adam_peers_match_one_process_one_epoch_late) {
  peers_match_one_process(kind::adam, 2, true);
}

TEST(collaborative_optimizer,
     three_adam_peers_match_one_process_on_their_union) {
  peers_match_one_process(kind::adam, 3);
}

TEST(collaborative_optimizer, state_rounds_give_each_role_its_codec) {
  // Parameters and Adam's moments travel 8-bit, the extra tensors exact:
  // their average must come out exact, which 8 bits could not give.
  constexpr int64_t share = 16;
  constexpr uint64_t epochs = 3;
  swarm s;
  std::vector<std::unique_ptr<peer>> peers;
  std::vector<at::Tensor> extras;
  for (int i = 0; i < 2; ++i) {
    auto o = test_options(2 * share);
    o.seed = 21 + i;
    o.delay_state_averaging = false;
    o.average_opt_statistics = {"exp_avg", "exp_avg_sq"};
    o.state_averaging_compression.fallback = {compression_type::uniform_8bit,
                                              1};
    o.state_averaging_compression.other = compression_type::none;
    extras.push_back(at::arange(1000, at::kFloat) * (i + 1) / 7.0);
    peers.push_back(s.add(kind::adam, o, {extras.back()}));
    ASSERT_TRUE(peers.back());
  }
  std::vector<std::future<std::string>> runs;
  for (size_t i = 0; i < peers.size(); ++i)
    runs.push_back(std::async(std::launch::async, [&, i] {
      return train_share(*peers[i], i, share, epochs);
    }));
  for (auto& r : runs)
    EXPECT_EQ(r.get(), "");
  auto mean = at::arange(1000, at::kFloat) * 1.5 / 7.0;
  for (size_t i = 0; i < peers.size(); ++i) {
    auto status = peers[i]->opt->status();
    EXPECT_GE(status.state_rounds_averaged, 1u) << "peer " << i;
    auto guard = peers[i]->opt->lock_parameters();
    EXPECT_LE((extras[i] - mean).abs().max().item<float>(), 1e-4)
        << "peer " << i;
  }
}

TEST(collaborative_optimizer, a_lone_peer_steps_each_epoch_with_its_own_batch) {
  swarm s;
  auto p = s.add(kind::sgd, test_options(32));
  ASSERT_TRUE(p);
  auto expected = reference_run(kind::sgd, 32, 2);
  for (uint64_t e = 0; e < 2; ++e) {
    backward_on(p->net, e, 0, 32);
    auto r = p->opt->step(32);
    ASSERT_TRUE(r) << describe(r.error());
    EXPECT_TRUE(r->epoch_changed);
    EXPECT_FALSE(r->averaged);
    EXPECT_EQ(p->opt->local_epoch(), e + 1);
    EXPECT_LE((flat_parameters(p->net) - expected[e]).abs().max().item<float>(),
              1e-6);
  }
}

TEST(collaborative_optimizer, a_joiner_starts_at_the_swarms_epoch_and_state) {
  swarm s;
  std::vector<std::unique_ptr<peer>> peers;
  for (size_t i = 0; i < 2; ++i) {
    peers.push_back(s.add(kind::adam, test_options(32)));
    ASSERT_TRUE(peers.back());
  }
  constexpr uint64_t epochs = 2;
  std::vector<std::future<bool>> runs;
  for (size_t i = 0; i < 2; ++i)
    runs.push_back(std::async(std::launch::async, [&, i] {
      for (uint64_t e = 0; e < epochs; ++e) {
        backward_on(peers[i]->net, e, 16 * static_cast<int64_t>(i), 16);
        if (!peers[i]->opt->step(16) || !wait_for_epoch_after(*peers[i], e))
          return false;
      }
      return true;
    }));
  for (auto& r : runs)
    ASSERT_TRUE(r.get());
  // The joiner's model starts elsewhere: it must take the swarm's.
  auto joiner = s.add(kind::adam, test_options(32));
  ASSERT_TRUE(joiner);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : joiner->net->parameters())
      p.add_(1.0);
  }
  ASSERT_TRUE(wait_until(20000ms, [&] {
    backward_on(joiner->net, 0, 0, 16);
    auto r = joiner->opt->step(16);
    return r && r->loaded_state;
  }));
  EXPECT_GE(joiner->opt->local_epoch(), epochs);
  auto theirs = [&] {
    auto guard = peers[0]->opt->lock_parameters();
    return flat_parameters(peers[0]->net);
  }();
  EXPECT_LE((flat_parameters(joiner->net) - theirs).abs().max().item<float>(),
            1e-6);
  EXPECT_EQ(joiner->opt->status().states_loaded, 1u);
}

TEST(collaborative_optimizer, a_peer_killed_mid_epoch_does_not_stall_the_rest) {
  swarm s;
  auto options = test_options(48);
  std::vector<std::unique_ptr<peer>> peers;
  for (size_t i = 0; i < 3; ++i) {
    peers.push_back(s.add(kind::sgd, options));
    ASSERT_TRUE(peers.back());
  }
  // Peer 2 contributes its share, then dies before the epoch ends.
  backward_on(peers[2]->net, 0, 32, 16);
  ASSERT_TRUE(peers[2]->opt->step(16));
  peers[2].reset();
  auto start = std::chrono::steady_clock::now();
  std::vector<std::future<bool>> runs;
  for (size_t i = 0; i < 2; ++i)
    runs.push_back(std::async(std::launch::async, [&, i] {
      backward_on(peers[i]->net, 0, 16 * static_cast<int64_t>(i), 16);
      return peers[i]->opt->step(16) && wait_for_epoch_after(*peers[i], 0);
    }));
  for (auto& r : runs)
    ASSERT_TRUE(r.get());
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, options.averaging_timeout + options.matchmaking_time);
  auto a = flat_parameters(peers[0]->net);
  auto b = flat_parameters(peers[1]->net);
  EXPECT_LE((a - b).abs().max().item<float>(), 1e-6);
  EXPECT_EQ(peers[0]->opt->status().grad_rounds_averaged, 1u);
}

TEST(collaborative_optimizer,
     a_frozen_peer_loads_the_state_and_drops_stale_grads) {
  swarm s;
  std::vector<std::unique_ptr<peer>> peers;
  for (size_t i = 0; i < 3; ++i) {
    peers.push_back(s.add(kind::sgd, test_options(32)));
    ASSERT_TRUE(peers.back());
  }
  // Peer 2 computes gradients of epoch 0, then freezes (no step) while
  // peers 0 and 1 train two epochs without it.
  backward_on(peers[2]->net, 0, 0, 16);
  std::vector<std::future<bool>> runs;
  for (size_t i = 0; i < 2; ++i)
    runs.push_back(std::async(std::launch::async, [&, i] {
      for (uint64_t e = 0; e < 2; ++e) {
        backward_on(peers[i]->net, e, 16 * static_cast<int64_t>(i), 16);
        if (!peers[i]->opt->step(16) || !wait_for_epoch_after(*peers[i], e))
          return false;
      }
      return true;
    }));
  for (auto& r : runs)
    ASSERT_TRUE(r.get());
  // Resumed: its stale gradients must not reach the parameters.
  auto r = peers[2]->opt->step(16);
  ASSERT_TRUE(r) << describe(r.error());
  EXPECT_TRUE(r->loaded_state);
  EXPECT_FALSE(r->epoch_changed);
  EXPECT_GE(peers[2]->opt->local_epoch(), 2u);
  EXPECT_EQ(peers[2]->opt->status().local_samples, 0u);
  auto theirs = flat_parameters(peers[0]->net);
  EXPECT_LE((flat_parameters(peers[2]->net) - theirs).abs().max().item<float>(),
            1e-6);
}

TEST(collaborative_optimizer, an_auxiliary_peer_joins_the_rounds_without_data) {
  constexpr int64_t share = 16;
  constexpr uint64_t epochs = 3;
  auto expected = reference_run(kind::sgd, 2 * share, epochs);
  swarm s;
  std::vector<std::unique_ptr<peer>> peers;
  for (size_t i = 0; i < 2; ++i) {
    peers.push_back(s.add(kind::sgd, test_options(2 * share)));
    ASSERT_TRUE(peers.back());
  }
  // The auxiliary peer's own parameters start elsewhere: were they
  // averaged in, the peers would leave the reference run.
  auto aux_options = test_options(2 * share);
  aux_options.auxiliary = true;
  auto aux = s.add(kind::sgd, aux_options);
  ASSERT_TRUE(aux);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : aux->net->parameters())
      p.add_(5.0);
  }
  std::atomic<bool> done{false};
  auto helper = std::async(std::launch::async, [&] {
    // Steps until the peers are done, polling as a node would.
    std::string failure;
    bool ended = wait_until(
        60000ms,
        [&] {
          if (auto r = aux->opt->step(std::nullopt); !r)
            failure = describe(r.error());
          return done || !failure.empty();
        },
        20ms);
    if (!ended && failure.empty())
      failure = "the peers were not done within 60 s";
    return failure;
  });
  std::vector<std::future<std::string>> runs;
  for (size_t i = 0; i < 2; ++i)
    runs.push_back(std::async(std::launch::async, [&, i] {
      return train_share(*peers[i], i, share, epochs);
    }));
  for (auto& r : runs)
    EXPECT_EQ(r.get(), "");
  done = true;
  EXPECT_EQ(helper.get(), "");
  for (size_t i = 0; i < 2; ++i) {
    auto guard = peers[i]->opt->lock_parameters();
    EXPECT_LE((flat_parameters(peers[i]->net) - expected.back())
                  .abs()
                  .max()
                  .item<float>(),
              1e-5)
        << "peer " << i;
  }
  // Its rounds average only with others: it was in the peers' groups.
  EXPECT_GE(aux->opt->status().grad_rounds_averaged, epochs - 1);
  EXPECT_GE(aux->opt->local_epoch(), epochs - 1);
  EXPECT_EQ(aux->opt->status().states_loaded, 0u);
}
