#include "actors/dht/detail/routing_table.hpp"

#include "tests/unit/test_data.hpp"

#include "runtime/identity.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

namespace colony::dht {
namespace {

dht_id random_id(std::mt19937_64& rng) {
  return testing::random_dht_id(rng);
}

std::string address_of(size_t i) {
  return "10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250) +
         ":31337";
}

/// Fills a table with `n` random nodes; returns their ids.
std::vector<dht_id> fill(routing_table& table, std::mt19937_64& rng, size_t n) {
  std::vector<dht_id> ids;
  for (size_t i = 0; i < n; ++i) {
    ids.push_back(random_id(rng));
    (void)table.add_or_update_node(ids.back(), peer_id{}, address_of(i),
                                   static_cast<double>(i));
  }
  return ids;
}

/// Checks what must hold after any sequence of operations.
void check_invariants(const routing_table& table) {
  const auto& buckets = table.buckets();
  ASSERT_FALSE(buckets.empty());
  EXPECT_TRUE(buckets.front().lower().is_zero());
  EXPECT_EQ(buckets.back().last().to_hex(), std::string(40, 'f'));
  size_t total = 0;
  std::unordered_set<dht_id> seen;
  for (size_t i = 0; i < buckets.size(); ++i) {
    const auto& b = buckets[i];
    EXPECT_EQ(b.lower(), b.lower().prefix(b.depth()));
    if (i + 1 < buckets.size()) {
      // Contiguous: this bucket ends right before the next begins.
      auto next = buckets[i + 1].lower();
      EXPECT_LT(b.last(), next);
      EXPECT_EQ(table.bucket_index(next), i + 1);
      EXPECT_EQ(table.bucket_index(b.last()), i);
    }
    EXPECT_LE(b.nodes().size(), table.bucket_size());
    EXPECT_LE(b.replacements().size(), table.bucket_size());
    if (!b.replacements().empty()) {
      EXPECT_EQ(b.nodes().size(), table.bucket_size());
    }
    for (const auto& n : b.nodes()) {
      EXPECT_TRUE(b.covers(n.id));
      EXPECT_TRUE(seen.insert(n.id).second);
      EXPECT_TRUE(table.contains(n.id));
      EXPECT_NE(n.id, table.own_id());
    }
    for (const auto& n : b.replacements()) {
      EXPECT_TRUE(b.covers(n.id));
      EXPECT_TRUE(seen.insert(n.id).second);
      EXPECT_FALSE(table.contains(n.id));
    }
    total += b.nodes().size();
  }
  EXPECT_EQ(total, table.size());
}

size_t buckets_after_10k(size_t k, size_t b) {
  std::mt19937_64 rng{20240 + k * 100 + b};
  routing_table table{random_id(rng), k, b};
  fill(table, rng, 10000);
  check_invariants(table);
  return table.buckets().size();
}

// hivemind's test_routing_table_parameters measured these ranges.
TEST(routing_table_test, bucket_counts_match_hivemind) {
  struct expectation {
    size_t k, b, min, max;
  };
  for (auto [k, b, min, max] :
       {expectation{20, 5, 45, 65}, expectation{50, 5, 35, 45},
        expectation{20, 10, 650, 800}, expectation{20, 1, 7, 15}}) {
    auto n = buckets_after_10k(k, b);
    std::cout << "[ buckets  ] k=" << k << " b=" << b << ": " << n
              << " buckets for 10000 nodes\n";
    EXPECT_GE(n, min) << "k=" << k << " b=" << b;
    EXPECT_LE(n, max) << "k=" << k << " b=" << b;
  }
}

TEST(routing_table_test, bucket_counts_over_seeds) {
  // The ranges hold across seeds, not only for one lucky one.
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    std::mt19937_64 rng{seed};
    routing_table table{random_id(rng)};
    fill(table, rng, 10000);
    EXPECT_GE(table.buckets().size(), 45u) << seed;
    EXPECT_LE(table.buckets().size(), 65u) << seed;
  }
}

std::vector<dht_id> brute_force(const routing_table& table, const dht_id& query,
                                size_t k,
                                const std::optional<dht_id>& exclude) {
  std::vector<dht_id> all;
  for (const auto& b : table.buckets())
    for (const auto& n : b.nodes())
      if (!exclude || n.id != *exclude)
        all.push_back(n.id);
  std::sort(all.begin(), all.end(), [&](const dht_id& a, const dht_id& b) {
    return distance(a, query) < distance(b, query);
  });
  all.resize(std::min(k, all.size()));
  return all;
}

TEST(routing_table_test, nearest_neighbors_are_exact) {
  std::mt19937_64 rng{7};
  routing_table table{random_id(rng)};
  auto ids = fill(table, rng, 10000);
  std::uniform_int_distribution<size_t> pick_k{1, 50};
  std::uniform_int_distribution<size_t> pick_node{0, ids.size() - 1};
  for (int i = 0; i < 1000; ++i) {
    auto k = pick_k(rng);
    // Half the queries are ids of nodes (maybe in the table), half random.
    auto query = i % 2 == 0 ? ids[pick_node(rng)] : random_id(rng);
    std::optional<dht_id> exclude;
    if (i % 4 == 0)
      exclude = query;
    else if (i % 4 == 1)
      exclude = ids[pick_node(rng)];
    auto got = table.get_nearest_neighbors(query, k, exclude);
    auto want = brute_force(table, query, k, exclude);
    ASSERT_EQ(got.size(), want.size()) << i;
    for (size_t j = 0; j < got.size(); ++j)
      ASSERT_EQ(got[j].id, want[j]) << "query " << i << " rank " << j;
    for (const auto& n : got)
      EXPECT_EQ(n.address, table.find(n.id)->address);
  }
  // More than the table holds: everything, sorted.
  auto query = random_id(rng);
  auto all = table.get_nearest_neighbors(query, 100000);
  EXPECT_EQ(all.size(), table.size());
  auto want = brute_force(table, query, 100000, std::nullopt);
  for (size_t j = 0; j < all.size(); ++j)
    ASSERT_EQ(all[j].id, want[j]);
  EXPECT_TRUE(table.get_nearest_neighbors(query, 0).empty());
}

TEST(routing_table_test, nearest_neighbors_exact_for_other_parameters) {
  for (auto [k, b] : {std::pair<size_t, size_t>{1, 1}, {3, 2}, {20, 10}}) {
    std::mt19937_64 rng{k * 10 + b};
    routing_table table{random_id(rng), k, b};
    auto ids = fill(table, rng, 2000);
    check_invariants(table);
    for (int i = 0; i < 200; ++i) {
      auto query = i % 2 == 0 ? ids[rng() % ids.size()] : random_id(rng);
      auto n = 1 + rng() % 30;
      std::optional<dht_id> exclude;
      if (i % 3 == 0)
        exclude = query;
      auto got = table.get_nearest_neighbors(query, n, exclude);
      auto want = brute_force(table, query, n, exclude);
      ASSERT_EQ(got.size(), want.size());
      for (size_t j = 0; j < got.size(); ++j)
        ASSERT_EQ(got[j].id, want[j]);
    }
  }
}

TEST(routing_table_test, empty_table) {
  routing_table table{dht_id::random()};
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.buckets().size(), 1u);
  EXPECT_TRUE(table.get_nearest_neighbors(dht_id::random(), 5).empty());
  EXPECT_FALSE(table.contains(dht_id::random()));
  EXPECT_EQ(table.find(dht_id::random()), nullptr);
  EXPECT_FALSE(table.remove_node(dht_id::random()));
  check_invariants(table);
}

