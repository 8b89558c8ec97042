#include "actors/dht/dht_id.hpp"

#include "tests/unit/test_data.hpp"

#include "messages/error.hpp"
#include "runtime/identity.hpp"
#include "runtime/peer_id.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <unordered_set>

namespace colony::dht {
namespace {

dht_id id_of(std::mt19937_64& rng) {
  return testing::random_dht_id(rng);
}

dht_id hex(const std::string& text) {
  auto id = dht_id::from_hex(text);
  EXPECT_TRUE(id) << text;
  return id ? *id : dht_id{};
}

TEST(dht_id_test, sha1_matches_standard_vectors) {
  EXPECT_EQ(dht_id::of_key("abc").to_hex(),
            "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(dht_id::of_key("").to_hex(),
            "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  // Two blocks after padding.
  EXPECT_EQ(
      dht_id::of_key("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
          .to_hex(),
      "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  EXPECT_EQ(dht_id::of_key(std::string(1000000, 'a')).to_hex(),
            "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
  // Bytes, not C strings: an embedded zero counts.
  EXPECT_NE(dht_id::of_key(std::string("a\0b", 3)), dht_id::of_key("a"));
}

TEST(dht_id_test, of_peer_hashes_the_binary_peer_id) {
  auto me = identity::generate();
  ASSERT_TRUE(me);
  auto peer = me->peer_id();
  const auto& bytes = peer.bytes();
  std::string raw(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  EXPECT_EQ(dht_id::of_peer(peer), dht_id::of_key(raw));
}

TEST(dht_id_test, hex_and_bytes_round_trip) {
  std::mt19937_64 rng{1};
  for (int i = 0; i < 100; ++i) {
    auto id = id_of(rng);
    auto text = id.to_hex();
    EXPECT_EQ(text.size(), dht_id::hex_size);
    EXPECT_EQ(hex(text), id);
    auto back = dht_id::from_bytes(id.bytes().data(), id.bytes().size());
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, id);
  }
  EXPECT_EQ(hex("A9993E364706816ABA3E25717850C26C9CD0D89D"),
            dht_id::of_key("abc"));
}

TEST(dht_id_test, bad_input_is_an_error) {
  auto short_hex = dht_id::from_hex("abcd");
  ASSERT_FALSE(short_hex);
  EXPECT_TRUE(is_error(short_hex.error(), errc::invalid_argument));
  EXPECT_FALSE(dht_id::from_hex(std::string(39, '0') + "g"));
  EXPECT_FALSE(dht_id::from_hex(std::string(41, '0')));
  uint8_t raw[21] = {};
  EXPECT_FALSE(dht_id::from_bytes(raw, 19));
  EXPECT_FALSE(dht_id::from_bytes(raw, 21));
  EXPECT_TRUE(dht_id::from_bytes(raw, 20));
}

TEST(dht_id_test, orders_as_big_endian_integers) {
  auto one = hex("0000000000000000000000000000000000000001");
  auto two_five_six = hex("0000000000000000000000000000000000000100");
  auto top = hex("8000000000000000000000000000000000000000");
  auto max = hex("ffffffffffffffffffffffffffffffffffffffff");
  EXPECT_LT(dht_id{}, one);
  EXPECT_LT(one, two_five_six);
  EXPECT_LT(two_five_six, top);
  EXPECT_LT(top, max);
  EXPECT_GT(max, top);
  EXPECT_LE(one, one);
  EXPECT_GE(one, one);
  EXPECT_TRUE(dht_id{}.is_zero());
  EXPECT_FALSE(one.is_zero());
}

TEST(dht_id_test, xor_distance_is_a_metric) {
  std::mt19937_64 rng{2};
  for (int i = 0; i < 1000; ++i) {
    auto a = id_of(rng);
    auto b = id_of(rng);
    auto c = id_of(rng);
    EXPECT_TRUE(distance(a, a).is_zero());
    EXPECT_EQ(distance(a, b), distance(b, a));
    EXPECT_FALSE(distance(a, b).is_zero());
    // XOR: the distance and one end give back the other end, so for a
    // given point and distance there is exactly one id (unidirectional).
    EXPECT_EQ(distance(distance(a, b), b), a);
    // d(a,c) = d(a,b) xor d(b,c), so its highest set bit is at most that of
    // the larger of the two (which gives the triangle inequality).
    auto ac = distance(a, c);
    EXPECT_EQ(ac, distance(distance(a, b), distance(b, c)));
    auto larger = std::max(distance(a, b), distance(b, c));
    EXPECT_GE(ac.common_prefix_length(dht_id{}),
              larger.common_prefix_length(dht_id{}));
  }
  // Nearer = longer shared prefix.
  auto x = hex("f000000000000000000000000000000000000000");
  auto near = hex("f100000000000000000000000000000000000000");
  auto far = hex("7000000000000000000000000000000000000000");
  EXPECT_LT(distance(near, x), distance(far, x));
  EXPECT_EQ(distance(x, far).to_hex(),
            "8000000000000000000000000000000000000000");
  // Qualified name lookup works too (not only argument-dependent lookup).
  EXPECT_EQ(dht::distance(x, near), distance(near, x));
}

TEST(dht_id_test, bit_helpers) {
  auto id = hex("a500000000000000000000000000000000000001");
  EXPECT_TRUE(id.bit(0));
  EXPECT_FALSE(id.bit(1));
  EXPECT_TRUE(id.bit(2));
  EXPECT_TRUE(id.bit(159));
  EXPECT_FALSE(id.bit(158));
  EXPECT_EQ(dht_id{}.with_bit(0, true).to_hex(),
            "8000000000000000000000000000000000000000");
  EXPECT_EQ(id.with_bit(0, false).to_hex(),
            "2500000000000000000000000000000000000001");
  EXPECT_EQ(id.prefix(0), dht_id{});
  EXPECT_EQ(id.prefix(3).to_hex(), "a000000000000000000000000000000000000000");
  EXPECT_EQ(id.prefix(8).to_hex(), "a500000000000000000000000000000000000000");
  EXPECT_EQ(id.prefix(160), id);
  EXPECT_EQ(id.common_prefix_length(id), dht_id::bits);
  EXPECT_EQ(id.common_prefix_length(id.with_bit(159, false)), 159u);
  EXPECT_EQ(id.common_prefix_length(id.with_bit(0, false)), 0u);
  EXPECT_EQ(id.common_prefix_length(id.with_bit(13, true)), 13u);
  EXPECT_TRUE(id.shares_prefix(id.with_bit(13, true), 13));
  EXPECT_FALSE(id.shares_prefix(id.with_bit(13, true), 14));
}

TEST(dht_id_test, random_ids) {
  std::unordered_set<dht_id> seen;
  for (int i = 0; i < 1000; ++i)
    seen.insert(dht_id::random());
  EXPECT_EQ(seen.size(), 1000u);
  auto prefix = hex("abcdef0000000000000000000000000000000000");
  for (size_t depth : {0u, 1u, 7u, 8u, 13u, 24u, 159u, 160u}) {
    auto lower = prefix.prefix(depth);
    for (int i = 0; i < 20; ++i) {
      auto id = dht_id::random_with_prefix(lower, depth);
      EXPECT_TRUE(id.shares_prefix(lower, depth)) << depth;
    }
  }
  // The bits after the prefix are random, not copied.
  std::unordered_set<dht_id> below;
  for (int i = 0; i < 100; ++i)
    below.insert(dht_id::random_with_prefix(prefix, 24));
  EXPECT_EQ(below.size(), 100u);
}

} // namespace
} // namespace colony::dht
