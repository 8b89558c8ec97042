#include "actors/moe/server/detail/batch_queue.hpp"

#include <gtest/gtest.h>

using namespace colony::moe;
using namespace std::chrono_literals;

namespace {

using clock_type = batch_queue::clock;

std::vector<uint64_t> ids(const std::vector<batch_queue::entry>& entries) {
  std::vector<uint64_t> result;
  for (auto& e : entries)
    result.push_back(e.id);
  return result;
}

} // namespace

TEST(batch_queue, empty_queue_is_never_ready) {
  batch_queue q{1, 16, 10ms};
  auto t0 = clock_type::now();
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(q.ready(t0));
  EXPECT_FALSE(q.ready(t0 + 1h));
  EXPECT_FALSE(q.oldest());
  EXPECT_FALSE(q.deadline());
  EXPECT_TRUE(q.take_batch().empty());
}

TEST(batch_queue, ready_once_min_batch_size_rows_are_pending) {
  batch_queue q{8, 16, 10ms};
  auto t0 = clock_type::now();
  ASSERT_TRUE(q.push(1, 3, t0));
  EXPECT_FALSE(q.ready(t0));
  ASSERT_TRUE(q.push(2, 4, t0 + 1ms));
  EXPECT_FALSE(q.ready(t0 + 1ms));
  EXPECT_EQ(q.pending_rows(), 7u);
  ASSERT_TRUE(q.push(3, 1, t0 + 2ms));
  EXPECT_TRUE(q.ready(t0 + 2ms));
  EXPECT_EQ(q.size(), 3u);
}

TEST(batch_queue, ready_once_the_oldest_request_waited_the_timeout) {
  batch_queue q{8, 16, 10ms};
  auto t0 = clock_type::now();
  ASSERT_TRUE(q.push(1, 1, t0));
  ASSERT_TRUE(q.push(2, 1, t0 + 5ms));
  EXPECT_EQ(*q.oldest(), t0);
  EXPECT_EQ(*q.deadline(), t0 + 10ms);
  EXPECT_FALSE(q.ready(t0 + 9ms));
  EXPECT_TRUE(q.ready(t0 + 10ms));
  // Once the oldest is taken, the deadline follows the next oldest.
  auto batch = q.take_batch();
  EXPECT_EQ(ids(batch), (std::vector<uint64_t>{1, 2}));
  ASSERT_TRUE(q.push(3, 1, t0 + 12ms));
  EXPECT_EQ(*q.deadline(), t0 + 22ms);
  EXPECT_FALSE(q.ready(t0 + 21ms));
  EXPECT_TRUE(q.ready(t0 + 22ms));
}

TEST(batch_queue, min_batch_size_is_capped_at_max_batch_size) {
  batch_queue q{100, 4, 1h};
  EXPECT_EQ(q.min_batch_size(), 4u);
  auto t0 = clock_type::now();
  ASSERT_TRUE(q.push(1, 4, t0));
  EXPECT_TRUE(q.ready(t0));
  batch_queue zero{0, 4, 1h};
  EXPECT_EQ(zero.min_batch_size(), 1u);
}

TEST(batch_queue, rejects_requests_that_can_never_be_batched) {
  batch_queue q{1, 16, 10ms};
  auto t0 = clock_type::now();
  EXPECT_FALSE(q.accepts(0));
  EXPECT_FALSE(q.accepts(17));
  EXPECT_TRUE(q.accepts(16));
  EXPECT_FALSE(q.push(1, 17, t0));
  EXPECT_FALSE(q.push(2, 0, t0));
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.pending_rows(), 0u);
}

TEST(batch_queue, batch_takes_oldest_first_up_to_max_rows) {
  batch_queue q{1, 10, 10ms};
  auto t0 = clock_type::now();
  ASSERT_TRUE(q.push(1, 4, t0));
  ASSERT_TRUE(q.push(2, 5, t0 + 1ms));
  ASSERT_TRUE(q.push(3, 2, t0 + 2ms)); // 4 + 5 + 2 > 10
  ASSERT_TRUE(q.push(4, 1, t0 + 3ms));
  auto first = q.take_batch();
  EXPECT_EQ(ids(first), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(first[0].rows, 4u);
  EXPECT_EQ(first[1].rows, 5u);
  EXPECT_EQ(first[1].enqueued, t0 + 1ms);
  // Request 4 would have fit beside 1 and 2, but it never overtakes 3.
  EXPECT_EQ(q.pending_rows(), 3u);
  EXPECT_EQ(*q.oldest(), t0 + 2ms);
  auto second = q.take_batch();
  EXPECT_EQ(ids(second), (std::vector<uint64_t>{3, 4}));
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.pending_rows(), 0u);
}

