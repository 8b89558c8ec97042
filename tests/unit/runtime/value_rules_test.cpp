#include "runtime/config/value_rules.hpp"

#include "messages/error.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

namespace colony {
namespace {

using namespace std::chrono_literals;

template <class T>
std::string reason(const caf::expected<T>& result) {
  EXPECT_FALSE(result);
  if (result)
    return {};
  EXPECT_TRUE(is_error(result.error(), errc::bad_config));
  return error_reason(result.error());
}

TEST(value_rules, seconds_become_milliseconds) {
  EXPECT_EQ(*check_seconds(2.5), 2500ms);
  EXPECT_EQ(*check_seconds(0.001), 1ms);
  EXPECT_EQ(*check_seconds(1e9), std::chrono::milliseconds{1000000000000});
  seconds_bounds zero_ok;
  zero_ok.zero_allowed = true;
  EXPECT_EQ(*check_seconds(0, zero_ok), 0ms);
}

TEST(value_rules, seconds_refuse_what_no_timer_can_use) {
  constexpr double nan = std::numeric_limits<double>::quiet_NaN();
  constexpr double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(reason(check_seconds(-1)),
            "must be a positive number of seconds, got -1");
  EXPECT_EQ(reason(check_seconds(-0.5)),
            "must be a positive number of seconds, got -0.5");
  EXPECT_EQ(reason(check_seconds(0)),
            "must be a positive number of seconds, got 0");
  EXPECT_EQ(reason(check_seconds(nan)),
            "must be a positive number of seconds, got nan");
  EXPECT_EQ(reason(check_seconds(inf)),
            "must be a positive number of seconds, got inf");
  EXPECT_EQ(reason(check_seconds(1e300)),
            "must be at most 1e+09 seconds, got 1e+300");
  EXPECT_EQ(reason(check_seconds(0.0001)),
            "must be at least 0.001 seconds, got 0.0001");
  seconds_bounds zero_ok;
  zero_ok.zero_allowed = true;
  EXPECT_EQ(reason(check_seconds(-1, zero_ok)),
            "must be a positive number of seconds or 0, got -1");
  seconds_bounds period;
  period.min = 0.1;
  EXPECT_EQ(reason(check_seconds(0.05, period)),
            "must be at least 0.1 seconds, got 0.05");
  EXPECT_EQ(*check_seconds(0.1, period), 100ms);
}

TEST(value_rules, counts_stay_in_their_range) {
  EXPECT_EQ(*check_count(5, 1, 10), 5);
  EXPECT_EQ(reason(check_count(0, 1, 10)), "must be between 1 and 10, got 0");
  EXPECT_EQ(reason(check_count(11, 1, 10)), "must be between 1 and 10, got 11");
  EXPECT_EQ(reason(check_count(-1, 0, std::numeric_limits<int64_t>::max())),
            "must be at least 0, got -1");
}

TEST(value_rules, numbers_are_finite_and_non_negative) {
  EXPECT_EQ(*check_number(0.5), 0.5);
  EXPECT_EQ(*check_number(1, 1), 1);
  EXPECT_EQ(reason(check_number(-0.5)),
            "must be a non-negative number, got -0.5");
  EXPECT_EQ(reason(check_number(std::nan(""))),
            "must be a non-negative number, got nan");
  EXPECT_EQ(reason(check_number(1.5, 1)), "must be between 0 and 1, got 1.5");
  EXPECT_EQ(reason(check_number(std::nan(""), 1)),
            "must be between 0 and 1, got nan");
}

TEST(value_rules, bytes_are_positive) {
  EXPECT_EQ(*check_bytes(4096), 4096u);
  EXPECT_EQ(reason(check_bytes(0)),
            "must be a positive number of bytes, got 0");
  EXPECT_EQ(reason(check_bytes(-5)),
            "must be a positive number of bytes, got -5");
}

TEST(value_rules, parses_numbers_and_integers_whole) {
  EXPECT_EQ(*parse_number("1.5"), 1.5);
  EXPECT_EQ(*parse_number("-1"), -1);
  EXPECT_EQ(*parse_number("1e300"), 1e300);
  EXPECT_TRUE(std::isnan(*parse_number("nan")));
  EXPECT_TRUE(std::isinf(*parse_number("1e999")));
  EXPECT_FALSE(parse_number(""));
  EXPECT_FALSE(parse_number("1.5s"));
  EXPECT_FALSE(parse_number(" 1"));
  EXPECT_EQ(*parse_integer("-7"), -7);
  EXPECT_FALSE(parse_integer("1.0"));
  EXPECT_FALSE(parse_integer("99999999999999999999"));
  EXPECT_FALSE(parse_integer(""));
}

} // namespace
} // namespace colony
