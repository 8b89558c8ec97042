#include "actors/averaging/finite_values.hpp"

#include <ATen/ATen.h>

#include <cstdint>
#include <cstring>

namespace colony::averaging {

namespace {

/// True if no element of `n` IEEE values (as raw `Bits`) has an all-ones
/// exponent, i.e. is an infinity or a NaN. Branch-free, so it vectorizes.
template <class Bits>
bool exponents_finite(const void* data, int64_t n, Bits exponent_mask) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  bool ok = true;
  for (int64_t i = 0; i < n; ++i) {
    Bits bits;
    std::memcpy(&bits, bytes + i * sizeof(Bits), sizeof(Bits));
    ok &= (bits & exponent_mask) != exponent_mask;
  }
  return ok;
}

} // namespace

bool all_finite(const at::Tensor& values) {
  if (!values.defined() || values.numel() == 0)
    return true;
  auto t = values.contiguous();
  auto n = t.numel();
  switch (t.scalar_type()) {
  case at::kFloat:
    return exponents_finite<uint32_t>(t.data_ptr(), n, 0x7f800000u);
  case at::kDouble:
    return exponents_finite<uint64_t>(t.data_ptr(), n, 0x7ff0000000000000ull);
  case at::kHalf:
    return exponents_finite<uint16_t>(t.data_ptr(), n, 0x7c00u);
  case at::kBFloat16:
    return exponents_finite<uint16_t>(t.data_ptr(), n, 0x7f80u);
  default:
    break;
  }
  if (!at::isFloatingType(t.scalar_type()))
    return true;
  return at::isfinite(t).all().item<bool>();
}

} // namespace colony::averaging
