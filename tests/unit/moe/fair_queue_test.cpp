#include "actors/moe/server/detail/fair_queue.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using colony::moe::fair_queue;

namespace {

std::vector<std::string> drain(fair_queue<std::string>& q) {
  std::vector<std::string> out;
  while (!q.empty())
    out.push_back(q.pop());
  return out;
}

} // namespace

TEST(fair_queue, one_key_is_a_fifo) {
  fair_queue<std::string> q;
  q.push(7, "a");
  q.push(7, "b");
  q.push(7, "c");
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(q.keys(), 1u);
  EXPECT_EQ(q.front(), "a");
  EXPECT_EQ(drain(q), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(q.keys(), 0u);
}

TEST(fair_queue, keys_take_turns) {
  fair_queue<std::string> q;
  // A flooder queues a thousand items before an honest peer queues one.
  for (int i = 0; i < 1000; ++i)
    q.push(1, "f" + std::to_string(i));
  q.push(2, "honest");
  EXPECT_EQ(q.pop(), "f0");
  // The honest item is next, not 999 items later.
  EXPECT_EQ(q.pop(), "honest");
  EXPECT_EQ(q.pop(), "f1");
  EXPECT_EQ(q.size(), 998u);
  EXPECT_EQ(q.keys(), 1u);
}

TEST(fair_queue, round_robin_over_three_keys) {
  fair_queue<std::string> q;
  q.push(1, "a1");
  q.push(1, "a2");
  q.push(1, "a3");
  q.push(2, "b1");
  q.push(3, "c1");
  q.push(3, "c2");
  EXPECT_EQ(drain(q),
            (std::vector<std::string>{"a1", "b1", "c1", "a2", "c2", "a3"}));
}

TEST(fair_queue, a_key_that_empties_rejoins_at_the_end) {
  fair_queue<std::string> q;
  q.push(1, "a1");
  q.push(2, "b1");
  EXPECT_EQ(q.pop(), "a1"); // key 1 leaves the turn order
  q.push(1, "a2");          // and rejoins behind key 2
  q.push(2, "b2");
  EXPECT_EQ(drain(q), (std::vector<std::string>{"b1", "a2", "b2"}));
}

TEST(fair_queue, first_items_in_turn_order) {
  fair_queue<std::string> q;
  q.push(5, "x1");
  q.push(5, "x2");
  q.push(9, "y1");
  std::vector<std::string> firsts;
  q.for_each_first([&](const std::string& s) { firsts.push_back(s); });
  EXPECT_EQ(firsts, (std::vector<std::string>{"x1", "y1"}));
  q.clear();
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.keys(), 0u);
}
