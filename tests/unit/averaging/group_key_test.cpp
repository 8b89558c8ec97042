// Group keys and Moshpit group bits, with a pure simulation of Moshpit
// rounds over a grid of peers.

#include "actors/averaging/group_key.hpp"
#include "messages/error.hpp"

#include "tests/unit/test_data.hpp"
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <set>

using namespace colony;
using namespace colony::averaging;

using colony::testing::random_peer;

namespace {

group_id id_of(std::initializer_list<int> bytes) {
  group_id id{};
  size_t i = 0;
  for (int b : bytes)
    id[i++] = static_cast<uint8_t>(b);
  return id;
}

group_id random_id(std::mt19937_64& rng) {
  group_id id;
  for (auto& b : id)
    b = static_cast<uint8_t>(rng());
  return id;
}

} // namespace

TEST(group_key, key_is_prefix_dot_0b_bits) {
  auto key = make_group_key("albert", "0110");
  ASSERT_TRUE(key);
  EXPECT_EQ(*key, "albert.0b0110");
  auto empty_bits = make_group_key("grads", "");
  ASSERT_TRUE(empty_bits);
  EXPECT_EQ(*empty_bits, "grads.0b");
}

TEST(group_key, bad_bits_and_prefixes_are_refused) {
  EXPECT_FALSE(validate_group_bits(""));
  EXPECT_FALSE(validate_group_bits("0101"));
  for (std::string bad :
       std::vector<std::string>{"012", "0b01", " 1", std::string(1, '\0'),
                                std::string(max_group_bits + 1, '1')}) {
    auto err = validate_group_bits(bad);
    EXPECT_TRUE(is_error(err, errc::invalid_argument)) << bad;
    EXPECT_FALSE(make_group_key("p", bad));
  }
  EXPECT_FALSE(validate_group_bits(std::string(max_group_bits, '0')));
  for (std::string bad : std::vector<std::string>{
           "", "a.b", std::string(max_prefix_size + 1, 'p')}) {
    auto key = make_group_key(bad, "01");
    ASSERT_FALSE(key) << bad;
    EXPECT_TRUE(is_error(key.error(), errc::invalid_argument));
  }
}

TEST(group_key, buckets_are_the_target_or_the_next_power_of_two) {
  EXPECT_EQ(moshpit_buckets(3, 4), 4u);
  EXPECT_EQ(moshpit_buckets(3, std::nullopt), 4u);
  EXPECT_EQ(moshpit_buckets(4, std::nullopt), 4u);
  EXPECT_EQ(moshpit_buckets(5, std::nullopt), 8u);
  EXPECT_EQ(moshpit_buckets(1, std::nullopt), 1u);
  EXPECT_EQ(moshpit_buckets(0, std::nullopt), 1u);
  EXPECT_EQ(moshpit_buckets(2, 16), 16u);
}

TEST(group_key, draws_follow_the_specified_generator) {
  // Computed by an independent implementation of the generator described in
  // group_key.hpp: peers of other builds must draw the same.
  auto a = draw_buckets(group_id{}, 4, 4);
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, (std::vector<size_t>{3, 1, 0, 2}));
  auto b = draw_buckets(
      id_of({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}), 4, 4);
  ASSERT_TRUE(b);
  EXPECT_EQ(*b, (std::vector<size_t>{1, 3, 2, 0}));
  auto c = draw_buckets(
      id_of({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}), 3, 8);
  ASSERT_TRUE(c);
  EXPECT_EQ(*c, (std::vector<size_t>{5, 6, 4}));
  group_id ones;
  ones.fill(255);
  auto d = draw_buckets(ones, 16, 16);
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, (std::vector<size_t>{6, 14, 5, 9, 15, 1, 13, 12, 0, 11, 10, 4,
                                     8, 7, 2, 3}));
}

