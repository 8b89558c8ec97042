#include "actors/averaging/finite_values.hpp"

#include <ATen/ATen.h>

#include <algorithm>
#include <cstdint>

namespace colony::averaging {

namespace {

// Unsigned integers that may alias the float storage they are read from
// (reading floats through a plain uint32_t* would break strict aliasing;
// a memcpy per element keeps GCC from vectorizing the loop: 2x slower).
using alias_u16 [[gnu::may_alias]] = uint16_t;
using alias_u32 [[gnu::may_alias]] = uint32_t;
using alias_u64 [[gnu::may_alias]] = uint64_t;

/// True if no element of `n` IEEE values (read as `Bits`) has an all-ones
/// exponent, i.e. is an infinity or a NaN. Branch-free, so it vectorizes.
template <class Bits>
bool exponents_finite(const void* data, int64_t n, Bits exponent_mask) {
  const auto* bits = static_cast<const Bits*>(data);
  Bits bad = 0;
  for (int64_t i = 0; i < n; ++i)
    bad |= static_cast<Bits>((bits[i] & exponent_mask) == exponent_mask);
  return bad == 0;
}

} // namespace

bool accumulate_finite(float* sum, const float* values, int64_t n, float weight,
                       bool first) {
  // A block stays in L1 between its check and its arithmetic.
  constexpr int64_t block = 2048;
  for (int64_t begin = 0; begin < n; begin += block) {
    auto count = std::min(block, n - begin);
    const float* v = values + begin;
    float* out = sum + begin;
    if (!exponents_finite<alias_u32>(v, count, 0x7f800000u))
      return false;
    if (first)
      for (int64_t i = 0; i < count; ++i)
        out[i] = weight * v[i];
    else
      for (int64_t i = 0; i < count; ++i)
        out[i] += weight * v[i];
  }
  return true;
}

bool all_finite(const at::Tensor& values) {
  if (!values.defined() || values.numel() == 0)
    return true;
  auto t = values.contiguous();
  auto n = t.numel();
  switch (t.scalar_type()) {
  case at::kFloat:
    return exponents_finite<alias_u32>(t.data_ptr(), n, 0x7f800000u);
  case at::kDouble:
    return exponents_finite<alias_u64>(t.data_ptr(), n, 0x7ff0000000000000ull);
  case at::kHalf:
    return exponents_finite<alias_u16>(t.data_ptr(), n, 0x7c00u);
  case at::kBFloat16:
    return exponents_finite<alias_u16>(t.data_ptr(), n, 0x7f80u);
  default:
    break;
  }
  if (!at::isFloatingType(t.scalar_type()))
    return true;
  return at::isfinite(t).all().item<bool>();
}

} // namespace colony::averaging
