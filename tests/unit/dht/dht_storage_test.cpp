#include "actors/dht/detail/dht_storage.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace colony::dht {
namespace {

using namespace std::string_literals;

/// A DHT time in the present era (seconds since the epoch).
constexpr double t0 = 1.7e9;

dht_id key(const std::string& k) {
  return dht_id::of_key(k);
}

TEST(dht_storage_test, stores_and_gets_a_plain_value) {
  dht_storage s;
  EXPECT_TRUE(s.store(key("k"), "v", t0 + 10, t0));
  auto v = s.get(key("k"), t0 + 1);
  ASSERT_TRUE(v);
  EXPECT_FALSE(v->is_dictionary());
  EXPECT_EQ(v->plain, "v");
  EXPECT_TRUE(v->subkeys.empty());
  EXPECT_EQ(v->expiration, t0 + 10);
  EXPECT_FALSE(s.get(key("other"), t0));
  EXPECT_EQ(s.size(t0), 1u);
}

TEST(dht_storage_test, newer_expiration_wins) {
  dht_storage s;
  EXPECT_TRUE(s.store(key("k"), "first", t0 + 10, t0));
  EXPECT_FALSE(s.store(key("k"), "older", t0 + 5, t0));
  EXPECT_FALSE(s.store(key("k"), "same", t0 + 10, t0));
  EXPECT_EQ(s.get(key("k"), t0)->plain, "first");
  EXPECT_TRUE(s.store(key("k"), "newer", t0 + 20, t0 + 1));
  auto v = s.get(key("k"), t0 + 1);
  EXPECT_EQ(v->plain, "newer");
  EXPECT_EQ(v->expiration, t0 + 20);
  EXPECT_EQ(s.size(t0), 1u);
}

TEST(dht_storage_test, past_expiration_is_refused) {
  dht_storage s;
  EXPECT_FALSE(s.store(key("k"), "v", t0 - 1, t0));
  EXPECT_FALSE(s.store_subkey(key("k"), "sk", "v", t0 - 1, t0));
  EXPECT_FALSE(s.get(key("k"), t0));
  // Expiring right now is still alive.
  EXPECT_TRUE(s.store(key("now"), "v", t0, t0));
  EXPECT_TRUE(s.get(key("now"), t0));
  // NaN is refused, never stored.
  auto nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_FALSE(s.store(key("nan"), "v", nan, t0));
  EXPECT_FALSE(s.store_subkey(key("nan"), "sk", "v", nan, t0));
  EXPECT_EQ(s.size(t0), 1u);
}

TEST(dht_storage_test, expired_values_vanish) {
  dht_storage s;
  ASSERT_TRUE(s.store(key("short"), "v", t0 + 5, t0));
  ASSERT_TRUE(s.store(key("long"), "v", t0 + 50, t0));
  EXPECT_TRUE(s.get(key("short"), t0 + 5));
  EXPECT_FALSE(s.get(key("short"), t0 + 5.001));
  EXPECT_EQ(s.size(t0 + 6), 1u);
  EXPECT_EQ(s.items(t0 + 6).size(), 1u);
  // An expired key accepts any live value again, even an earlier one.
  EXPECT_TRUE(s.store(key("short"), "again", t0 + 7, t0 + 6));
  EXPECT_EQ(s.get(key("short"), t0 + 6)->plain, "again");
  s.remove_expired(t0 + 100);
  EXPECT_EQ(s.size(t0 + 100), 0u);
  EXPECT_TRUE(s.items(t0 + 100).empty());
  // Going back in time does not resurrect anything.
  EXPECT_FALSE(s.get(key("long"), t0));
}

TEST(dht_storage_test, subkeys_make_a_dictionary) {
  dht_storage s;
  EXPECT_TRUE(s.store_subkey(key("d"), "a", "va", t0 + 10, t0));
  EXPECT_TRUE(s.store_subkey(key("d"), "b", "vb", t0 + 20, t0));
  EXPECT_TRUE(s.store_subkey(key("d"), "c", "vc", t0 + 5, t0));
  auto v = s.get(key("d"), t0);
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->is_dictionary());
  EXPECT_FALSE(v->plain);
  EXPECT_EQ(v->expiration, t0 + 20); // the latest subkey's
  ASSERT_EQ(v->subkeys.size(), 3u);
  EXPECT_EQ(v->subkeys.at("a"), (value_with_expiration{"va", t0 + 10}));
  EXPECT_EQ(v->subkeys.at("b"), (value_with_expiration{"vb", t0 + 20}));
  EXPECT_EQ(v->subkeys.at("c"), (value_with_expiration{"vc", t0 + 5}));
}

