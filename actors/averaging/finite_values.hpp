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

} // namespace colony::averaging
