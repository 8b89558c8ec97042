// The NaN / infinity check applied to every part and delta.

#include "actors/averaging/finite_values.hpp"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <limits>

using namespace colony::averaging;

TEST(finite_values, finds_nan_and_infinity_in_every_floating_dtype) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  for (auto dtype : {at::kFloat, at::kDouble, at::kHalf, at::kBFloat16}) {
    auto name = c10::toString(dtype);
    auto x = at::linspace(-100, 100, 1001).to(dtype);
    EXPECT_TRUE(all_finite(x)) << name;
    for (double bad : {nan, inf, -inf}) {
      for (int64_t at_index : {int64_t{0}, int64_t{517}, int64_t{1000}}) {
        auto y = x.clone();
        y[at_index].fill_(bad);
        EXPECT_FALSE(all_finite(y)) << name << " " << bad << " at " << at_index;
      }
    }
    // Extremes that are finite: largest value, smallest subnormal, -0.
    auto edge = at::zeros({3}, at::TensorOptions{}.dtype(dtype));
    edge[0].fill_(at::Scalar(65504.0)); // float16's max; finite in all four
    edge[1].fill_(at::Scalar(std::numeric_limits<float>::denorm_min()));
    edge[2].fill_(at::Scalar(-0.0));
    EXPECT_TRUE(all_finite(edge)) << name;
  }
  // Double values beyond float's range are finite doubles.
  EXPECT_TRUE(
      all_finite(at::full({4}, 1e300, at::TensorOptions{}.dtype(at::kDouble))));
}

TEST(finite_values, handles_views_empty_and_non_floating_tensors) {
  auto x = at::ones({8, 8});
  x[3][5].fill_(std::numeric_limits<float>::quiet_NaN());
  EXPECT_FALSE(all_finite(x.t()));            // non-contiguous
  EXPECT_TRUE(all_finite(x.narrow(0, 4, 4))); // offset view, clean rows
  EXPECT_FALSE(all_finite(x.narrow(0, 3, 1)));
  EXPECT_TRUE(all_finite(at::empty({0})));
  EXPECT_TRUE(all_finite(at::Tensor{}));
  EXPECT_TRUE(all_finite(at::arange(10, at::TensorOptions{}.dtype(at::kLong))));
}