TEST(dht_storage_test, subkey_newer_expiration_wins) {
  dht_storage s;
  EXPECT_TRUE(s.store_subkey(key("d"), "a", "v1", t0 + 10, t0));
  EXPECT_FALSE(s.store_subkey(key("d"), "a", "older", t0 + 9, t0));
  EXPECT_FALSE(s.store_subkey(key("d"), "a", "same", t0 + 10, t0));
  EXPECT_EQ(s.get(key("d"), t0)->subkeys.at("a").value, "v1");
  EXPECT_TRUE(s.store_subkey(key("d"), "a", "v2", t0 + 30, t0));
  auto v = s.get(key("d"), t0);
  EXPECT_EQ(v->subkeys.at("a"), (value_with_expiration{"v2", t0 + 30}));
  EXPECT_EQ(v->expiration, t0 + 30);
  // Another subkey may expire earlier than the dictionary does.
  EXPECT_TRUE(s.store_subkey(key("d"), "b", "vb", t0 + 1, t0));
  EXPECT_EQ(s.get(key("d"), t0)->expiration, t0 + 30);
}

TEST(dht_storage_test, expired_subkeys_are_hidden) {
  dht_storage s;
  ASSERT_TRUE(s.store_subkey(key("d"), "early", "v", t0 + 5, t0));
  ASSERT_TRUE(s.store_subkey(key("d"), "late", "v", t0 + 50, t0));
  auto v = s.get(key("d"), t0 + 10);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->subkeys.size(), 1u);
  EXPECT_EQ(v->subkeys.count("late"), 1u);
  EXPECT_EQ(v->expiration, t0 + 50);
  // The expired subkey is gone: storing it again with an earlier (but
  // live) expiration works.
  EXPECT_TRUE(s.store_subkey(key("d"), "early", "w", t0 + 20, t0 + 10));
  EXPECT_EQ(s.get(key("d"), t0 + 10)->subkeys.size(), 2u);
  auto records = s.records_of(key("d"), t0 + 30);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].subkey, "late");
  // When all subkeys expire, the key does.
  EXPECT_FALSE(s.get(key("d"), t0 + 51));
  EXPECT_EQ(s.size(t0 + 51), 0u);
}

TEST(dht_storage_test, plain_to_dictionary_upgrade_needs_later_expiration) {
  dht_storage s;
  ASSERT_TRUE(s.store(key("k"), "plain", t0 + 10, t0));
  EXPECT_FALSE(s.store_subkey(key("k"), "sk", "v", t0 + 5, t0));
  EXPECT_FALSE(s.store_subkey(key("k"), "sk", "v", t0 + 10, t0));
  EXPECT_EQ(s.get(key("k"), t0)->plain, "plain");
  EXPECT_TRUE(s.store_subkey(key("k"), "sk", "v", t0 + 11, t0));
  auto v = s.get(key("k"), t0);
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->is_dictionary());
  ASSERT_EQ(v->subkeys.size(), 1u);
  EXPECT_EQ(v->subkeys.at("sk"), (value_with_expiration{"v", t0 + 11}));
  EXPECT_EQ(v->expiration, t0 + 11);
}

