#include "actors/moe/server/lr_schedule.hpp"

#include "messages/error.hpp"

#include <gtest/gtest.h>

using namespace colony;
using namespace colony::moe;

TEST(LrSchedule, ConstantIsOne) {
  auto s = constant_schedule();
  EXPECT_TRUE(s.is_constant());
  EXPECT_STREQ(s.name(), "none");
  for (int64_t step : {0, 1, 10, 1000000})
    EXPECT_DOUBLE_EQ(s.factor(step), 1.0);
}

TEST(LrSchedule, LinearWarmupThenDecay) {
  auto s = linear_warmup_schedule(2, 4);
  EXPECT_FALSE(s.is_constant());
  EXPECT_STREQ(s.name(), "linear");
  const double expected[] = {0.0, 0.5, 1.0, 0.5, 0.0, 0.0, 0.0};
  for (int64_t step = 0; step < 7; ++step)
    EXPECT_DOUBLE_EQ(s.factor(step), expected[step]) << "step " << step;
}

TEST(LrSchedule, LinearWithoutWarmupStartsAtOne) {
  auto s = linear_warmup_schedule(0, 10);
  EXPECT_DOUBLE_EQ(s.factor(0), 1.0);
  EXPECT_DOUBLE_EQ(s.factor(5), 0.5);
  EXPECT_DOUBLE_EQ(s.factor(10), 0.0);
}

TEST(LrSchedule, WarmupLongerThanTraining) {
  // transformers divides by max(1, total - warmup): never by zero.
  auto s = linear_warmup_schedule(10, 5);
  EXPECT_DOUBLE_EQ(s.factor(4), 0.4);
  EXPECT_DOUBLE_EQ(s.factor(10), 0.0);
  auto same = linear_warmup_schedule(4, 4);
  EXPECT_DOUBLE_EQ(same.factor(3), 0.75);
  EXPECT_DOUBLE_EQ(same.factor(4), 0.0);
}

TEST(LrSchedule, ParsesNames) {
  auto none = lr_schedule::parse("none", 0, 0);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->is_constant());
  auto linear = lr_schedule::parse("linear", 2, 4);
  ASSERT_TRUE(linear);
  EXPECT_DOUBLE_EQ(linear->factor(1), 0.5);
}

TEST(LrSchedule, RejectsBadSettings) {
  auto unknown = lr_schedule::parse("cosine", 0, 10);
  ASSERT_FALSE(unknown);
  EXPECT_TRUE(is_error(unknown.error(), errc::invalid_argument));
  EXPECT_NE(error_reason(unknown.error()).find("cosine"), std::string::npos);
  auto no_total = lr_schedule::parse("linear", 2, 0);
  ASSERT_FALSE(no_total);
  EXPECT_TRUE(is_error(no_total.error(), errc::invalid_argument));
  auto negative = lr_schedule::parse("linear", -1, 10);
  ASSERT_FALSE(negative);
  EXPECT_TRUE(is_error(negative.error(), errc::invalid_argument));
}
