#include "actors/trainer/expert_grid.hpp"
#include "actors/trainer/progress_tracker.hpp"
#include "messages/error.hpp"

#include <gtest/gtest.h>

namespace colony::trainer {
namespace {

TEST(progress_tracker, records_cover_the_steps_since_the_last_record) {
  progress_tracker t{100};
  t.on_step(2.0, 10, {"a.0", "a.1"});
  t.on_step(1.0, 10, {"a.1", "b.0"});
  moe::expert_call_stats calls;
  calls.forward_calls = 8;
  calls.forward_failures = 1;
  calls.backward_calls = 7;
  calls.backward_failures = 1;
  auto r = t.report(102, calls);
  EXPECT_DOUBLE_EQ(r.time_s, 2);
  EXPECT_EQ(r.step, 2u);
  EXPECT_EQ(r.samples, 20u);
  EXPECT_DOUBLE_EQ(r.train_loss, 1.5);
  EXPECT_DOUBLE_EQ(r.samples_per_s, 10);
  EXPECT_EQ(r.live_experts, 3u);
  EXPECT_DOUBLE_EQ(r.failed_calls, 2.0 / 15);
  EXPECT_FALSE(r.test_accuracy);
  // The next window starts afresh, calls counted from the previous totals.
  t.on_step(0.5, 10, {"a.0"});
  calls.forward_calls = 12;
  calls.backward_calls = 11;
  auto r2 = t.report(103, calls, 0.75, 0.6);
  EXPECT_EQ(r2.step, 3u);
  EXPECT_DOUBLE_EQ(r2.train_loss, 0.5);
  EXPECT_DOUBLE_EQ(r2.samples_per_s, 10);
  EXPECT_EQ(r2.live_experts, 1u);
  EXPECT_DOUBLE_EQ(r2.failed_calls, 0);
  ASSERT_TRUE(r2.test_accuracy);
  EXPECT_DOUBLE_EQ(*r2.test_accuracy, 0.75);
  EXPECT_DOUBLE_EQ(*r2.test_loss, 0.6);
  EXPECT_EQ(t.last().step, 3u);
  EXPECT_TRUE(t.last().test_accuracy);
}

TEST(progress_tracker, a_record_without_steps_repeats_the_last_figures) {
  progress_tracker t{0};
  t.on_step(1.0, 4, {"x.0"});
  auto first = t.report(2, {});
  auto again = t.report(3, {}, 0.5, 1.0);
  EXPECT_EQ(again.step, first.step);
  EXPECT_DOUBLE_EQ(again.train_loss, first.train_loss);
  EXPECT_DOUBLE_EQ(again.samples_per_s, first.samples_per_s);
  EXPECT_EQ(again.live_experts, first.live_experts);
}

TEST(progress_tracker, excluded_time_does_not_count_against_throughput) {
  progress_tracker t{0};
  t.exclude_time(3); // e.g. an evaluation
  t.on_step(1.0, 10, {});
  EXPECT_DOUBLE_EQ(t.report(4, {}).samples_per_s, 10);
}

TEST(expert_grid, parses_patterns_that_start_at_zero) {
  auto g = parse_expert_grid("ffn0.[0:4].[0:8]");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->uid_prefix, "ffn0.");
  EXPECT_EQ(g->size, (std::vector<int>{4, 8}));
  auto bad = parse_expert_grid("ffn.[1:4]");
  ASSERT_FALSE(bad);
  EXPECT_EQ(error_reason(bad.error()),
            "grid 'ffn.[1:4]': every dimension must be a range [0:N]");
  EXPECT_FALSE(parse_expert_grid("ffn.3"));
  EXPECT_FALSE(parse_expert_grid("[0:4]"));
}

} // namespace
} // namespace colony::trainer
