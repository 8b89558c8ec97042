// Poisoned expert outputs, and the MoE layer's choice among disagreeing
// output shapes.

#include "actors/moe/client/moe_routing.hpp"
#include "actors/moe/server/expert_poison.hpp"
#include "messages/error.hpp"

#include <gtest/gtest.h>

#include <ATen/ATen.h>

using namespace colony;
using namespace colony::moe;

TEST(expert_poison, modes_parse_and_print) {
  for (auto mode :
       {poison_mode::off, poison_mode::nan, poison_mode::wrong_shape}) {
    auto parsed = parse_poison_mode(to_string(mode));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(*parsed, mode);
  }
  auto bad = parse_poison_mode("arsenic");
  ASSERT_FALSE(bad);
  EXPECT_TRUE(is_error(bad.error(), errc::bad_config));
}

TEST(expert_poison, outputs_poisoned_as_named) {
  auto y = at::randn({3, 5});
  auto mask = at::ones({3}, at::kLong);
  auto off = poison_outputs({y}, poison_mode::off);
  EXPECT_TRUE(at::equal(off[0], y));
  auto nan = poison_outputs({y, mask}, poison_mode::nan);
  EXPECT_TRUE(at::isnan(nan[0]).all().item<bool>());
  EXPECT_EQ(nan[0].sizes(), y.sizes());
  EXPECT_TRUE(at::equal(nan[1], mask)) << "integers cannot be NaN";
  auto wide = poison_outputs({y, mask}, poison_mode::wrong_shape);
  EXPECT_EQ(wide[0].sizes(), (std::vector<int64_t>{3, 6}));
  EXPECT_EQ(wide[0].size(0), 3) << "the batch dimension stays right";
  EXPECT_EQ(wide[1].sizes(), (std::vector<int64_t>{3, 1}));
}

TEST(moe_routing, pick_row_shape_follows_the_majority) {
  using shapes = std::vector<std::vector<int64_t>>;
  EXPECT_FALSE(pick_row_shape({}, {8}));
  EXPECT_EQ(pick_row_shape(shapes{{8}}, {8}), 0u);
  // One poisoned expert answering first does not exclude the others.
  EXPECT_EQ(pick_row_shape(shapes{{9}, {8}, {8}}, {8}), 1u);
  EXPECT_EQ(pick_row_shape(shapes{{9}, {9}, {8}}, {8}), 0u);
  // A tie goes to the input's shape, else to the first.
  EXPECT_EQ(pick_row_shape(shapes{{9}, {8}}, {8}), 1u);
  EXPECT_EQ(pick_row_shape(shapes{{9}, {7}}, {8}), 0u);
  // Experts may legitimately change the width: all agree on 16.
  EXPECT_EQ(pick_row_shape(shapes{{16}, {16}}, {8}), 0u);
}
