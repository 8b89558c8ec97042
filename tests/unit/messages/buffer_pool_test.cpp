#include "messages/buffer_pool.hpp"

#include <gtest/gtest.h>

#include <vector>

using namespace colony;

TEST(buffer_pool, returns_a_shared_buffer_once_its_last_view_drops) {
  buffer_pool pool;
  auto buf = pool.take(1 << 20);
  ASSERT_EQ(buf.size(), size_t{1} << 20);
  const auto* storage = buf.data();
  auto shared = pool.share(std::move(buf));
  auto view = shared; // a second reference keeps it out of the pool
  shared.reset();
  EXPECT_EQ(pool.idle_bytes(), 0u);
  view.reset();
  EXPECT_GE(pool.idle_bytes(), size_t{1} << 20);
  // The next take of a fitting size gets the same memory back.
  auto again = pool.take((1 << 20) - 4096);
  EXPECT_EQ(again.data(), storage);
  EXPECT_EQ(pool.idle_bytes(), 0u);
}

TEST(buffer_pool, keeps_no_small_buffers_and_hands_no_oversized_ones) {
  buffer_pool pool;
  pool.give(std::vector<char>(1024));
  EXPECT_EQ(pool.idle_bytes(), 0u);
  pool.give(std::vector<char>(4 << 20));
  // A 100 KiB request must not pin a 4 MiB buffer.
  auto small = pool.take(100 << 10);
  EXPECT_LT(small.capacity(), size_t{4} << 20);
  EXPECT_EQ(pool.idle_bytes(), size_t{4} << 20);
}

TEST(buffer_pool, take_zeroed_clears_a_reused_buffer) {
  buffer_pool pool;
  std::vector<char> dirty(256 << 10, 'x');
  pool.give(std::move(dirty));
  auto clean = pool.take_zeroed(200 << 10);
  ASSERT_EQ(clean.size(), size_t{200} << 10);
  for (size_t i = 0; i < clean.size(); i += 4093)
    EXPECT_EQ(clean[i], 0) << i;
}

TEST(buffer_pool, bounds_the_memory_it_keeps_idle) {
  buffer_pool pool;
  for (int i = 0; i < 40; ++i)
    pool.give(std::vector<char>(4 << 20));
  EXPECT_LE(pool.idle_bytes(), buffer_pool::max_idle_bytes);
}
