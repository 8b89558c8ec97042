#include "apps/harness/averaging_invariants.hpp"

#include <gtest/gtest.h>

using namespace colony;
using namespace colony::apps;

namespace {

averaging_round_record line(const std::string& group, size_t index,
                            std::vector<double> pre, std::vector<double> post,
                            double t = 10) {
  averaging_round_record r;
  r.t = t;
  r.ok = true;
  r.group = group;
  r.members = {"A", "B", "C"};
  r.index = index;
  r.pre = std::move(pre);
  r.post = std::move(post);
  return r;
}

harness_run run_of(std::vector<averaging_round_record> records) {
  harness_run run;
  harness_node n;
  n.name = "server-1";
  n.rounds = std::move(records);
  run.nodes.push_back(n);
  run.training_s = 60;
  return run;
}

invariant_spec averaging_spec(invariant_kind kind, double min) {
  invariant_spec s;
  s.kind = kind;
  s.threshold = min;
  s.tolerance = 1e-6;
  return s;
}

} // namespace

TEST(averaging_invariants, the_mean_of_all_or_of_those_that_arrived_is_exact) {
  std::vector<double> w{1, 1, 1};
  EXPECT_TRUE(span_is_exact({1, 2, 6}, {3, 3, 3}, w, 1e-9));
  // C's part never arrived: A and B hold their mean, C its own.
  EXPECT_TRUE(span_is_exact({1, 2, 6}, {1.5, 1.5, 6}, w, 1e-9));
  // C contributed, but its delta did not come back.
  EXPECT_TRUE(span_is_exact({1, 2, 6}, {3, 3, 6}, w, 1e-9));
  // The reducer failed: everyone kept its values.
  EXPECT_TRUE(span_is_exact({1, 2, 6}, {1, 2, 6}, w, 1e-9));
  // Weights count.
  EXPECT_TRUE(span_is_exact({1, 2, 6}, {5, 5, 5}, {0, 1, 3}, 1e-9));
}

TEST(averaging_invariants, a_wrong_or_split_average_is_caught) {
  std::vector<double> w{1, 1, 1};
  EXPECT_FALSE(span_is_exact({1, 2, 6}, {3.5, 3.5, 3.5}, w, 1e-9));
  EXPECT_FALSE(span_is_exact({1, 2, 6}, {3, 3.1, 3}, w, 1e-9));
  EXPECT_FALSE(span_is_exact({1, 2, 6}, {2.9, 2, 6}, w, 1e-9));
}

TEST(averaging_invariants, complete_groups_are_counted_and_checked) {
  auto good = run_of({line("g1", 0, {1, 10, 0}, {3, 10, 0}),
                      line("g1", 1, {2, 20, 0}, {3, 20, 0}),
                      line("g1", 2, {6, 30, 0}, {3, 30, 0})});
  auto r =
      averaging_exact(averaging_spec(invariant_kind::averaging_exact, 1), good);
  EXPECT_TRUE(r.holds) << r.detail;
  EXPECT_EQ(r.measured, 1);
  auto bad = run_of({line("g1", 0, {1, 10, 0}, {3, 10, 0}),
                     line("g1", 1, {2, 20, 0}, {3, 20, 0}),
                     line("g1", 2, {6, 30, 0}, {4, 30, 0})});
  EXPECT_FALSE(
      averaging_exact(averaging_spec(invariant_kind::averaging_exact, 1), bad)
          .holds);
  // A member's line missing: not complete, so `min` is not met.
  auto partial = run_of({line("g1", 0, {1, 10, 0}, {3, 10, 0}),
                         line("g1", 1, {2, 20, 0}, {3, 20, 0})});
  EXPECT_FALSE(averaging_exact(
                   averaging_spec(invariant_kind::averaging_exact, 1), partial)
                   .holds);
}

TEST(averaging_invariants, rounds_must_follow_every_fault) {
  auto run = run_of({line("g1", 0, {1, 1, 1}, {1, 1, 1}, 5),
                     line("g2", 0, {1, 1, 1}, {1, 1, 1}, 25),
                     line("g3", 0, {1, 1, 1}, {1, 1, 1}, 30)});
  applied_fault f;
  f.t = 20;
  run.faults.push_back(f);
  auto s = averaging_spec(invariant_kind::averaging_rounds, 2);
  s.within_s = 10;
  auto r = averaging_rounds(s, run);
  EXPECT_TRUE(r.holds) << r.detail;
  EXPECT_DOUBLE_EQ(r.measured, 5);
  s.within_s = 2;
  EXPECT_FALSE(averaging_rounds(s, run).holds);
  s.within_s = 10;
  s.threshold = 3; // only 2 rounds after the fault
  EXPECT_FALSE(averaging_rounds(s, run).holds);
}
