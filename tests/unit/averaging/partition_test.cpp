// Splitting the all-reduce vector among group members by bandwidth.

#include "actors/averaging/partition.hpp"
#include "messages/error.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numeric>
#include <random>

using namespace colony;
using namespace colony::averaging;

namespace {

member_capacity node(std::optional<double> bandwidth = std::nullopt) {
  return {bandwidth, peer_mode::node};
}

member_capacity client(std::optional<double> bandwidth = std::nullopt) {
  return {bandwidth, peer_mode::client};
}

/// Checks the invariants of every partition: one span per member,
/// contiguous from 0, in member order, summing to `size`.
void expect_tiling(const std::vector<vector_span>& spans, size_t members,
                   uint64_t size) {
  ASSERT_EQ(spans.size(), members);
  uint64_t next = 0;
  for (const auto& s : spans) {
    EXPECT_EQ(s.begin, next);
    EXPECT_LE(s.begin, s.end);
    next = s.end;
  }
  EXPECT_EQ(next, size);
}

} // namespace

TEST(partition, spans_are_proportional_to_bandwidth) {
  std::vector<member_capacity> members{node(1), node(2), node(3), node(4)};
  auto spans = partition_vector(1000, members);
  ASSERT_TRUE(spans) << describe(spans.error());
  expect_tiling(*spans, 4, 1000);
  EXPECT_EQ((*spans)[0].size(), 100u);
  EXPECT_EQ((*spans)[1].size(), 200u);
  EXPECT_EQ((*spans)[2].size(), 300u);
  EXPECT_EQ((*spans)[3].size(), 400u);
}

TEST(partition, fractions_stay_within_one_element_of_the_quota) {
  std::mt19937_64 rng{7};
  std::uniform_real_distribution<double> bw{0.1, 100};
  for (int trial = 0; trial < 200; ++trial) {
    size_t n = 1 + rng() % 16;
    uint64_t size = rng() % 100000;
    std::vector<member_capacity> members;
    double total = 0;
    for (size_t i = 0; i < n; ++i) {
      members.push_back(node(bw(rng)));
      total += *members.back().bandwidth;
    }
    auto spans = partition_vector(size, members);
    ASSERT_TRUE(spans);
    expect_tiling(*spans, n, size);
    for (size_t i = 0; i < n; ++i) {
      double quota = static_cast<double>(size) * *members[i].bandwidth / total;
      EXPECT_LT(std::abs(static_cast<double>((*spans)[i].size()) - quota), 1.0)
          << "trial " << trial << " member " << i;
    }
  }
}

TEST(partition, largest_remainder_rounding_sums_exactly) {
  // Thirds of 10: quotas 3.33 each; the first member takes the spare one.
  auto spans = partition_vector(10, {node(1), node(1), node(1)});
  ASSERT_TRUE(spans);
  expect_tiling(*spans, 3, 10);
  EXPECT_EQ((*spans)[0].size(), 4u);
  EXPECT_EQ((*spans)[1].size(), 3u);
  EXPECT_EQ((*spans)[2].size(), 3u);
  // Quotas 2.5, 5, 2.5 of 10: floors 2, 5, 2 and the spare element goes to
  // one of the tied remainders, the earlier member's.
  auto tie = partition_vector(10, {node(1), node(2), node(1)});
  ASSERT_TRUE(tie);
  expect_tiling(*tie, 3, 10);
  EXPECT_EQ((*tie)[0].size(), 3u);
  EXPECT_EQ((*tie)[1].size(), 5u);
  EXPECT_EQ((*tie)[2].size(), 2u);
  // A vector as large as a real one: 25M floats over uneven bandwidths.
  auto big = partition_vector(25'000'000, {node(1e9), node(3e8), node(7e7)});
  ASSERT_TRUE(big);
  expect_tiling(*big, 3, 25'000'000);
}

TEST(partition, client_mode_members_get_nothing) {
  auto spans = partition_vector(
      900, {client(1000), node(1), member_capacity{2, peer_mode::auxiliary}});
  ASSERT_TRUE(spans);
  expect_tiling(*spans, 3, 900);
  EXPECT_TRUE((*spans)[0].empty());
  EXPECT_EQ((*spans)[1].size(), 300u);
  EXPECT_EQ((*spans)[2].size(), 600u);
}

TEST(partition, missing_bandwidth_counts_as_the_mean) {
  // Mean of 1 and 3 (the client's 100 does not count): 2.
  auto spans = partition_vector(600, {node(1), node(), node(3), client(100)});
  ASSERT_TRUE(spans);
  expect_tiling(*spans, 4, 600);
  EXPECT_EQ((*spans)[0].size(), 100u);
  EXPECT_EQ((*spans)[1].size(), 200u);
  EXPECT_EQ((*spans)[2].size(), 300u);
  EXPECT_EQ((*spans)[3].size(), 0u);
  // None stated: even split.
  auto even = partition_vector(9, {node(), node(), node()});
  ASSERT_TRUE(even);
  for (const auto& s : *even)
    EXPECT_EQ(s.size(), 3u);
}

