// The blocking façade over the averager actor, as a training loop uses it:
// steps from plain threads, writes under the tensors' lock while rounds
// run, state download and application, group bits and status.

#include "actors/averaging/decentralized_averager.hpp"
#include "messages/error.hpp"
#include "tests/integration/test_nodes.hpp"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

using namespace colony;
using namespace colony::averaging;
using namespace colony::testing;
using namespace std::chrono_literals;

namespace {

struct facade_peer {
  std::unique_ptr<node> n;
  std::unique_ptr<decentralized_averager> averager;
};

/// Two nodes on one DHT, each with a façade over `tensors(i)`.
template <class MakeTensors>
std::vector<facade_peer> make_peers(size_t count, MakeTensors tensors) {
  std::vector<facade_peer> peers;
  for (size_t i = 0; i < count; ++i) {
    auto cfg = test_config();
    cfg.dht_enabled = true;
    cfg.dht.wait_timeout = 3000ms;
    if (i > 0)
      cfg.initial_peers = {peers.front().n->address()};
    facade_peer p;
    p.n = start_node(cfg);
    if (!p.n)
      return {};
    if (i > 0 && !p.n->join_dht())
      return {};
    averager_config ac;
    ac.tensors = tensors(i);
    ac.transport = p.n->transport();
    ac.dht = p.n->dht();
    ac.self = peer_contact{p.n->me().peer_id(), p.n->address()};
    ac.options.prefix = "facade";
    if (count > 1)
      ac.options.target_group_size = count;
    ac.options.min_matchmaking_time = 1000ms;
    ac.options.part_size_bytes = 8192;
    ac.options.declare_state_period = 1000ms;
    ac.log = p.n->shared_log();
    ac.seed = 7 + i;
    auto a = decentralized_averager::create(p.n->system(), std::move(ac));
    if (!a) {
      ADD_FAILURE() << describe(a.error());
      return {};
    }
    p.averager = std::move(*a);
    peers.push_back(std::move(p));
  }
  return peers;
}

} // namespace

TEST(decentralized_averager, steps_from_threads_reach_the_weighted_mean) {
  auto peers = make_peers(2, [](size_t i) {
    return std::vector<at::Tensor>{at::full({5000}, float(i == 0 ? 1 : 4)),
                                   at::full({3, 7}, float(i == 0 ? -2 : 2))};
  });
  ASSERT_EQ(peers.size(), 2u);
  auto first = std::async(std::launch::async, [&] {
    return peers[0].averager->step(1, "a", 20000ms);
  });
  auto second = peers[1].averager->step(2, "b", 20000ms);
  auto a = first.get();
  ASSERT_TRUE(a) << describe(a.error());
  ASSERT_TRUE(second) << describe(second.error());
  EXPECT_EQ(a->gathered.size(), 2u);
  // Weights 1 and 2: (1 + 2*4) / 3 = 3 and (-2 + 2*2) / 3 = 2/3.
  for (auto& p : peers) {
    auto& t = p.averager->tensors();
    EXPECT_NEAR((t[0] - 3).abs().max().item<float>(), 0, 1e-6);
    EXPECT_NEAR((t[1] - 2.0f / 3).abs().max().item<float>(), 0, 1e-6);
    EXPECT_EQ(p.averager->status().steps_succeeded, 1u);
  }
  EXPECT_EQ(peers[0].averager->group_bits(), a->group_bits);
}

TEST(decentralized_averager, a_loop_writing_under_the_lock_never_tears_a_part) {
  auto peers = make_peers(2, [](size_t i) {
    return std::vector<at::Tensor>{at::full({20000}, float(i))};
  });
  ASSERT_EQ(peers.size(), 2u);
  // Peer 1's "training loop" adds 10 to every element, under the lock,
  // while both step: each element ends as a mean of values the loop left
  // whole, so all elements of peer 1 agree with each other.
  std::atomic<bool> stop{false};
  std::thread loop([&] {
    while (!stop) {
      {
        auto guard = peers[1].averager->lock_tensors();
        peers[1].averager->tensors()[0].add_(10);
      }
      std::this_thread::sleep_for(1ms);
    }
  });
  auto first = std::async(std::launch::async, [&] {
    return peers[0].averager->step(1, "", 20000ms);
  });
  auto second = peers[1].averager->step(1, "", 20000ms);
  stop = true;
  loop.join();
  ASSERT_TRUE(first.get());
  ASSERT_TRUE(second) << describe(second.error());
  auto guard = peers[1].averager->lock_tensors();
  auto& t = peers[1].averager->tensors()[0];
  // A part sent after k additions and applied after n ends as the mean
  // (1 + 10k) / 2 plus the 10 (n - k) added since: elements differ by
  // whole multiples of 5, never by a torn fraction.
  auto rest = (t - t.min()).remainder(5.0);
  auto off = at::minimum(rest, 5.0 - rest).max().item<float>();
  EXPECT_LT(off, 1e-3);
}

TEST(decentralized_averager, loads_and_applies_a_peers_state) {
  auto peers = make_peers(2, [](size_t i) {
    return std::vector<at::Tensor>{at::full({1000}, float(i + 1)),
                                   at::full({4}, float(10 * (i + 1)))};
  });
  ASSERT_EQ(peers.size(), 2u);
  peers[0].averager->set_state_metadata("step 42");
  peers[0].averager->set_state_priority(42);
  caf::expected<downloaded_state> state{caf::error{}};
  // The declaration reaches the DHT within declare_state_period.
  ASSERT_TRUE(wait_until(20s, [&] {
    state = peers[1].averager->load_state_from_peers(5000ms);
    return static_cast<bool>(state);
  })) << describe(state.error());
  EXPECT_EQ(state->metadata, "step 42");
  ASSERT_FALSE(peers[1].averager->apply_state(*state));
  EXPECT_TRUE(
      at::equal(peers[1].averager->tensors()[0], at::full({1000}, 1.0f)));
  EXPECT_TRUE(at::equal(peers[1].averager->tensors()[1], at::full({4}, 10.0f)));
  // A state of another shape is refused and changes nothing.
  downloaded_state wrong;
  wrong.tensors = {at::zeros({999}), at::zeros({4})};
  EXPECT_EQ(peers[1].averager->apply_state(wrong).code(),
            static_cast<uint8_t>(errc::invalid_argument));
  EXPECT_TRUE(
      at::equal(peers[1].averager->tensors()[0], at::full({1000}, 1.0f)));
}

TEST(decentralized_averager, bad_calls_get_errors_and_it_keeps_serving) {
  auto peers = make_peers(
      1, [](size_t) { return std::vector<at::Tensor>{at::ones({10})}; });
  ASSERT_EQ(peers.size(), 1u);
  auto& a = *peers[0].averager;
  EXPECT_TRUE(a.set_group_bits("01x"));
  EXPECT_FALSE(a.set_group_bits("01"));
  EXPECT_EQ(a.group_bits(), "01");
  auto alone = a.step(1, "", std::nullopt);
  ASSERT_FALSE(alone);
  EXPECT_EQ(alone.error().code(), static_cast<uint8_t>(errc::group_too_small));
  EXPECT_FALSE(a.step(-1));
  EXPECT_TRUE(at::equal(a.tensors()[0], at::ones({10})));
  EXPECT_GE(a.status().steps_failed, 1u);
}
