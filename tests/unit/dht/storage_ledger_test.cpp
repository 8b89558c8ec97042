#include "actors/dht/storage_ledger.hpp"

#include <gtest/gtest.h>

namespace colony::dht {
namespace {

record_ref ledger_plain(const std::string& k) {
  return record_ref{dht_id::of_key(k), std::nullopt};
}

record_ref ledger_sub(const std::string& k, const std::string& sk) {
  return record_ref{dht_id::of_key(k), sk};
}

TEST(storage_ledger_test, counts_records_per_owner) {
  storage_ledger l;
  l.add(ledger_plain("a"), "p", 10);
  l.add(ledger_sub("d", "1"), "p", 20);
  l.add(ledger_sub("d", "2"), "q", 5);
  EXPECT_EQ(l.size(), 3u);
  EXPECT_EQ(l.count_of("p"), 2u);
  EXPECT_EQ(l.count_of("q"), 1u);
  EXPECT_EQ(l.count_of("nobody"), 0u);
  ASSERT_TRUE(l.owner_of(ledger_sub("d", "2")));
  EXPECT_EQ(*l.owner_of(ledger_sub("d", "2")), "q");
  EXPECT_EQ(l.earliest()->second, ledger_sub("d", "2"));
  // Adding a held record moves it to its new owner and expiration.
  l.add(ledger_sub("d", "2"), "p", 30);
  EXPECT_EQ(l.count_of("p"), 3u);
  EXPECT_EQ(l.count_of("q"), 0u);
  EXPECT_EQ(l.earliest()->second, ledger_plain("a"));
  EXPECT_TRUE(l.remove(ledger_plain("a")));
  EXPECT_FALSE(l.remove(ledger_plain("a")));
  EXPECT_EQ(l.size(), 2u);
  EXPECT_EQ(l.owner_of(ledger_plain("a")), nullptr);
}

TEST(storage_ledger_test, victim_is_the_earliest_of_the_biggest_owner) {
  storage_ledger l;
  EXPECT_FALSE(l.eviction_victim());
  l.add(ledger_plain("small"), "small", 1); // expires first of all
  l.add(ledger_plain("b1"), "big", 30);
  l.add(ledger_plain("b2"), "big", 20);
  l.add(ledger_plain("b3"), "big", 40);
  EXPECT_EQ(l.eviction_victim(), ledger_plain("b2"));
  l.remove(ledger_plain("b2"));
  l.remove(ledger_plain("b1"));
  l.add(ledger_plain("s2"), "small", 50);
  // Now "small" holds the most.
  EXPECT_EQ(l.eviction_victim(), ledger_plain("small"));
}

} // namespace
} // namespace colony::dht
