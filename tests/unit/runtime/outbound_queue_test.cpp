#include "runtime/transport/detail/outbound_queue.hpp"

#include <gtest/gtest.h>

using namespace colony;

namespace {

outbound_message message(uint64_t id, size_t bytes) {
  outbound_message m;
  m.call_id = id;
  m.body = envelope{std::vector<char>(bytes, 'x')};
  return m;
}

} // namespace

TEST(outbound_queue, small_message_is_not_stuck_behind_a_large_one) {
  outbound_queue q{1024};
  q.push(message(1, 10 * 1024));
  q.push(message(2, 64));
  std::vector<std::pair<uint64_t, size_t>> order;
  while (
      q.write_next([&](const outbound_message& m, size_t offset, size_t len) {
        order.emplace_back(m.call_id, len);
      })) {
  }
  ASSERT_EQ(order.size(), 11u);
  EXPECT_EQ(order[0], std::make_pair(uint64_t{1}, size_t{1024}));
  EXPECT_EQ(order[1], std::make_pair(uint64_t{2}, size_t{64}));
  size_t total = 0;
  for (auto& [id, len] : order)
    if (id == 1)
      total += len;
  EXPECT_EQ(total, 10u * 1024);
}

TEST(outbound_queue, drop_reports_partially_sent_messages) {
  outbound_queue q{1024};
  q.push(message(1, 4096));
  q.push(message(2, 4096));
  q.write_next([](auto&&...) {});
  EXPECT_TRUE(q.drop(1, false));
  EXPECT_FALSE(q.drop(2, false));
  EXPECT_FALSE(q.drop(3, false));
  EXPECT_TRUE(q.empty());
}

TEST(outbound_queue, empty_body_is_one_frame) {
  outbound_queue q{1024};
  q.push(message(7, 0));
  int frames = 0;
  while (q.write_next([&](auto&&...) { ++frames; })) {
  }
  EXPECT_EQ(frames, 1);
}
