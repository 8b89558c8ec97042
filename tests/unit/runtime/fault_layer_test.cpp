// The transport's fault injection as pure logic: loss, delay with jitter,
// order per connection, partition matching, counters.

#include "runtime/transport/fault_layer.hpp"

#include <gtest/gtest.h>

using namespace colony;
using namespace std::chrono_literals;
using clock_type = fault_layer::clock_type;

TEST(fault_layer, off_by_default_and_costs_nothing) {
  fault_layer f;
  EXPECT_FALSE(f.active());
  auto now = clock_type::now();
  auto at = f.schedule(1, now);
  ASSERT_TRUE(at);
  EXPECT_EQ(*at, now);
  EXPECT_FALSE(f.is_partitioned("127.0.0.1:1", "x"));
  EXPECT_EQ(f.counters().messages_delayed, 0u);
}

TEST(fault_layer, drops_about_the_drop_rate) {
  fault_settings s;
  s.drop_rate = 0.2;
  s.seed = 42;
  fault_layer f;
  f.configure(s);
  EXPECT_TRUE(f.active());
  int lost = 0;
  auto now = clock_type::now();
  for (int i = 0; i < 10000; ++i)
    lost += f.schedule(i % 7, now) ? 0 : 1;
  // Binomial(10000, 0.2): sd 40; 6 sd either way.
  EXPECT_GT(lost, 1760);
  EXPECT_LT(lost, 2240);
  EXPECT_EQ(f.counters().messages_dropped, static_cast<uint64_t>(lost));
  // The same seed draws the same losses.
  fault_layer g;
  g.configure(s);
  int again = 0;
  for (int i = 0; i < 10000; ++i)
    again += g.schedule(i % 7, now) ? 0 : 1;
  EXPECT_EQ(again, lost);
  s.drop_rate = 1;
  f.configure(s);
  for (int i = 0; i < 100; ++i)
    EXPECT_FALSE(f.schedule(1, now));
}

TEST(fault_layer, delay_with_jitter_stays_in_bounds_and_keeps_order) {
  fault_settings s;
  s.delay = 100ms;
  s.jitter = 80ms;
  s.seed = 7;
  fault_layer f;
  f.configure(s);
  auto now = clock_type::now();
  clock_type::time_point previous[3] = {};
  bool some_below_delay = false;
  for (int i = 0; i < 3000; ++i) {
    auto conn = i % 3;
    auto t = now + std::chrono::microseconds(10 * i);
    auto at = f.schedule(conn, t);
    ASSERT_TRUE(at);
    EXPECT_GE(*at, t + 20ms);
    // Never before the previous message to the same connection.
    EXPECT_GE(*at, previous[conn]);
    // At most delay + jitter after sending, unless held behind an earlier
    // message to the same connection.
    if (*at > previous[conn])
      EXPECT_LE(*at, t + 180ms);
    some_below_delay = some_below_delay || *at < t + 100ms;
    previous[conn] = *at;
  }
  EXPECT_TRUE(some_below_delay) << "jitter goes both ways";
  EXPECT_EQ(f.counters().messages_delayed, 3000u);
  // A jitter larger than the delay never schedules into the past.
  s.delay = 10ms;
  s.jitter = 50ms;
  f.configure(s);
  f.forget(0);
  for (int i = 0; i < 200; ++i) {
    auto t = clock_type::now();
    EXPECT_GE(*f.schedule(0, t), t);
  }
}

TEST(fault_layer, partition_matches_addresses_and_peer_ids) {
  fault_settings s;
  s.partitioned = {"127.0.0.1:4000", "12D3KooWPeerId"};
  fault_layer f;
  f.configure(s);
  EXPECT_TRUE(f.active());
  EXPECT_TRUE(f.is_partitioned("127.0.0.1:4000", ""));
  EXPECT_TRUE(f.is_partitioned("", "12D3KooWPeerId"));
  EXPECT_TRUE(f.is_partitioned("127.0.0.1:5000", "12D3KooWPeerId"));
  EXPECT_FALSE(f.is_partitioned("127.0.0.1:5000", "12D3KooWOther"));
  EXPECT_FALSE(f.is_partitioned("", ""));
  // Partition alone delays and drops nothing.
  auto now = clock_type::now();
  EXPECT_EQ(*f.schedule(1, now), now);
  f.count_partitioned();
  EXPECT_EQ(f.counters().frames_partitioned, 1u);
  // Clearing heals, and counters stay.
  f.configure({});
  EXPECT_FALSE(f.active());
  EXPECT_FALSE(f.is_partitioned("127.0.0.1:4000", ""));
  EXPECT_EQ(f.counters().frames_partitioned, 1u);
}

TEST(fault_layer, exempt_peers_are_named_by_peer_id) {
  fault_layer f;
  EXPECT_FALSE(f.is_exempt("12D3KooWBoss"));
  fault_settings s;
  s.drop_rate = 1;
  s.exempt = {"12D3KooWBoss"};
  f.configure(s);
  EXPECT_TRUE(f.active());
  EXPECT_TRUE(f.is_exempt("12D3KooWBoss"));
  EXPECT_FALSE(f.is_exempt("12D3KooWOther"));
  EXPECT_FALSE(f.is_exempt(""));
  // An exemption alone is no fault.
  fault_settings only;
  only.exempt = {"12D3KooWBoss"};
  f.configure(only);
  EXPECT_FALSE(f.active());
}