TEST(group_key, draws_are_distinct_and_roughly_uniform) {
  std::mt19937_64 rng{3};
  std::vector<size_t> first_counts(8, 0);
  for (int trial = 0; trial < 8000; ++trial) {
    auto id = random_id(rng);
    auto drawn = draw_buckets(id, 5, 8);
    ASSERT_TRUE(drawn);
    std::set<size_t> distinct(drawn->begin(), drawn->end());
    EXPECT_EQ(distinct.size(), 5u);
    for (auto x : *drawn)
      EXPECT_LT(x, 8u);
    ++first_counts[(*drawn)[0]];
    // Same id, same draw.
    EXPECT_EQ(*drawn, *draw_buckets(id, 5, 8));
  }
  for (auto n : first_counts) // expected 1000 each; 6 sigma ~ 180
    EXPECT_NEAR(static_cast<double>(n), 1000.0, 180.0);
}

TEST(group_key, draws_refuse_impossible_groups) {
  auto big = draw_buckets(group_id{}, 5, 4);
  ASSERT_FALSE(big);
  EXPECT_TRUE(is_error(big.error(), errc::invalid_argument));
  auto huge = draw_buckets(group_id{}, 1, max_moshpit_buckets + 1);
  ASSERT_FALSE(huge);
  EXPECT_TRUE(is_error(huge.error(), errc::invalid_argument));
}

TEST(group_key, next_bits_shift_the_drawn_index_in) {
  // Group id 0 draws {3, 1, 0, 2} for 4 of 4 buckets (2 bits each).
  auto next = [](std::string bits, size_t index) {
    auto r = next_group_bits(bits, group_id{}, index, 4, 4);
    EXPECT_TRUE(r);
    return r ? *r : std::string{"error"};
  };
  EXPECT_EQ(next("00", 0), "11");
  EXPECT_EQ(next("00", 1), "01");
  EXPECT_EQ(next("11", 2), "00");
  EXPECT_EQ(next("1010", 3), "1010");     // "10" out at the left, "10" in
  EXPECT_EQ(next("011100", 0), "110011"); // length kept
  EXPECT_EQ(next("1", 0), "1");           // only the lowest bit fits
  EXPECT_EQ(next("0", 1), "1");
  EXPECT_EQ(next("", 2), ""); // empty bits stay empty
  // Without a target, a group of 3 draws from 4 buckets; of 1, from 1 (no
  // bits to shift in: the bits stay).
  auto three = next_group_bits("000", group_id{}, 0, 3, std::nullopt);
  ASSERT_TRUE(three);
  EXPECT_EQ(three->size(), 3u);
  auto alone = next_group_bits("101", group_id{}, 0, 1, std::nullopt);
  ASSERT_TRUE(alone);
  EXPECT_EQ(*alone, "101");
}

TEST(group_key, next_bits_errors) {
  EXPECT_FALSE(next_group_bits("2", group_id{}, 0, 2, 2));
  EXPECT_FALSE(next_group_bits("01", group_id{}, 2, 2, 2));
  EXPECT_FALSE(next_group_bits("01", group_id{}, 0, 5, 4));
  std::mt19937_64 rng{5};
  group_info group;
  for (int i = 0; i < 3; ++i)
    group.members.push_back(member_info{{random_peer(rng), "h:1"}, {}, {}, {}});
  auto outsider = next_group_bits("01", group, random_peer(rng), 4);
  ASSERT_FALSE(outsider);
  EXPECT_TRUE(is_error(outsider.error(), errc::invalid_argument));
  auto member = next_group_bits("01", group, group.members[2].peer.id, 4);
  ASSERT_TRUE(member);
  EXPECT_EQ(*member, *next_group_bits("01", group.id, 2, 3, 4));
}

namespace {

/// A pure simulation of Moshpit rounds: peers that share group bits form a
/// group (as matchmaking under their key would), average their values,
/// and take their next bits from the group's draw.
struct moshpit_sim {
  struct peer {
    peer_id id;
    std::string bits;
    double value = 0;
    bool alive = true;
  };

  std::vector<peer> peers;
  std::optional<size_t> target_group_size;
  size_t min_group_size = 2;
  std::mt19937_64 rng{2024};