TEST(routing_table_test, own_id_is_never_stored) {
  auto own = dht_id::random();
  routing_table table{own};
  EXPECT_FALSE(table.add_or_update_node(own, peer_id{}, "a:1", 1.0));
  EXPECT_FALSE(table.contains(own));
  EXPECT_EQ(table.size(), 0u);
}

TEST(routing_table_test, update_refreshes_contact_and_recency) {
  auto alice = identity::generate();
  auto bob = identity::generate();
  ASSERT_TRUE(alice && bob);
  routing_table table{dht_id{}};
  auto a = dht_id::of_peer(alice->peer_id());
  auto b = dht_id::of_peer(bob->peer_id());
  EXPECT_FALSE(table.add_or_update_node(a, alice->peer_id(), "h1:1", 1.0));
  EXPECT_FALSE(table.add_or_update_node(b, bob->peer_id(), "h2:2", 2.0));
  EXPECT_FALSE(table.add_or_update_node(a, alice->peer_id(), "h3:3", 3.0));
  ASSERT_TRUE(table.contains(a));
  EXPECT_EQ(table.find(a)->address, "h3:3");
  EXPECT_EQ(table.find(a)->peer, alice->peer_id());
  EXPECT_EQ(table.size(), 2u);
  const auto& nodes = table.buckets()[table.bucket_index(a)].nodes();
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_EQ(nodes.back().id, a); // most recently seen last
  EXPECT_EQ(table.buckets()[0].last_updated(), 3.0);
}

