#include "runtime/config/config_issues.hpp"

#include "messages/error.hpp"

#include <gtest/gtest.h>

#include <string>

namespace colony {
namespace {

/// Stands in for toml++'s source_region.
struct region {
  struct {
    uint32_t line;
    uint32_t column;
  } begin;
};

TEST(config_issues, empty_until_a_problem_is_added) {
  config_issues issues;
  EXPECT_TRUE(issues.empty());
  EXPECT_EQ(issues.size(), 0u);
  EXPECT_EQ(issues.text(), "");
  issues.add(config_place{"a.toml"}, "a swarm needs a DHT node");
  EXPECT_FALSE(issues.empty());
  EXPECT_EQ(issues.text(), "a.toml: a swarm needs a DHT node");
}

TEST(config_issues, places_read_as_file_line_column_or_override) {
  EXPECT_EQ(config_place::in("a.toml", region{{3, 7}}).text(), "a.toml:3:7");
  EXPECT_EQ(config_place{"a.toml"}.text(), "a.toml");
  auto over = config_place::of_override("--set node.listen");
  EXPECT_TRUE(over.from_override);
  EXPECT_EQ(over.text(), "--set node.listen");
}

TEST(config_issues, file_problems_come_in_file_order_then_overrides) {
  config_issues issues{"s.toml"};
  issues.add(config_place::of_override("--set b.c"), "override one");
  issues.add_at(region{{9, 1}}, "line nine");
  issues.add_at(region{{2, 5}}, "line two, column five");
  issues.add(config_place::of_override("--set a.b"), "override two");
  issues.add_at(region{{2, 1}}, "line two, column one");
  issues.add(config_place{"s.toml"}, "the whole file");
  EXPECT_EQ(issues.text(), "s.toml: the whole file\n"
                           "s.toml:2:1: line two, column one\n"
                           "s.toml:2:5: line two, column five\n"
                           "s.toml:9:1: line nine\n"
                           "--set b.c: override one\n"
                           "--set a.b: override two");
}

TEST(config_issues, reports_at_most_twenty_and_counts_the_rest) {
  config_issues issues{"s.toml"};
  for (uint32_t i = 1; i <= 25; ++i)
    issues.add_at(region{{i, 1}}, "problem " + std::to_string(i));
  auto text = issues.text();
  EXPECT_NE(text.find("s.toml:20:1: problem 20"), std::string::npos);
  EXPECT_EQ(text.find("problem 21"), std::string::npos);
  EXPECT_NE(text.find("\n(5 more problems)"), std::string::npos) << text;
}

TEST(config_issues, to_error_is_bad_config_with_the_text) {
  config_issues issues{"s.toml"};
  issues.add_at(region{{1, 2}}, "wrong");
  auto err = issues.to_error();
  EXPECT_TRUE(is_error(err, errc::bad_config));
  EXPECT_EQ(error_reason(err), "s.toml:1:2: wrong");
}

TEST(config_issues, append_moves_another_readers_problems) {
  config_issues scenario{"s.toml"};
  config_issues swarm{"s.toml"};
  scenario.add_at(region{{5, 1}}, "fault");
  swarm.add_at(region{{1, 1}}, "node");
  scenario.append(std::move(swarm));
  EXPECT_EQ(scenario.size(), 2u);
  EXPECT_EQ(scenario.text(), "s.toml:1:1: node\ns.toml:5:1: fault");
}

} // namespace
} // namespace colony