TEST(dht_storage_test, plain_value_replaces_dictionary_only_if_later) {
  dht_storage s;
  ASSERT_TRUE(s.store_subkey(key("k"), "a", "v", t0 + 10, t0));
  ASSERT_TRUE(s.store_subkey(key("k"), "b", "v", t0 + 20, t0));
  EXPECT_FALSE(s.store(key("k"), "plain", t0 + 15, t0));
  EXPECT_FALSE(s.store(key("k"), "plain", t0 + 20, t0));
  EXPECT_TRUE(s.get(key("k"), t0)->is_dictionary());
  EXPECT_TRUE(s.store(key("k"), "plain", t0 + 21, t0));
  auto v = s.get(key("k"), t0);
  EXPECT_EQ(v->plain, "plain");
  EXPECT_TRUE(v->subkeys.empty());
  EXPECT_EQ(v->expiration, t0 + 21);
}

TEST(dht_storage_test, maxsize_evicts_earliest_expiration) {
  dht_storage s{3};
  EXPECT_EQ(s.maxsize(), 3u);
  ASSERT_TRUE(s.store(key("a"), "v", t0 + 30, t0));
  ASSERT_TRUE(s.store(key("b"), "v", t0 + 10, t0));
  ASSERT_TRUE(s.store_subkey(key("c"), "sk", "v", t0 + 20, t0));
  EXPECT_TRUE(s.store(key("d"), "v", t0 + 40, t0));
  EXPECT_EQ(s.size(t0), 3u);
  EXPECT_FALSE(s.get(key("b"), t0)); // expired first: evicted
  EXPECT_TRUE(s.get(key("a"), t0));
  EXPECT_TRUE(s.get(key("c"), t0));
  EXPECT_TRUE(s.get(key("d"), t0));
  // A new key expiring before all others is itself the one that goes.
  EXPECT_FALSE(s.store(key("e"), "v", t0 + 1, t0));
  EXPECT_FALSE(s.get(key("e"), t0));
  EXPECT_EQ(s.size(t0), 3u);
  // Updating a key's expiration moves it in the eviction order: c was
  // next to go, now a is.
  EXPECT_TRUE(s.store_subkey(key("c"), "sk2", "v", t0 + 50, t0));
  EXPECT_TRUE(s.store(key("f"), "v", t0 + 60, t0));
  EXPECT_FALSE(s.get(key("a"), t0));
  EXPECT_TRUE(s.get(key("c"), t0));
  // Updates of existing keys never evict.
  EXPECT_TRUE(s.store(key("d"), "w", t0 + 70, t0));
  EXPECT_EQ(s.size(t0), 3u);
}

TEST(dht_storage_test, unbounded_by_default) {
  dht_storage s;
  for (int i = 0; i < 1000; ++i)
    ASSERT_TRUE(s.store(key(std::to_string(i)), "v", t0 + i, t0));
  EXPECT_EQ(s.size(t0), 1000u);
  EXPECT_EQ(s.size(t0 + 500), 500u); // 500..999 still alive
}

TEST(dht_storage_test, edge_case_keys_values_and_subkeys) {
  dht_storage s;
  const std::vector<std::string> strings{
      ""s,
      "0"s,
      "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xe4\xb8\x96"s,
      "a\0b"s,
      "\0"s,
      "\0\0"s,
      std::string(1000, '\xff')};
  // Keys differing only in embedded zero bytes are different keys.
  for (size_t i = 0; i < strings.size(); ++i)
    for (size_t j = i + 1; j < strings.size(); ++j)
      ASSERT_NE(key(strings[i]), key(strings[j]));
  for (size_t i = 0; i < strings.size(); ++i)
    ASSERT_TRUE(
        s.store(key(strings[i]), strings[i], t0 + 1 + i, t0, strings[i]));
  for (size_t i = 0; i < strings.size(); ++i) {
    auto v = s.get(key(strings[i]), t0);
    ASSERT_TRUE(v);
    EXPECT_EQ(v->plain, strings[i]);
    auto records = s.records_of(key(strings[i]), t0);
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0].key, strings[i]);
    EXPECT_FALSE(records[0].has_subkey);
    EXPECT_EQ(records[0].value, strings[i]);
  }
  // The same strings as subkeys of one dictionary, each its own entry.
  for (size_t i = 0; i < strings.size(); ++i)
    ASSERT_TRUE(s.store_subkey(key("dict"), strings[i], strings[i], t0 + 10 + i,
                               t0, "dict"));
  auto v = s.get(key("dict"), t0);
  ASSERT_TRUE(v);
  ASSERT_EQ(v->subkeys.size(), strings.size());
  for (size_t i = 0; i < strings.size(); ++i)
    EXPECT_EQ(v->subkeys.at(strings[i]).value, strings[i]);
  // The empty subkey is a subkey like any other.
  EXPECT_FALSE(s.store_subkey(key("dict"), "", "older", t0 + 5, t0));
  EXPECT_EQ(v->expiration, t0 + 9 + strings.size());
}

