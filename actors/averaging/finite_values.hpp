#pragma once

// The check a reducer and a sender apply to every part and delta they
// receive: a single NaN or infinity would poison every member's average.

#include <ATen/core/Tensor.h>

namespace colony::averaging {

/// True if every element of the floating tensor `values` is finite (true
/// for an empty tensor, and for integer and bool tensors, which cannot hold
/// anything else). One pass over the raw bits, no allocation for a
/// contiguous tensor.
[[nodiscard]] bool all_finite(const at::Tensor& values);

/// `sum[i] (+)= weight * values[i]` over `n` float32 elements (`=` if
/// `first`), checking in the same pass, a cache-sized block ahead of the
/// arithmetic, that every value is finite: one read of `values` instead of
/// two. Returns false at the first block holding a non-finite value; `sum`
/// is then partly updated and must be rebuilt by the caller.
[[nodiscard]] bool accumulate_finite(float* sum, const float* values, int64_t n,
                                     float weight, bool first);

/// `values[i] /= divisor` over `n` float32 elements (IEEE division, as
/// `at::div_` by a float scalar computes it), checking in the same pass
/// that every quotient is finite. All elements are divided either way.
[[nodiscard]] bool divide_finite(float* values, int64_t n, float divisor);

} // namespace colony::averaging