  void round() {
    std::map<std::string, std::vector<size_t>> by_key;
    for (size_t i = 0; i < peers.size(); ++i)
      if (peers[i].alive)
        by_key[peers[i].bits].push_back(i);
    for (auto& [bits, members] : by_key) {
      if (members.size() < min_group_size)
        continue; // no group: value and bits stay
      // The leader's random group id and member order.
      group_info group;
      group.id = random_id(rng);
      std::shuffle(members.begin(), members.end(), rng);
      double sum = 0;
      for (auto i : members) {
        group.members.push_back(member_info{{peers[i].id, "h:1"}, {}, {}, {}});
        sum += peers[i].value;
      }
      double mean = sum / static_cast<double>(members.size());
      for (auto i : members) {
        auto next = next_group_bits(peers[i].bits, group, peers[i].id,
                                    target_group_size);
        ASSERT_TRUE(next) << describe(next.error());
        peers[i].bits = *next;
        peers[i].value = mean;
      }
    }
  }

  double survivors_mean() const {
    double sum = 0;
    size_t n = 0;
    for (const auto& p : peers)
      if (p.alive) {
        sum += p.value;
        ++n;
      }
    return sum / static_cast<double>(n);
  }

  /// Root mean square deviation of the survivors from their mean.
  double deviation() const {
    double mean = survivors_mean();
    double sq = 0;
    size_t n = 0;
    for (const auto& p : peers)
      if (p.alive) {
        sq += (p.value - mean) * (p.value - mean);
        ++n;
      }
    return std::sqrt(sq / static_cast<double>(n));
  }
};

/// 16 peers on a 4x4 grid: 2-bit keys, 4 peers under each.
moshpit_sim grid_of_16(uint64_t seed) {
  moshpit_sim sim;
  sim.rng.seed(seed);
  sim.target_group_size = 4;
  std::normal_distribution<double> value{3.0, 10.0};
  for (size_t i = 0; i < 16; ++i) {
    moshpit_sim::peer p;
    p.id = random_peer(sim.rng);
    p.bits = std::string{i % 4 < 2 ? "0" : "1"} + (i % 2 ? "1" : "0");
    p.value = value(sim.rng);
    sim.peers.push_back(p);
  }
  return sim;
}

} // namespace

TEST(moshpit, a_4x4_grid_reaches_the_exact_mean_in_two_rounds) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    auto sim = grid_of_16(seed);
    double mean = sim.survivors_mean();
    double scale = 0;
    for (const auto& p : sim.peers)
      scale = std::max(scale, std::abs(p.value));
    sim.round();
    // After one round, each key holds one peer of every first-round group.
    std::map<std::string, size_t> per_key;
    for (const auto& p : sim.peers)
      ++per_key[p.bits];
    EXPECT_EQ(per_key.size(), 4u) << "seed " << seed;
    for (auto& [bits, n] : per_key)
      EXPECT_EQ(n, 4u) << "seed " << seed << " key " << bits;
    EXPECT_GT(sim.deviation(), 1e-3 * scale);
    sim.round();
    for (const auto& p : sim.peers)
      EXPECT_NEAR(p.value, mean, 1e-12 * scale) << "seed " << seed;
  }
}

TEST(moshpit, with_two_peers_gone_the_deviation_falls_every_round) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    auto sim = grid_of_16(seed);
    sim.peers[3].alive = false;
    sim.peers[6].alive = false;
    double mean = sim.survivors_mean();
    double previous = sim.deviation();
    for (int round = 1; round <= 8 && previous > 1e-12 * std::abs(mean);
         ++round) {
      sim.round();
      double now = sim.deviation();
      EXPECT_LT(now, previous) << "seed " << seed << " round " << round;
      // Averaging within groups keeps the survivors' mean.
      EXPECT_NEAR(sim.survivors_mean(), mean, 1e-9);
      previous = now;
    }
    EXPECT_LT(previous, 0.2 * grid_of_16(seed).deviation()) << "seed " << seed;
  }
}
