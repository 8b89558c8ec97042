// The state server's bounded set of snapshots: the newest kept, idle ones
// dropped.

#include "actors/averaging/detail/snapshot_store.hpp"
#include "messages/error.hpp"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

using namespace colony;
using namespace colony::averaging;
using namespace colony::averaging::detail;
using namespace std::chrono_literals;

namespace {

state_snapshot snapshot(uint64_t id) {
  auto s = state_snapshot::make(id, "m" + std::to_string(id),
                                {at::full({4}, float(id))}, {4096, {}});
  EXPECT_TRUE(s) << describe(s.error());
  return std::move(*s);
}

} // namespace

TEST(snapshot_store, keeps_the_newest_up_to_its_capacity) {
  snapshot_store store{2};
  snapshot_store::clock::time_point t0{};
  EXPECT_EQ(store.add(snapshot(1), t0), 0u);
  EXPECT_EQ(store.add(snapshot(2), t0 + 1s), 0u);
  EXPECT_EQ(store.size(), 2u);
  // A third drops the oldest, even if it was used last.
  ASSERT_NE(store.find(1, t0 + 2s), nullptr);
  EXPECT_EQ(store.add(snapshot(3), t0 + 3s), 1u);
  EXPECT_FALSE(store.contains(1));
  EXPECT_TRUE(store.contains(2));
  EXPECT_TRUE(store.contains(3));
  const auto* s3 = store.find(3, t0 + 3s);
  ASSERT_NE(s3, nullptr);
  EXPECT_EQ(s3->id(), 3u);
  EXPECT_EQ(store.find(1, t0 + 3s), nullptr);
}

TEST(snapshot_store, drops_idle_snapshots) {
  snapshot_store store{3};
  snapshot_store::clock::time_point t0{};
  store.add(snapshot(1), t0);
  store.add(snapshot(2), t0);
  store.add(snapshot(3), t0 + 5s);
  // Snapshot 1 is used at 8 s: only 2 is idle for 10 s at 12 s.
  ASSERT_NE(store.find(1, t0 + 8s), nullptr);
  EXPECT_EQ(store.drop_idle(t0 + 12s, 10s), 1u);
  EXPECT_TRUE(store.contains(1));
  EXPECT_FALSE(store.contains(2));
  EXPECT_TRUE(store.contains(3));
  EXPECT_EQ(store.drop_idle(t0 + 30s, 10s), 2u);
  EXPECT_TRUE(store.empty());
}

TEST(snapshot_store, capacity_is_at_least_one) {
  snapshot_store store{0};
  store.add(snapshot(1), {});
  store.add(snapshot(2), {});
  EXPECT_EQ(store.size(), 1u);
  EXPECT_TRUE(store.contains(2));
}
