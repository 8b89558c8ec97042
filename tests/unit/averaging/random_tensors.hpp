#pragma once

// Reproducible tensors for the averaging tests (independent of LibTorch's
// global generator, so tests do not disturb each other).

#include <ATen/ATen.h>

#include <cstdint>
#include <random>
#include <vector>

namespace colony::testing {

/// A tensor of `shape` and `dtype` with values drawn from N(0, scale^2).
inline at::Tensor random_tensor(std::mt19937_64& rng,
                                std::vector<int64_t> shape,
                                at::ScalarType dtype, double scale = 1.0) {
  int64_t n = 1;
  for (auto d : shape)
    n *= d;
  std::normal_distribution<double> normal{0.0, scale};
  std::vector<double> values(static_cast<size_t>(n));
  for (auto& v : values)
    v = normal(rng);
  return at::tensor(values, at::TensorOptions{}.dtype(at::kDouble))
      .reshape(shape)
      .to(dtype)
      .contiguous();
}

/// The elements of `tensors` one after another, as float64.
inline at::Tensor flat_double(const std::vector<at::Tensor>& tensors) {
  std::vector<at::Tensor> flat;
  for (auto& t : tensors)
    flat.push_back(t.reshape({-1}).to(at::kDouble));
  if (flat.empty())
    return at::empty({0}, at::TensorOptions{}.dtype(at::kDouble));
  return at::cat(flat);
}

/// Deep copies of `tensors`.
inline std::vector<at::Tensor> clones(const std::vector<at::Tensor>& tensors) {
  std::vector<at::Tensor> out;
  for (auto& t : tensors)
    out.push_back(t.clone());
  return out;
}

} // namespace colony::testing
