// An auxiliary peer hosted by a node (`colony run` with [trainer]
// collaborative = true and auxiliary = true): two collaborative trainers of
// the run average their gradients in groups of three with it, and still
// end every epoch with equal parameters.

#include "actors/trainer/auxiliary_peer.hpp"
#include "actors/trainer/parameter_digest.hpp"
#include "actors/trainer/training_loop.hpp"
#include "tests/integration/test_nodes.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <future>

using namespace colony;
using namespace colony::testing;
using namespace std::chrono_literals;

namespace {

/// A small model with every expert in the trainer (local_experts), so that
/// all of it goes through the collaborative optimizer.
trainer::trainer_options run_options() {
  trainer::trainer_options o;
  o.classes = {0, 1};
  o.hidden_dim = 16;
  o.grids = {"ffn0.[0:2].[0:2]"};
  o.local_experts = true;
  o.k_best = 2;
  o.batch_size = 32;
  o.seed = 5;
  o.collaborative = true;
  auto& c = o.collaboration;
  c.run_id = "auxrun";
  c.target_batch_size = 64;
  c.matchmaking_time = 3000ms;
  c.averaging_timeout = 20000ms;
  c.next_chunk_timeout = 3000ms;
  c.load_state_timeout = 20000ms;
  c.min_refresh_period = 100ms;
  c.max_refresh_period = 500ms;
  return o;
}

trainer::swarm_access aux_access_of(node& n) {
  return {&n.system(),   n.transport(), n.dht(),
          n.shared_me(), n.address(),   n.shared_log()};
}

} // namespace

TEST(auxiliary_peer, a_node_helps_two_trainers_average_without_data) {
  auto cfg = test_config();
  cfg.dht_enabled = true;
  cfg.dht.wait_timeout = 3000ms;
  // The helper: a node whose config asks for an auxiliary peer of the run.
  auto aux_cfg = cfg;
  aux_cfg.has_trainer = true;
  aux_cfg.trainer = run_options();
  aux_cfg.trainer.collaboration.auxiliary = true;
  auto helper = start_node(aux_cfg);
  ASSERT_TRUE(helper);
  cfg.initial_peers = {helper->address()};
  std::vector<std::unique_ptr<node>> nodes;
  for (int i = 0; i < 2; ++i) {
    nodes.push_back(start_node(cfg));
    ASSERT_TRUE(nodes.back());
    ASSERT_TRUE(nodes.back()->join_dht());
  }
  ASSERT_FALSE(helper->host_auxiliary_peer());
  ASSERT_TRUE(helper->auxiliary_peer());
  std::vector<std::unique_ptr<trainer::training_loop>> loops;
  for (int i = 0; i < 2; ++i) {
    auto o = run_options();
    o.seed = 5 + static_cast<uint64_t>(i);
    auto loop = trainer::training_loop::make(o, aux_access_of(*nodes[i]));
    ASSERT_TRUE(loop) << describe(loop.error());
    loops.push_back(std::move(*loop));
  }
  constexpr uint64_t epochs = 3;
  std::vector<std::future<std::string>> runs;
  for (int i = 0; i < 2; ++i)
    runs.push_back(std::async(std::launch::async, [&, i]() -> std::string {
      auto& loop = *loops[i];
      auto deadline = std::chrono::steady_clock::now() + 60s;
      while (std::chrono::steady_clock::now() < deadline) {
        auto step = loop.step();
        if (!step)
          return describe(step.error());
        if (step->epoch >= epochs)
          return {};
      }
      return "trainer " + std::to_string(i) + " did not reach epoch " +
             std::to_string(epochs);
    }));
  for (auto& r : runs)
    EXPECT_EQ(r.get(), "");
  for (auto& loop : loops)
    loop->finish_collaboration();
  // The helper's rounds only average with others: it joined the trainers'.
  auto aux = helper->auxiliary_peer()->status();
  EXPECT_GE(aux.grad_rounds_averaged, 1u);
  EXPECT_EQ(aux.states_loaded, 0u);
  EXPECT_GE(aux.local_epoch, epochs - 1);
  // Its own (unused) parameters never entered an average: the trainers
  // still end equal.
  EXPECT_LE(trainer::relative_distance(loops[0]->digest_parameters(),
                                       loops[1]->digest_parameters()),
            1e-4);
}
