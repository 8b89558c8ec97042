#include "actors/moe/expert_uid.hpp"

#include "messages/error.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace colony::moe {
namespace {

TEST(expert_uid, valid_uids) {
  for (auto uid : {"ffn.0", "ffn.0.13", "expert.5.249.0", "a.1", "my expert.7",
                   "ffn_ü.10", "x.2147483647", "[ffn].3"})
    EXPECT_TRUE(is_valid_uid(uid)) << uid;
}

TEST(expert_uid, invalid_uids) {
  for (auto uid :
       {"", "ffn", "ffn.", ".0", "ffn.0.", "ffn..0", "ffn.01", "ffn.00",
        "ffn.-1", "ffn.+1", "ffn.1a", "ffn.a", "ffn.0. 1", "ffn.1 ",
        "ffn.2147483648", "ffn.99999999999999999999", "..", "ffn.0..1"})
    EXPECT_FALSE(is_valid_uid(uid)) << uid;
}

TEST(expert_uid, valid_and_invalid_prefixes) {
  for (auto prefix : {"ffn.", "ffn.0.", "ffn.0.13.", "e.10.0."})
    EXPECT_TRUE(is_valid_prefix(prefix)) << prefix;
  for (auto prefix : {"", "ffn", ".", "ffn.0", "ffn..", ".0.", "ffn.01.",
                      "ffn.x.", "ffn.0..", "ffn.-1."})
    EXPECT_FALSE(is_valid_prefix(prefix)) << prefix;
  // A uid is never a prefix and vice versa.
  EXPECT_FALSE(is_valid_prefix("ffn.0.13"));
  EXPECT_FALSE(is_valid_uid("ffn.0.13."));
}

TEST(expert_uid, parse) {
  auto parsed = parse_uid("ffn.0.13");
  ASSERT_TRUE(parsed) << describe(parsed.error());
  EXPECT_EQ(parsed->name, "ffn");
  EXPECT_EQ(parsed->coordinates, (std::vector<int>{0, 13}));
  EXPECT_EQ(parse_uid("x.2147483647")->coordinates.front(), 2147483647);
}

TEST(expert_uid, parse_errors_name_the_uid_and_reason) {
  auto expect = [](std::string_view uid, std::string_view reason) {
    auto parsed = parse_uid(uid);
    ASSERT_FALSE(parsed) << uid;
    EXPECT_TRUE(is_error(parsed.error(), errc::invalid_argument));
    auto text = describe(parsed.error());
    EXPECT_NE(text.find("'" + std::string{uid} + "'"), std::string::npos)
        << text;
    EXPECT_NE(text.find(reason), std::string::npos) << text;
  };
  expect("ffn", "no coordinates");
  expect(".3", "empty name");
  expect("ffn.03", "leading zero");
  expect("ffn.3.", "no coordinate after the last '.'");
  expect("ffn.x", "not a non-negative integer");
  expect("ffn.1..2", "empty coordinate");
  expect("ffn.2147483648", "above 2147483647");
}

TEST(expert_uid, prefixes_of_uid) {
  EXPECT_EQ(uid_prefixes("ffn.1.2.3"),
            (std::vector<std::string>{"ffn.", "ffn.1.", "ffn.1.2."}));
  EXPECT_EQ(uid_prefixes("e.0"), (std::vector<std::string>{"e."}));
  EXPECT_TRUE(uid_prefixes("ffn.01").empty());
  for (auto& prefix : uid_prefixes("ffn.10.20.30"))
    EXPECT_TRUE(is_valid_prefix(prefix)) << prefix;
}

TEST(expert_uid, join) {
  EXPECT_EQ(join_uid("ffn.0.", 3), "ffn.0.3");
  EXPECT_EQ(join_uid("ffn.", 0), "ffn.0");
  EXPECT_EQ(child_prefix("ffn.0.", 3), "ffn.0.3.");
  EXPECT_TRUE(is_valid_uid(join_uid("ffn.12.", 7)));
}

TEST(expert_uid, parse_coordinates) {
  EXPECT_EQ(parse_coordinates("0.13"), (std::vector<int>{0, 13}));
  EXPECT_EQ(parse_coordinates("7"), (std::vector<int>{7}));
  EXPECT_FALSE(parse_coordinates(""));
  EXPECT_FALSE(parse_coordinates("1."));
  EXPECT_FALSE(parse_coordinates("01"));
}

TEST(expert_uid, pattern_expansion) {
  auto uids = expand_expert_pattern("ffn.[0:4].[0:8]");
  ASSERT_TRUE(uids) << describe(uids.error());
  ASSERT_EQ(uids->size(), 32u);
  EXPECT_EQ(uids->front(), "ffn.0.0");
  EXPECT_EQ((*uids)[1], "ffn.0.1");
  EXPECT_EQ((*uids)[8], "ffn.1.0");
  EXPECT_EQ(uids->back(), "ffn.3.7");
  std::set<std::string> distinct(uids->begin(), uids->end());
  EXPECT_EQ(distinct.size(), 32u);
  for (auto& uid : *uids)
    EXPECT_TRUE(is_valid_uid(uid)) << uid;
  // Fixed coordinates and offsets, as in the hivemind tutorial.
  EXPECT_EQ(*expand_expert_pattern("expert.[5:8]"),
            (std::vector<std::string>{"expert.5", "expert.6", "expert.7"}));
  EXPECT_EQ(*expand_expert_pattern("ffn.2.[1:3]"),
            (std::vector<std::string>{"ffn.2.1", "ffn.2.2"}));
  EXPECT_EQ(*expand_expert_pattern("ffn.4"),
            (std::vector<std::string>{"ffn.4"}));
}

TEST(expert_uid, pattern_contains_and_size) {
  auto pattern = expert_pattern::parse("ffn.[0:4].[2:8]");
  ASSERT_TRUE(pattern);
  EXPECT_EQ(pattern->size(), 24u);
  EXPECT_EQ(pattern->name(), "ffn");
  EXPECT_TRUE(pattern->contains("ffn.3.7"));
  EXPECT_FALSE(pattern->contains("ffn.3.1"));
  EXPECT_FALSE(pattern->contains("ffn.4.2"));
  EXPECT_FALSE(pattern->contains("ffn.3"));
  EXPECT_FALSE(pattern->contains("attn.0.2"));
  auto huge = expert_pattern::parse("e.[0:2000000000].[0:2000000000]");
  ASSERT_TRUE(huge);
  EXPECT_EQ(huge->size(), 4000000000000000000ull);
  auto expanded = huge->expand();
  ASSERT_FALSE(expanded);
  EXPECT_TRUE(is_error(expanded.error(), errc::too_large));
}

TEST(expert_uid, bad_patterns) {
  for (auto pattern :
       {"", "ffn", "ffn.", ".[0:4]", "ffn.[0:4", "ffn.[4:4]", "ffn.[5:4]",
        "ffn.[0-4]", "ffn.[a:4]", "ffn.[0:4].", "ffn.[00:4]", "ffn.x",
        "ffn..[0:4]", "f[x].[0:4]", "ffn.[-1:4]", "ffn.[0:4]x"}) {
    auto parsed = expert_pattern::parse(pattern);
    EXPECT_FALSE(parsed) << pattern;
    if (!parsed) {
      EXPECT_TRUE(is_error(parsed.error(), errc::invalid_argument));
      EXPECT_NE(describe(parsed.error()).find("'" + std::string{pattern} + "'"),
                std::string::npos)
          << describe(parsed.error());
    }
  }
}

TEST(expert_uid, sampling_skips_taken_uids) {
  std::mt19937_64 rng{42};
  std::unordered_set<std::string> taken{"ffn.0.0", "ffn.1.5", "ffn.3.7",
                                        "other.0.0", "ffn.9.9"};
  auto uids = sample_expert_uids("ffn.[0:4].[0:8]", 29, rng, taken);
  ASSERT_TRUE(uids) << describe(uids.error());
  ASSERT_EQ(uids->size(), 29u); // 32 in the pattern, 3 of them taken
  std::set<std::string> distinct(uids->begin(), uids->end());
  EXPECT_EQ(distinct.size(), 29u);
  auto pattern = expert_pattern::parse("ffn.[0:4].[0:8]");
  for (auto& uid : *uids) {
    EXPECT_EQ(taken.count(uid), 0u) << uid;
    EXPECT_TRUE(pattern->contains(uid)) << uid;
  }
  // One more than the free uids is an error that says how many are free.
  auto too_many = sample_expert_uids("ffn.[0:4].[0:8]", 30, rng, taken);
  ASSERT_FALSE(too_many);
  EXPECT_NE(describe(too_many.error()).find("29 free"), std::string::npos)
      << describe(too_many.error());
}

TEST(expert_uid, sampling_is_seeded_and_spread) {
  std::mt19937_64 a{7};
  std::mt19937_64 b{7};
  auto first = sample_expert_uids("ffn.[0:32].[0:32]", 10, a);
  auto second = sample_expert_uids("ffn.[0:32].[0:32]", 10, b);
  ASSERT_TRUE(first && second);
  EXPECT_EQ(*first, *second);
  // Different draws cover the pattern: no uid is favoured.
  std::mt19937_64 rng{1};
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    auto drawn = sample_expert_uids("e.[0:16]", 2, rng);
    ASSERT_TRUE(drawn);
    seen.insert(drawn->begin(), drawn->end());
  }
  EXPECT_EQ(seen.size(), 16u);
}

TEST(expert_uid, sampling_huge_pattern) {
  std::mt19937_64 rng{3};
  std::unordered_set<std::string> taken{"e.0.0.0"};
  auto uids =
      sample_expert_uids("e.[0:100000].[0:100000].[0:100000]", 100, rng, taken);
  ASSERT_TRUE(uids) << describe(uids.error());
  std::set<std::string> distinct(uids->begin(), uids->end());
  EXPECT_EQ(distinct.size(), 100u);
  EXPECT_EQ(distinct.count("e.0.0.0"), 0u);
}

} // namespace
} // namespace colony::moe
