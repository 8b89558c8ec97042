#include "actors/moe/client/expert_backoff.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

using namespace colony::moe;

namespace {

/// A back-off on a clock the test moves.
struct fake_clock_backoff {
  double now = 100;
  expert_backoff backoff;

  explicit fake_clock_backoff(double initial = 1, double max = 8)
      : backoff(options(initial, max)) {}

  expert_backoff_options options(double initial, double max) {
    expert_backoff_options o;
    o.initial_s = initial;
    o.max_s = max;
    o.clock = [this] {
      return now;
    };
    return o;
  }
};

} // namespace

TEST(expert_backoff, a_failed_expert_is_skipped_for_the_initial_time) {
  fake_clock_backoff f;
  EXPECT_FALSE(f.backoff.skipped("ffn.0"));
  f.backoff.failed("ffn.0");
  EXPECT_TRUE(f.backoff.skipped("ffn.0"));
  EXPECT_FALSE(f.backoff.skipped("ffn.1"));
  EXPECT_EQ(f.backoff.skipped_count(), 1u);
  f.now += 0.99;
  EXPECT_TRUE(f.backoff.skipped("ffn.0"));
  f.now += 0.02;
  EXPECT_FALSE(f.backoff.skipped("ffn.0"));
  EXPECT_EQ(f.backoff.skipped_count(), 0u);
}

TEST(expert_backoff, failures_in_a_row_double_the_skip_up_to_the_cap) {
  fake_clock_backoff f{1, 5};
  std::vector<double> skips;
  for (int i = 0; i < 5; ++i) {
    f.backoff.failed("ffn.0");
    double start = f.now;
    while (f.backoff.skipped("ffn.0"))
      f.now += 0.25;
    skips.push_back(f.now - start);
  }
  EXPECT_EQ(skips, (std::vector<double>{1, 2, 4, 5, 5}));
}

TEST(expert_backoff, an_answer_forgets_the_failures) {
  fake_clock_backoff f;
  f.backoff.failed("ffn.0");
  f.now += 1.5;
  f.backoff.failed("ffn.0"); // second in a row: 2 s
  f.now += 1.5;
  EXPECT_TRUE(f.backoff.skipped("ffn.0"));
  f.backoff.answered("ffn.0");
  EXPECT_FALSE(f.backoff.skipped("ffn.0"));
  f.backoff.failed("ffn.0"); // first again: 1 s
  f.now += 1.01;
  EXPECT_FALSE(f.backoff.skipped("ffn.0"));
}

TEST(expert_backoff, failures_while_skipped_do_not_double_again) {
  // Several calls of one step fail together (forward and backward, or two
  // blocks): one failure, not a run of them.
  fake_clock_backoff f;
  f.backoff.failed("ffn.0");
  f.backoff.failed("ffn.0");
  f.backoff.failed("ffn.0");
  f.now += 1.01;
  EXPECT_FALSE(f.backoff.skipped("ffn.0"));
}

TEST(expert_backoff, zero_initial_time_turns_it_off) {
  fake_clock_backoff f{0, 8};
  EXPECT_FALSE(f.backoff.enabled());
  f.backoff.failed("ffn.0");
  EXPECT_FALSE(f.backoff.skipped("ffn.0"));
  EXPECT_EQ(f.backoff.skipped_count(), 0u);
}

TEST(expert_backoff, remembers_a_bounded_number_of_experts) {
  fake_clock_backoff f;
  for (size_t i = 0; i < expert_backoff::max_entries + 10; ++i)
    f.backoff.failed("e." + std::to_string(i));
  EXPECT_LE(f.backoff.skipped_count(), expert_backoff::max_entries);
  EXPECT_TRUE(f.backoff.skipped(
      "e." + std::to_string(expert_backoff::max_entries + 9)));
}

TEST(expert_backoff, concurrent_use_is_safe) {
  expert_backoff backoff;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&backoff, t] {
      for (int i = 0; i < 2000; ++i) {
        auto uid = "e." + std::to_string((i + t) % 16);
        if (i % 3 == 0)
          backoff.answered(uid);
        else
          backoff.failed(uid);
        (void)backoff.skipped(uid);
      }
    });
  for (auto& th : threads)
    th.join();
  EXPECT_LE(backoff.skipped_count(), 16u);
}
