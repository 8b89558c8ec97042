#include "actors/dht/detail/traversal.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

using namespace colony;
using namespace colony::dht;

namespace {

/// A simulated swarm: each node knows the `known` nodes nearest to it... and
/// answers queries with the nodes it knows nearest the target.
struct swarm {
  std::vector<node_ref> nodes;
  std::map<dht_id, std::vector<node_ref>> tables;

  explicit swarm(size_t n, size_t known, std::mt19937_64& rng) {
    for (size_t i = 0; i < n; ++i) {
      dht_id::bytes_type b{};
      for (auto& x : b)
        x = static_cast<uint8_t>(rng());
      nodes.push_back(node_ref{dht_id{b}, peer_id{}, "n" + std::to_string(i)});
    }
    for (auto& n : nodes) {
      // Kademlia-like: random long-range contacts plus the nearest ones.
      auto sorted = nodes;
      std::sort(sorted.begin(), sorted.end(), [&](auto& a, auto& b) {
        return distance(a.id, n.id) < distance(b.id, n.id);
      });
      std::vector<node_ref> t(sorted.begin() + 1,
                              sorted.begin() + 1 + known / 2);
      for (size_t i = 0; i < known / 2; ++i)
        t.push_back(nodes[rng() % nodes.size()]);
      tables[n.id] = t;
    }
  }

  std::vector<node_ref> answer(const dht_id& at, const dht_id& target,
                               size_t k) {
    auto t = tables[at];
    std::sort(t.begin(), t.end(), [&](auto& a, auto& b) {
      return distance(a.id, target) < distance(b.id, target);
    });
    t.resize(std::min(t.size(), k));
    return t;
  }
};

} // namespace

TEST(traversal, finds_the_nearest_nodes_of_a_simulated_swarm) {
  std::mt19937_64 rng{11};
  swarm s{500, 40, rng};
  size_t exact = 0;
  for (int q = 0; q < 50; ++q) {
    dht_id::bytes_type b{};
    for (auto& x : b)
      x = static_cast<uint8_t>(rng());
    dht_id target{b};
    traversal walk{target, 20, 3};
    walk.add_candidates({s.nodes[rng() % s.nodes.size()]});
    while (!walk.done()) {
      auto batch = walk.next_requests();
      ASSERT_LE(batch.size(), 3u);
      ASSERT_FALSE(batch.empty());
      for (auto& n : batch)
        walk.on_response(n, s.answer(n.id, target, 20));
    }
    auto truth = s.nodes;
    std::sort(truth.begin(), truth.end(), [&](auto& a, auto& b) {
      return distance(a.id, target) < distance(b.id, target);
    });
    auto found = walk.nearest_responded(5);
    ASSERT_EQ(found.size(), 5u);
    if (found[0].id == truth[0].id)
      ++exact;
    EXPECT_LT(walk.requests_sent(), 200u);
  }
  EXPECT_GE(exact, 45u);
}

TEST(traversal, failures_free_their_slot_and_end_the_walk) {
  dht_id::bytes_type b{};
  traversal walk{dht_id{b}, 20, 2};
  std::vector<node_ref> nodes;
  for (uint8_t i = 1; i <= 5; ++i) {
    dht_id::bytes_type x{};
    x[0] = i;
    nodes.push_back(node_ref{dht_id{x}, peer_id{}, "n"});
  }
  walk.add_candidates(nodes);
  auto first = walk.next_requests();
  EXPECT_EQ(first.size(), 2u);
  EXPECT_TRUE(walk.next_requests().empty()); // parallelism bound
  for (auto& n : first)
    walk.on_failure(n.id);
  size_t asked = 2;
  while (!walk.done()) {
    auto more = walk.next_requests();
    asked += more.size();
    for (auto& n : more)
      walk.on_failure(n.id);
  }
  EXPECT_EQ(asked, 5u);
  EXPECT_TRUE(walk.nearest_responded(5).empty());
}

TEST(traversal, duplicates_are_asked_once) {
  dht_id::bytes_type b{};
  traversal walk{dht_id{b}, 20, 3};
  dht_id::bytes_type x{};
  x[3] = 9;
  node_ref n{dht_id{x}, peer_id{}, "n"};
  walk.add_candidates({n, n});
  auto batch = walk.next_requests();
  ASSERT_EQ(batch.size(), 1u);
  walk.on_response(n, {n});
  EXPECT_TRUE(walk.next_requests().empty());
  EXPECT_TRUE(walk.done());
}