TEST(dht_storage_test, records_of_and_items) {
  dht_storage s;
  ASSERT_TRUE(s.store(key("plain"), "pv", t0 + 10, t0, "plain"));
  ASSERT_TRUE(s.store_subkey(key("dict"), "x", "vx", t0 + 10, t0, "dict"));
  ASSERT_TRUE(s.store_subkey(key("dict"), "y", "vy", t0 + 20, t0));
  // No serialized key given: records carry an empty one.
  ASSERT_TRUE(s.store(key("anon"), "av", t0 + 10, t0));

  auto plain = s.records_of(key("plain"), t0);
  ASSERT_EQ(plain.size(), 1u);
  EXPECT_EQ(plain[0].key, "plain");
  EXPECT_FALSE(plain[0].has_subkey);
  EXPECT_EQ(plain[0].value, "pv");
  EXPECT_EQ(plain[0].expiration, t0 + 10);

  auto dict = s.records_of(key("dict"), t0);
  ASSERT_EQ(dict.size(), 2u);
  EXPECT_EQ(dict[0].key, "dict"); // kept from the first store
  EXPECT_TRUE(dict[0].has_subkey);
  EXPECT_EQ(dict[0].subkey, "x");
  EXPECT_EQ(dict[0].value, "vx");
  EXPECT_EQ(dict[1].subkey, "y");
  EXPECT_EQ(dict[1].expiration, t0 + 20);

  EXPECT_EQ(s.records_of(key("anon"), t0)[0].key, "");
  EXPECT_TRUE(s.records_of(key("missing"), t0).empty());

  auto items = s.items(t0 + 15);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].first, key("dict"));
  EXPECT_EQ(items[0].second.subkeys.size(), 1u); // x expired
  EXPECT_EQ(items[0].second.expiration, t0 + 20);
}

TEST(dht_storage_test, erase) {
  dht_storage s;
  ASSERT_TRUE(s.store(key("k"), "v", t0 + 10, t0));
  EXPECT_TRUE(s.erase(key("k")));
  EXPECT_FALSE(s.erase(key("k")));
  EXPECT_FALSE(s.get(key("k"), t0));
  // After erasing, an earlier expiration is accepted.
  EXPECT_TRUE(s.store(key("k"), "v", t0 + 1, t0));
}

TEST(dht_storage_test, infinite_expiration_is_kept) {
  dht_storage s{1};
  auto inf = std::numeric_limits<double>::infinity();
  EXPECT_TRUE(s.store(key("forever"), "v", inf, t0));
  EXPECT_TRUE(s.get(key("forever"), t0 + 1e12));
  EXPECT_FALSE(s.store(key("forever"), "w", inf, t0));
  // The bound still holds: a finite newcomer is evicted first.
  EXPECT_FALSE(s.store(key("finite"), "v", t0 + 1, t0));
  EXPECT_EQ(s.size(t0), 1u);
}

} // namespace
} // namespace colony::dht