/// An id in the upper half of the id space (far from own id 0), distinct
/// per `i`.
dht_id far_id(uint8_t i) {
  dht_id::bytes_type b{};
  b[0] = 0x80;
  b[19] = i;
  return dht_id{b};
}

TEST(routing_table_test, full_far_bucket_asks_to_ping_least_recently_seen) {
  // k = 2, b = 1: only the bucket holding our id (0) ever splits, so the
  // upper half [2^159, 2^160) is one bucket of two nodes.
  routing_table table{dht_id{}, 2, 1};
  // Fill the root and split it: two nodes up high, then one more.
  EXPECT_FALSE(table.add_or_update_node(far_id(1), peer_id{}, "a:1", 1.0));
  EXPECT_FALSE(table.add_or_update_node(far_id(2), peer_id{}, "b:2", 2.0));
  auto ping = table.add_or_update_node(far_id(3), peer_id{}, "c:3", 3.0);
  ASSERT_EQ(table.buckets().size(), 2u);
  ASSERT_TRUE(ping);
  EXPECT_EQ(ping->id, far_id(1));
  EXPECT_EQ(ping->address, "a:1");
  EXPECT_FALSE(table.contains(far_id(3)));
  EXPECT_EQ(table.size(), 2u);

  // The pinged node answered: it becomes the most recent, so the next
  // newcomer makes us ping the other one.
  EXPECT_FALSE(table.add_or_update_node(far_id(1), peer_id{}, "a:1", 4.0));
  ping = table.add_or_update_node(far_id(4), peer_id{}, "d:4", 5.0);
  ASSERT_TRUE(ping);
  EXPECT_EQ(ping->id, far_id(2));
  const auto& far = table.buckets()[1];
  ASSERT_EQ(far.replacements().size(), 2u);
  EXPECT_EQ(far.replacements()[0].id, far_id(3));
  EXPECT_EQ(far.replacements()[1].id, far_id(4));

  // It did not answer: the newest replacement takes its place.
  EXPECT_TRUE(table.remove_node(far_id(2)));
  EXPECT_FALSE(table.contains(far_id(2)));
  EXPECT_TRUE(table.contains(far_id(4)));
  EXPECT_FALSE(table.contains(far_id(3)));
  ASSERT_EQ(far.nodes().size(), 2u);
  EXPECT_EQ(far.nodes()[0].id, far_id(1));
  EXPECT_EQ(far.nodes()[1].id, far_id(4));
  EXPECT_EQ(far.nodes()[1].address, "d:4");
  EXPECT_EQ(table.size(), 2u);
  check_invariants(table);

  // A replacement seen again moves to the recent end of the list; the list
  // keeps the k most recent.
  (void)table.add_or_update_node(far_id(5), peer_id{}, "e:5", 6.0);
  (void)table.add_or_update_node(far_id(3), peer_id{}, "c:3", 7.0);
  ASSERT_EQ(far.replacements().size(), 2u);
  EXPECT_EQ(far.replacements()[0].id, far_id(5));
  EXPECT_EQ(far.replacements()[1].id, far_id(3));
  (void)table.add_or_update_node(far_id(6), peer_id{}, "f:6", 8.0);
  ASSERT_EQ(far.replacements().size(), 2u);
  EXPECT_EQ(far.replacements()[0].id, far_id(3));
  EXPECT_EQ(far.replacements()[1].id, far_id(6));

  // Removing a replacement just drops it; removing twice fails.
  EXPECT_TRUE(table.remove_node(far_id(3)));
  EXPECT_FALSE(table.remove_node(far_id(3)));
  EXPECT_EQ(far.replacements().size(), 1u);
  // Removing a node with no replacement left shrinks the bucket.
  EXPECT_TRUE(table.remove_node(far_id(1)));
  EXPECT_TRUE(table.contains(far_id(6)));
  EXPECT_TRUE(table.remove_node(far_id(4)));
  EXPECT_EQ(far.nodes().size(), 1u);
  EXPECT_EQ(table.size(), 1u);
  check_invariants(table);
}

TEST(routing_table_test, bucket_with_own_id_always_splits) {
  // k = 1, b = 1: each new node near our id splits the bucket holding it.
  routing_table table{dht_id{}, 1, 1};
  auto at_depth = [](size_t d) {
    return dht_id{}.with_bit(d, true);
  };
  for (size_t d = 0; d < 10; ++d)
    EXPECT_FALSE(table.add_or_update_node(at_depth(d), peer_id{}, "x:1",
                                          static_cast<double>(d)));
  // Nine splits: one bucket per depth 1..9 off our path, plus the one
  // holding our id (and at_depth(9)).
  EXPECT_EQ(table.buckets().size(), 10u);
  EXPECT_EQ(table.size(), 10u);
  for (size_t d = 0; d < 10; ++d)
    EXPECT_TRUE(table.contains(at_depth(d)));
  check_invariants(table);
}

