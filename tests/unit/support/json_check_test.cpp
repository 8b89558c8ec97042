#include "tests/support/json_check.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using colony::testing::is_json;
using colony::testing::json_error;

TEST(json_check, accepts_json) {
  for (std::string text : std::vector<std::string>{
           "null", "true", " false \n", "0", "-0.5e+10", "1E3", "\"\"",
           "\"a\\\"b\\\\c\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\"",
           "\"\xc3\xa9\xe2\x9c\x93\xf0\x9f\x98\x80\"", "[]", "{}",
           "[1,[2,{\"a\":null}]]", "{\"a\":1,\"b\":[true,\"x\"]}"})
    EXPECT_TRUE(is_json(text)) << text;
}

TEST(json_check, refuses_what_is_not_json) {
  for (std::string text : std::vector<std::string>{"",
                                                   "nan",
                                                   "inf",
                                                   "-inf",
                                                   "NaN",
                                                   "Infinity",
                                                   "01",
                                                   "+1",
                                                   "1.",
                                                   ".5",
                                                   "1e",
                                                   "[1,]",
                                                   "{\"a\":1,}",
                                                   "{a:1}",
                                                   "'a'",
                                                   "\"a",
                                                   "\"\t\"",
                                                   std::string("\"\0\"", 3),
                                                   "\"\xff\"",
                                                   "\"\xc0\xaf\"",
                                                   "\"\xed\xa0\x80\"",
                                                   "\"\\ud800\"",
                                                   "\"\\udc00\"",
                                                   "\"\\x41\"",
                                                   "[1] [2]",
                                                   "{\"expiration\":inf}",
                                                   "tru",
                                                   "[",
                                                   "{\"a\"}"})
    EXPECT_TRUE(json_error(text)) << text;
}