namespace colony::dht {
namespace {

TEST(dht_storage_test, counts_records_not_keys) {
  dht_storage s{3};
  ASSERT_TRUE(s.store_subkey(key("d"), "1", "v", t0 + 10, t0, "d", "p"));
  ASSERT_TRUE(s.store_subkey(key("d"), "2", "v", t0 + 20, t0, "d", "p"));
  ASSERT_TRUE(s.store_subkey(key("d"), "3", "v", t0 + 30, t0, "d", "p"));
  EXPECT_EQ(s.size(t0), 1u);
  EXPECT_EQ(s.record_count(t0), 3u);
  // A fourth record evicts the earliest subkey; the dictionary now expires
  // with its latest remaining one.
  ASSERT_TRUE(s.store(key("k"), "v", t0 + 40, t0, "k", "q"));
  auto d = s.get(key("d"), t0);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->subkeys.size(), 2u);
  EXPECT_EQ(d->subkeys.count("1"), 0u);
  // A plain value replacing the dictionary frees its records.
  ASSERT_TRUE(s.store(key("d"), "plain", t0 + 50, t0, "d", "p"));
  EXPECT_EQ(s.record_count(t0), 2u);
  EXPECT_EQ(s.record_count_of("p", t0), 1u);
  // Expired records leave the count.
  EXPECT_EQ(s.record_count(t0 + 45), 1u);
}

TEST(dht_storage_test, a_peer_beyond_its_share_is_refused) {
  dht_storage s{100, 0.1};
  EXPECT_EQ(s.share_limit(), 10u);
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(
        s.store(key("p" + std::to_string(i)), "v", t0 + 60, t0, {}, "flood"));
  auto r = s.store(key("p10"), "v", t0 + 60, t0, {}, "flood");
  EXPECT_EQ(r.outcome, store_outcome::over_share);
  EXPECT_STREQ(to_string(r.outcome), "over_share");
  // Its own records it may still refresh, and others may still store.
  EXPECT_TRUE(s.store(key("p3"), "w", t0 + 90, t0, {}, "flood"));
  EXPECT_TRUE(s.store(key("other"), "v", t0 + 60, t0, {}, "honest"));
  // Taking over another peer's record counts against the taker's share.
  EXPECT_EQ(s.store(key("other"), "v", t0 + 99, t0, {}, "flood").outcome,
            store_outcome::over_share);
  // Once its records expire, it may store again.
  EXPECT_TRUE(s.store(key("late"), "v", t0 + 200, t0 + 61, {}, "flood"));
  // The node itself has no share.
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(
        s.store(key("own" + std::to_string(i)), "v", t0 + 300, t0 + 61));
  // Unbounded storage has no shares either.
  dht_storage unbounded{0, 0.1};
  for (int i = 0; i < 50; ++i)
    ASSERT_TRUE(
        unbounded.store(key(std::to_string(i)), "v", t0 + 60, t0, {}, "p"));
}

TEST(dht_storage_test, when_full_the_biggest_holder_loses_its_earliest) {
  // Ten peers at their share (2 of 20) fill the storage; the next store
  // evicts from a peer holding the most, never from one holding less.
  dht_storage s{20, 0.1};
  for (int p = 0; p < 10; ++p)
    for (int i = 0; i < 2; ++i)
      ASSERT_TRUE(
          s.store(key("k" + std::to_string(p) + "." + std::to_string(i)), "v",
                  t0 + 100 + p * 10 + i, t0, {}, "peer" + std::to_string(p)));
  ASSERT_EQ(s.record_count(t0), 20u);
  ASSERT_TRUE(s.store(key("newcomer"), "v", t0 + 1, t0, {}, "new"));
  EXPECT_EQ(s.record_count(t0), 20u);
  // The newcomer (1 record) kept its record although it expires first.
  EXPECT_TRUE(s.get(key("newcomer"), t0));
  // The victim was the earliest-expiring record of one of the peers
  // holding 2: every peer but one still holds both of its records.
  size_t peers_with_two = 0;
  for (int p = 0; p < 10; ++p)
    peers_with_two += s.record_count_of("peer" + std::to_string(p), t0) == 2;
  EXPECT_EQ(peers_with_two, 9u);
  // A store that would itself be the victim is refused as no_room.
  dht_storage one{1};
  ASSERT_TRUE(one.store(key("a"), "v", t0 + 50, t0));
  EXPECT_EQ(one.store(key("b"), "v", t0 + 10, t0).outcome,
            store_outcome::no_room);
}

} // namespace
} // namespace colony::dht
