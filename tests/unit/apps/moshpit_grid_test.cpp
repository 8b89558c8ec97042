#include "apps/bench/moshpit_grid.hpp"

#include <gtest/gtest.h>

#include <map>

using namespace colony::apps;

TEST(moshpit_grid, sixteen_groups_of_sixteen_need_two_dimensions) {
  auto grid = make_moshpit_grid(256, 16);
  ASSERT_TRUE(grid);
  EXPECT_EQ(grid->dims, 2u);
  EXPECT_EQ(grid->coordinate_bits, 4u);
  EXPECT_EQ(grid->key_bits, 4u);
  EXPECT_EQ(initial_bits(*grid, 0), "0000");
  EXPECT_EQ(initial_bits(*grid, 15), "0000");
  EXPECT_EQ(initial_bits(*grid, 16), "0001");
  EXPECT_EQ(initial_bits(*grid, 255), "1111");
}

TEST(moshpit_grid, every_key_holds_one_group) {
  auto grid = make_moshpit_grid(64, 4);
  ASSERT_TRUE(grid);
  EXPECT_EQ(grid->dims, 3u);
  std::map<std::string, int> per_key;
  for (size_t i = 0; i < 64; ++i)
    ++per_key[initial_bits(*grid, i)];
  EXPECT_EQ(per_key.size(), 16u);
  for (const auto& [key, count] : per_key)
    EXPECT_EQ(count, 4) << key;
}

TEST(moshpit_grid, one_group_has_empty_keys) {
  auto grid = make_moshpit_grid(4, 4);
  ASSERT_TRUE(grid);
  EXPECT_EQ(grid->dims, 1u);
  EXPECT_EQ(initial_bits(*grid, 3), "");
}

TEST(moshpit_grid, group_sizes_must_be_powers_of_two) {
  EXPECT_FALSE(make_moshpit_grid(16, 3));
  EXPECT_FALSE(make_moshpit_grid(16, 1));
  EXPECT_FALSE(make_moshpit_grid(1, 2));
}