TEST(batch_queue, a_request_of_max_rows_is_a_batch_of_its_own) {
  batch_queue q{1, 8, 10ms};
  auto t0 = clock_type::now();
  ASSERT_TRUE(q.push(1, 8, t0));
  ASSERT_TRUE(q.push(2, 8, t0));
  ASSERT_TRUE(q.push(3, 1, t0));
  EXPECT_EQ(ids(q.take_batch()), (std::vector<uint64_t>{1}));
  EXPECT_EQ(ids(q.take_batch()), (std::vector<uint64_t>{2}));
  EXPECT_EQ(ids(q.take_batch()), (std::vector<uint64_t>{3}));
  EXPECT_TRUE(q.take_batch().empty());
}

TEST(batch_queue, take_all_empties_the_queue_in_order) {
  batch_queue q{1, 8, 10ms};
  auto t0 = clock_type::now();
  ASSERT_TRUE(q.push(7, 8, t0));
  ASSERT_TRUE(q.push(5, 3, t0));
  EXPECT_EQ(ids(q.take_all()), (std::vector<uint64_t>{7, 5}));
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.pending_rows(), 0u);
  EXPECT_FALSE(q.ready(t0 + 1h));
}

TEST(batch_queue, batches_take_peers_in_turn) {
  // Batches of 4 rows; peer 1 floods with 100 one-row requests, then peer 2
  // sends one.
  batch_queue q{1, 4, 10ms};
  auto t0 = clock_type::now();
  for (uint64_t i = 1; i <= 100; ++i)
    ASSERT_TRUE(q.push(i, 1, t0, 1));
  ASSERT_TRUE(q.push(1000, 1, t0 + 1ms, 2));
  EXPECT_EQ(*q.oldest(), t0);
  // The honest request is in the first batch, not the 26th.
  EXPECT_EQ(ids(q.take_batch()), (std::vector<uint64_t>{1, 1000, 2, 3}));
  EXPECT_EQ(ids(q.take_batch()), (std::vector<uint64_t>{4, 5, 6, 7}));
  EXPECT_EQ(q.size(), 93u);
  EXPECT_EQ(q.pending_rows(), 93u);
}

TEST(batch_queue, a_peers_request_that_does_not_fit_comes_first_next) {
  batch_queue q{1, 4, 10ms};
  auto t0 = clock_type::now();
  ASSERT_TRUE(q.push(1, 3, t0, 1));
  ASSERT_TRUE(q.push(2, 3, t0, 2));
  ASSERT_TRUE(q.push(3, 1, t0, 1));
  EXPECT_EQ(ids(q.take_batch()), (std::vector<uint64_t>{1}));
  EXPECT_EQ(ids(q.take_batch()), (std::vector<uint64_t>{2, 3}));
}

TEST(batch_queue, oldest_is_over_all_peers) {
  batch_queue q{8, 16, 10ms};
  auto t0 = clock_type::now();
  ASSERT_TRUE(q.push(1, 1, t0 + 2ms, 1));
  ASSERT_TRUE(q.push(2, 1, t0 + 3ms, 2));
  (void)q.take_batch(); // takes both
  ASSERT_TRUE(q.push(3, 1, t0 + 5ms, 1));
  ASSERT_TRUE(q.push(4, 1, t0 + 6ms, 2));
  ASSERT_TRUE(q.push(5, 1, t0 + 7ms, 1));
  EXPECT_EQ(*q.oldest(), t0 + 5ms);
  EXPECT_EQ(*q.deadline(), t0 + 15ms);
  auto all = q.take_all();
  EXPECT_EQ(ids(all), (std::vector<uint64_t>{3, 4, 5}));
}
