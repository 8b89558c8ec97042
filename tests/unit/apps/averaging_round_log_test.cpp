#include "apps/node/averaging_round_log.hpp"

#include <gtest/gtest.h>

using namespace colony;

TEST(averaging_round_log, a_round_line_reads_back_exactly) {
  averaging_round_record r;
  r.t = 1733390000.125;
  r.prefix = "churn";
  r.peer = "QmSelf";
  r.ok = true;
  r.group = "00ff";
  r.members = {"QmA", "QmSelf"};
  r.index = 1;
  r.weight = 0.5;
  r.pre = {1.0 / 3, -2.5};
  r.post = {0.1, 1e-300};
  r.averaged_parts = 3;
  r.kept_parts = 1;
  auto line = "[12:00:00.000] [abc] [info] " + format_round_line(r);
  auto back = parse_round_line(line);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->t, r.t);
  EXPECT_EQ(back->prefix, r.prefix);
  EXPECT_EQ(back->peer, r.peer);
  EXPECT_TRUE(back->ok);
  EXPECT_EQ(back->group, r.group);
  EXPECT_EQ(back->members, r.members);
  EXPECT_EQ(back->index, 1u);
  EXPECT_EQ(back->weight, 0.5);
  EXPECT_EQ(back->pre, r.pre);
  EXPECT_EQ(back->post, r.post);
  EXPECT_EQ(back->averaged_parts, 3u);
  EXPECT_EQ(back->kept_parts, 1u);
}

TEST(averaging_round_log, a_failed_step_keeps_its_reason) {
  averaging_round_record r;
  r.t = 5;
  r.prefix = "p";
  r.peer = "QmX";
  r.error = "no_group_found: nobody came = sad";
  auto back = parse_round_line(format_round_line(r));
  ASSERT_TRUE(back);
  EXPECT_FALSE(back->ok);
  EXPECT_EQ(back->error, r.error);
}

TEST(averaging_round_log, malformed_lines_are_refused) {
  EXPECT_FALSE(parse_round_line("no marker here"));
  EXPECT_FALSE(parse_round_line("averaging-round t=x ok=1"));
  EXPECT_FALSE(parse_round_line("averaging-round ok=0"));
  // Sums that do not match the members.
  EXPECT_FALSE(parse_round_line("averaging-round t=1 ok=1 group=aa index=0 "
                                "members=A,B pre=1 post=1,2"));
}
