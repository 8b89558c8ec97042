#include "apps/output/json_text.hpp"
#include "tests/support/json_check.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

using namespace colony::apps;
using colony::testing::is_json;

TEST(json_text, strings_are_json_for_any_bytes) {
  EXPECT_EQ(json_string("a\"b\\c\n\t\x01"), "\"a\\\"b\\\\c\\n\\t\\u0001\"");
  EXPECT_EQ(json_string("\xd0\xba \xe2\x9c\x93"), "\"\xd0\xba \xe2\x9c\x93\"");
  // Each byte outside valid UTF-8 becomes U+FFFD.
  EXPECT_EQ(json_string("a\xff"
                        "b"),
            "\"a\xef\xbf\xbd"
            "b\"");
  EXPECT_EQ(json_string("\xc0\xaf"), "\"\xef\xbf\xbd\xef\xbf\xbd\"");
  EXPECT_EQ(json_string("\xed\xa0\x80"),
            "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""); // a surrogate
  EXPECT_EQ(json_string("\xe2\x9c"), "\"\xef\xbf\xbd\xef\xbf\xbd\"");
  std::mt19937 rng{7};
  for (int i = 0; i < 2000; ++i) {
    std::string bytes(rng() % 16, '\0');
    for (auto& c : bytes)
      c = static_cast<char>(rng());
    ASSERT_TRUE(is_json(json_string(bytes)));
  }
}

TEST(json_text, numbers_are_json_and_non_finite_ones_null) {
  EXPECT_EQ(json_number(std::numeric_limits<double>::infinity()), "null");
  EXPECT_EQ(json_number(-std::numeric_limits<double>::infinity()), "null");
  EXPECT_EQ(json_number(std::nan("")), "null");
  EXPECT_EQ(json_number(1.5), "1.5");
  EXPECT_EQ(json_number(0), "0");
  EXPECT_EQ(std::stod(json_number(1733500000.123456)), 1733500000.123456);
  for (double x : {1e300, -2.5e-300, 0.1, 1733500000.5})
    EXPECT_TRUE(is_json(json_number(x))) << json_number(x);
}

TEST(json_text, binary_values_carry_base64) {
  EXPECT_EQ(base64(""), "");
  EXPECT_EQ(base64("f"), "Zg==");
  EXPECT_EQ(base64("fo"), "Zm8=");
  EXPECT_EQ(base64("foo"), "Zm9v");
  EXPECT_EQ(base64("foobar"), "Zm9vYmFy");
  EXPECT_TRUE(is_json_text("plain \xe2\x9c\x93"));
  EXPECT_FALSE(is_json_text(std::string("a\0b", 3)));
  EXPECT_FALSE(is_json_text("\xff"));
  EXPECT_EQ(json_bytes_field("value", "text"), "\"value\":\"text\"");
  auto field = json_bytes_field("value", std::string("\0\xff", 2));
  EXPECT_EQ(field,
            "\"value\":\"\\u0000\xef\xbf\xbd\",\"value_base64\":\"AP8=\"");
  EXPECT_TRUE(is_json("{" + field + "}"));
}
