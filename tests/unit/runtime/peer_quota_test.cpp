#include "runtime/transport/peer_quota.hpp"

#include <gtest/gtest.h>

using colony::peer_quota;

TEST(peer_quota, admits_up_to_max_calls_per_peer) {
  peer_quota q{3, 0};
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(q.admit("flooder", 10), peer_quota::verdict::admitted);
  EXPECT_EQ(q.admit("flooder", 10), peer_quota::verdict::too_many_calls);
  EXPECT_EQ(q.calls("flooder"), 3u);
  EXPECT_EQ(q.bytes("flooder"), 30u);
  // Another peer has its own share.
  EXPECT_EQ(q.admit("honest", 10), peer_quota::verdict::admitted);
  EXPECT_EQ(q.peers(), 2u);
  // An answered call frees one place.
  q.release("flooder", 10);
  EXPECT_EQ(q.admit("flooder", 10), peer_quota::verdict::admitted);
  EXPECT_EQ(q.admit("flooder", 10), peer_quota::verdict::too_many_calls);
}

TEST(peer_quota, bounds_request_bytes_per_peer) {
  peer_quota q{0, 100};
  EXPECT_EQ(q.admit("a", 60), peer_quota::verdict::admitted);
  EXPECT_EQ(q.admit("a", 41), peer_quota::verdict::too_many_bytes);
  EXPECT_EQ(q.admit("a", 40), peer_quota::verdict::admitted);
  EXPECT_EQ(q.bytes("a"), 100u);
  EXPECT_EQ(q.admit("a", 0), peer_quota::verdict::admitted);
  EXPECT_EQ(q.admit("a", 1), peer_quota::verdict::too_many_bytes);
  // A call larger than the whole bound never fits, and nothing overflows.
  EXPECT_EQ(q.admit("b", 101), peer_quota::verdict::too_many_bytes);
  EXPECT_EQ(q.admit("b", SIZE_MAX), peer_quota::verdict::too_many_bytes);
  EXPECT_EQ(q.calls("b"), 0u);
  q.release("a", 60);
  EXPECT_EQ(q.bytes("a"), 40u);
  EXPECT_EQ(q.admit("a", 60), peer_quota::verdict::admitted);
}

TEST(peer_quota, forgets_peers_with_nothing_in_progress) {
  peer_quota q{2, 1000};
  EXPECT_EQ(q.admit("a", 5), peer_quota::verdict::admitted);
  EXPECT_EQ(q.admit("a", 7), peer_quota::verdict::admitted);
  q.release("a", 5);
  q.release("a", 7);
  EXPECT_EQ(q.peers(), 0u);
  EXPECT_EQ(q.calls("a"), 0u);
  EXPECT_EQ(q.bytes("a"), 0u);
  // Releasing what was never admitted changes nothing.
  q.release("nobody", 5);
  EXPECT_EQ(q.peers(), 0u);
}

TEST(peer_quota, zero_means_no_bound) {
  peer_quota q{0, 0};
  for (int i = 0; i < 10000; ++i)
    ASSERT_EQ(q.admit("a", size_t{1} << 40), peer_quota::verdict::admitted);
  EXPECT_EQ(q.calls("a"), 10000u);
}

TEST(peer_quota, explains_which_bound_a_call_hit) {
  peer_quota q{1, 100};
  ASSERT_EQ(q.admit("a", 10), peer_quota::verdict::admitted);
  auto calls = q.explain(q.admit("a", 10), "a", 10);
  EXPECT_NE(calls.find("busy"), std::string::npos) << calls;
  EXPECT_NE(calls.find("transport.max_calls_per_peer 1"), std::string::npos)
      << calls;
  auto bytes = q.explain(q.admit("b", 200), "b", 200);
  EXPECT_NE(bytes.find("transport.max_request_bytes_per_peer 100"),
            std::string::npos)
      << bytes;
  EXPECT_STREQ(colony::to_string(peer_quota::verdict::too_many_bytes),
               "too_many_bytes");
}
