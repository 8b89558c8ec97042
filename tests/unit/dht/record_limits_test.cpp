#include "actors/dht/record_limits.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

namespace colony::dht {
namespace {

constexpr double limits_now = 1.7e9;

dht_record limits_record(std::string_view key, std::string_view value,
                         double expiration) {
  return dht_record{key, {}, false, value, expiration};
}

/// The first word of a refusal, or "" if there is none.
std::string limits_reason(const dht_record& r,
                          const record_limits& limits = {}) {
  auto why = check_record(r, limits, limits_now);
  if (!why)
    return "";
  return why->substr(0, why->find(':'));
}

TEST(record_limits_test, accepts_a_record_within_its_limits) {
  EXPECT_EQ(limits_reason(limits_record("k", "v", limits_now + 60)), "");
  EXPECT_EQ(limits_reason(limits_record("k", "v", limits_now)),
            ""); // alive until limits_now inclusive
  EXPECT_EQ(limits_reason(limits_record("k", "v", limits_now + 86400)), "");
  EXPECT_EQ(
      limits_reason(limits_record(std::string(1024, 'k'),
                                  std::string(8192, 'v'), limits_now + 1)),
      "");
}

TEST(record_limits_test, refuses_expirations_that_are_not_finite) {
  auto inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(limits_reason(limits_record("k", "v", inf)),
            "expiration_not_finite");
  EXPECT_EQ(limits_reason(limits_record("k", "v", -inf)),
            "expiration_not_finite");
  EXPECT_EQ(limits_reason(limits_record("k", "v", std::nan(""))),
            "expiration_not_finite");
}

TEST(record_limits_test, refuses_expirations_beyond_the_horizon_or_past) {
  EXPECT_EQ(limits_reason(limits_record("k", "v", limits_now + 86401)),
            "expiration_too_far");
  EXPECT_EQ(limits_reason(limits_record("k", "v", 1e300)),
            "expiration_too_far");
  EXPECT_EQ(limits_reason(limits_record("k", "v", limits_now - 1)), "expired");
  record_limits hour;
  hour.max_expiration_horizon = 3600;
  EXPECT_EQ(limits_reason(limits_record("k", "v", limits_now + 3601), hour),
            "expiration_too_far");
  EXPECT_EQ(limits_reason(limits_record("k", "v", limits_now + 3600), hour),
            "");
  auto why =
      check_record(limits_record("k", "v", limits_now + 1e6), {}, limits_now);
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("86400"), std::string::npos) << *why;
}

TEST(record_limits_test, caps_value_key_and_subkey_sizes) {
  EXPECT_EQ(
      limits_reason(limits_record("k", std::string(8193, 'v'), limits_now + 1)),
      "value_too_large");
  EXPECT_EQ(
      limits_reason(limits_record(std::string(1025, 'k'), "v", limits_now + 1)),
      "key_too_large");
  std::string big_subkey(1025, 's');
  EXPECT_EQ(
      limits_reason(dht_record{"k", big_subkey, true, "v", limits_now + 1}),
      "key_too_large");
  // A subkey field is ignored unless the record has one.
  EXPECT_EQ(
      limits_reason(dht_record{"k", big_subkey, false, "v", limits_now + 1}),
      "");
  record_limits small;
  small.max_value_bytes = 4;
  EXPECT_EQ(limits_reason(limits_record("k", "12345", limits_now + 1), small),
            "value_too_large");
  EXPECT_EQ(limits_reason(limits_record("k", "1234", limits_now + 1), small),
            "");
}

} // namespace
} // namespace colony::dht