TEST(routing_table_test, far_bucket_splits_down_to_multiple_of_b) {
  // k = 1, b = 3, own id 0: a bucket away from our id splits only while its
  // depth is not a multiple of 3.
  routing_table table{dht_id{}, 1, 3};
  auto far = dht_id{}.with_bit(0, true);
  EXPECT_FALSE(table.add_or_update_node(far, peer_id{}, "x:1", 1.0));
  // Root (depth 0) holds our id and splits; [2^159, 2^160) has depth 1 and
  // is full, so it splits at depths 1 and 2 until `far` (100...) and
  // `far2` (101...) part ways at depth 3.
  auto far2 = far.with_bit(2, true);
  EXPECT_FALSE(table.add_or_update_node(far2, peer_id{}, "x:2", 2.0));
  EXPECT_EQ(table.buckets()[table.bucket_index(far2)].depth(), 3u);
  EXPECT_EQ(table.buckets()[table.bucket_index(far)].depth(), 3u);
  EXPECT_TRUE(table.contains(far));
  EXPECT_TRUE(table.contains(far2));
  EXPECT_EQ(table.buckets().size(), 4u);
  // The depth-3 bucket of far2 is full and 3 is a multiple of b: a node
  // sharing its 3 bits waits, and far2 is to be pinged.
  auto far3 = far2.with_bit(159, true);
  auto ping = table.add_or_update_node(far3, peer_id{}, "x:3", 3.0);
  ASSERT_TRUE(ping);
  EXPECT_EQ(ping->id, far2);
  EXPECT_FALSE(table.contains(far3));
  EXPECT_EQ(table.buckets().size(), 4u);
  check_invariants(table);
}

TEST(routing_table_test, stale_buckets) {
  std::mt19937_64 rng{11};
  routing_table table{random_id(rng)};
  fill(table, rng, 500); // times 0..499
  auto stale = table.stale_bucket_ids(100.0, 1000.0);
  size_t expected = 0;
  for (const auto& b : table.buckets())
    expected += b.last_updated() == 1000.0;
  EXPECT_EQ(stale.size(), expected);
  for (const auto& id : stale) {
    const auto& b = table.buckets()[table.bucket_index(id)];
    EXPECT_EQ(b.last_updated(), 1000.0);
  }
  // No bucket is stale by the first cut-off any more.
  EXPECT_TRUE(table.stale_bucket_ids(100.0, 1001.0).empty());
  EXPECT_EQ(table.stale_bucket_ids(2000.0, 2001.0).size(),
            table.buckets().size());
}

TEST(routing_table_test, churn_keeps_invariants) {
  std::mt19937_64 rng{13};
  routing_table table{random_id(rng), 4, 2};
  std::vector<dht_id> ids;
  for (int i = 0; i < 20000; ++i) {
    if (ids.empty() || rng() % 3 != 0) {
      ids.push_back(random_id(rng));
      auto ping = table.add_or_update_node(ids.back(), peer_id{}, "x:1", i);
      if (ping && rng() % 2 == 0) {
        EXPECT_TRUE(table.remove_node(ping->id));
      }
    } else {
      auto j = rng() % ids.size();
      (void)table.remove_node(ids[j]);
      ids[j] = ids.back();
      ids.pop_back();
    }
  }
  check_invariants(table);
}

TEST(routing_table_test, fast_enough_for_a_large_swarm) {
  std::mt19937_64 rng{17};
  auto start = std::chrono::steady_clock::now();
  routing_table table{random_id(rng)};
  fill(table, rng, 10000);
  auto built = std::chrono::steady_clock::now();
  size_t total = 0;
  for (int i = 0; i < 10000; ++i)
    total += table.get_nearest_neighbors(random_id(rng), 20).size();
  auto queried = std::chrono::steady_clock::now();
  EXPECT_EQ(total, 10000u * 20);
  using us = std::chrono::duration<double, std::micro>;
  std::cout << "[ timing   ] 10000 adds: " << us(built - start).count() / 1e4
            << " us each; 10000 20-NN queries: "
            << us(queried - built).count() / 1e4 << " us each\n";
}

} // namespace
} // namespace colony::dht