TEST(partition, zero_bandwidth_members_get_nothing) {
  auto spans = partition_vector(100, {node(0), node(1)});
  ASSERT_TRUE(spans);
  EXPECT_TRUE((*spans)[0].empty());
  EXPECT_EQ((*spans)[1].size(), 100u);
}

TEST(partition, min_vector_size_is_respected) {
  // Quotas 10, 90, 900 with a minimum of 100: the first drops out, then
  // the second's share of the rest (90.9) is still too small.
  std::vector<member_capacity> members{node(1), node(9), node(90)};
  auto spans = partition_vector(1000, members, 100);
  ASSERT_TRUE(spans);
  expect_tiling(*spans, 3, 1000);
  EXPECT_EQ((*spans)[0].size(), 0u);
  EXPECT_EQ((*spans)[1].size(), 0u);
  EXPECT_EQ((*spans)[2].size(), 1000u);

  // Quotas 50, 150, 800 with minimum 100: only the first drops, and its
  // share goes to the others in proportion (1:~5.33).
  auto some = partition_vector(1000, {node(1), node(3), node(16)}, 100);
  ASSERT_TRUE(some);
  expect_tiling(*some, 3, 1000);
  EXPECT_EQ((*some)[0].size(), 0u);
  EXPECT_EQ((*some)[1].size(), 158u); // 1000 * 3 / 19 = 157.9
  EXPECT_EQ((*some)[2].size(), 842u);
  for (const auto& s : *some)
    EXPECT_TRUE(s.empty() || s.size() >= 100);

  // Random groups: every nonempty span is at least the minimum.
  std::mt19937_64 rng{11};
  std::uniform_real_distribution<double> bw{0.01, 10};
  for (int trial = 0; trial < 200; ++trial) {
    size_t n = 1 + rng() % 12;
    uint64_t size = rng() % 5000;
    uint64_t min_size = rng() % 1000;
    std::vector<member_capacity> group;
    for (size_t i = 0; i < n; ++i)
      group.push_back(node(bw(rng)));
    auto s = partition_vector(size, group, min_size);
    ASSERT_TRUE(s);
    expect_tiling(*s, n, size);
    size_t reducers = 0;
    for (const auto& span : *s)
      reducers += span.empty() ? 0 : 1;
    if (size > 0) {
      EXPECT_GE(reducers, 1u);
    }
    // Only a lone reducer may hold less than the minimum.
    if (reducers > 1) {
      for (const auto& span : *s)
        EXPECT_TRUE(span.empty() || span.size() >= min_size)
            << "trial " << trial;
    }
  }
}

TEST(partition, the_vector_always_keeps_a_reducer) {
  // Every share is below the minimum: the fastest member takes it all.
  auto spans = partition_vector(50, {node(1), node(5), node(2)}, 1000);
  ASSERT_TRUE(spans);
  expect_tiling(*spans, 3, 50);
  EXPECT_EQ((*spans)[1].size(), 50u);
}

TEST(partition, edge_cases) {
  // An empty vector: every span empty.
  auto none = partition_vector(0, {node(1), node(2)});
  ASSERT_TRUE(none);
  expect_tiling(*none, 2, 0);
  // One member takes everything.
  auto one = partition_vector(12345, {node()});
  ASSERT_TRUE(one);
  EXPECT_EQ((*one)[0], (vector_span{0, 12345}));
  // Fewer elements than members.
  auto few = partition_vector(2, {node(), node(), node(), node()});
  ASSERT_TRUE(few);
  expect_tiling(*few, 4, 2);
}

TEST(partition, groups_that_cannot_reduce_are_errors) {
  for (const auto& members : std::vector<std::vector<member_capacity>>{
           {}, {client(), client(5)}, {node(0), client(1)}}) {
    auto spans = partition_vector(100, members);
    ASSERT_FALSE(spans);
    EXPECT_TRUE(is_error(spans.error(), errc::invalid_argument))
        << describe(spans.error());
  }
  for (double bad : {-1.0, std::numeric_limits<double>::infinity(),
                     std::numeric_limits<double>::quiet_NaN()}) {
    auto spans = partition_vector(100, {node(1), node(bad)});
    ASSERT_FALSE(spans) << bad;
    EXPECT_TRUE(is_error(spans.error(), errc::invalid_argument));
  }
}

TEST(partition, capacities_follow_the_group_order) {
  group_info group;
  group.members.resize(3);
  group.members[0].bandwidth = 5;
  group.members[1].mode = peer_mode::client;
  group.members[2].mode = peer_mode::auxiliary;
  auto caps = capacities_of(group);
  ASSERT_EQ(caps.size(), 3u);
  EXPECT_EQ(caps[0].bandwidth, 5);
  EXPECT_EQ(caps[1].mode, peer_mode::client);
  EXPECT_EQ(caps[2].mode, peer_mode::auxiliary);
  EXPECT_FALSE(caps[2].bandwidth);
}
