// The epoch lines collaborative trainers log: they read back exactly, and
// their distance tells equal parameters from diverged ones.

#include "actors/trainer/parameter_digest.hpp"

#include <gtest/gtest.h>

#include <cmath>

using namespace colony::trainer;

namespace {

parameter_digest sample() {
  parameter_digest d;
  d.t = 1733400000.123456;
  d.epoch = 42;
  d.loaded_state = true;
  d.norm = 12.5;
  for (size_t i = 0; i < parameter_sketch_size; ++i)
    d.sketch.push_back(0.1 * static_cast<double>(i) - 0.7);
  return d;
}

} // namespace

TEST(parameter_digest, an_epoch_line_reads_back_exactly) {
  auto d = sample();
  auto line = "[12:00:00.000] [trainer-1] [info] " + format_digest_line(d);
  auto back = parse_digest_line(line);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->t, d.t);
  EXPECT_EQ(back->epoch, 42u);
  EXPECT_TRUE(back->loaded_state);
  EXPECT_EQ(back->norm, d.norm);
  EXPECT_EQ(back->sketch, d.sketch);
  EXPECT_EQ(relative_distance(d, *back), 0);
}

TEST(parameter_digest, malformed_lines_are_refused) {
  EXPECT_FALSE(parse_digest_line("no marker"));
  EXPECT_FALSE(parse_digest_line("collaborative-epoch t=1 epoch=2 norm=1"));
  EXPECT_FALSE(parse_digest_line(
      "collaborative-epoch t=1 epoch=x loaded=0 norm=1 sketch=1,2"));
  EXPECT_FALSE(parse_digest_line(
      "collaborative-epoch t=1 epoch=2 loaded=0 norm=1 sketch=1,,2"));
  EXPECT_FALSE(parse_digest_line(
      "collaborative-epoch t=1 epoch=2 loaded=0 norm=nan sketch=1"));
  // Unknown keys are skipped.
  auto ok = parse_digest_line(
      "collaborative-epoch t=1 epoch=2 loaded=0 norm=1 sketch=1,2 more=3");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->sketch.size(), 2u);
}

TEST(parameter_digest, distance_is_relative_to_the_larger_norm) {
  auto a = sample();
  auto b = a;
  for (auto& x : b.sketch)
    x += 0.25; // sqrt(16 * 0.25^2) = 1 apart
  EXPECT_NEAR(relative_distance(a, b), 1 / 12.5, 1e-12);
  // Equal sketches but different norms: at least the norms' difference.
  auto c = a;
  c.norm = 10;
  EXPECT_NEAR(relative_distance(a, c), 2.5 / 12.5, 1e-12);
  auto d = a;
  d.sketch.pop_back();
  EXPECT_TRUE(std::isinf(relative_distance(a, d)));
  parameter_digest zero;
  zero.sketch.assign(parameter_sketch_size, 0);
  EXPECT_EQ(relative_distance(zero, zero), 0);
}
