#include "actors/optim/power_sgd.hpp"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>

namespace colony::optim {

std::array<int64_t, 2> matrix_shape(c10::IntArrayRef sizes) {
  std::vector<int64_t> dims(sizes.begin(), sizes.end());
  if (dims.empty())
    return {1, 1};
  if (dims.size() == 1)
    return {dims[0], 1};
  while (dims.size() > 2) {
    size_t merge = 0;
    for (size_t i = 1; i + 1 < dims.size(); ++i)
      if (dims[i] * dims[i + 1] < dims[merge] * dims[merge + 1])
        merge = i;
    dims[merge] *= dims[merge + 1];
    dims.erase(dims.begin() + static_cast<std::ptrdiff_t>(merge) + 1);
  }
  return {dims[0], dims[1]};
}

bool compresses_poorly(c10::IntArrayRef sizes, int64_t rank,
                       double min_compression_ratio) {
  if (sizes.size() < 2 || rank < 1)
    return true;
  auto [n, m] = matrix_shape(sizes);
  if (n * m == 0)
    return true;
  auto saved = 1.0 - static_cast<double>(rank) * static_cast<double>(n + m) /
                         static_cast<double>(n * m);
  return saved < min_compression_ratio;
}

void orthogonalize(const at::Tensor& matrix) {
  at::NoGradGuard no_grad;
  auto cols = matrix.size(1);
  // The norms before any subtraction: what "dependent" is measured against.
  auto norms = matrix.norm(2, {0}).to(at::kDouble);
  auto norm_of = norms.accessor<double, 1>();
  for (int64_t i = 0; i < cols; ++i) {
    auto col = matrix.select(1, i);
    auto residual = col.norm().item<double>();
    if (!(residual > dependent_column_tolerance * norm_of[i])) {
      col.zero_(); // zero, dependent, or not finite
      continue;
    }
    col.div_(residual);
    if (i + 1 < cols) {
      auto rest = matrix.narrow(1, i + 1, cols - i - 1);
      // rest -= col (col^T rest)
      rest.sub_(at::outer(col, at::mv(rest.t(), col)));
    }
  }
}

power_sgd_compressor::power_sgd_compressor(
    const std::vector<at::Tensor>& gradients, power_sgd_options options)
    : options_(options) {
  at::NoGradGuard no_grad;
  for (size_t i = 0; i < gradients.size(); ++i) {
    const auto& g = gradients[i];
    auto dtype = g.scalar_type();
    bool factorable = dtype == at::kFloat || dtype == at::kDouble;
    if (!factorable || compresses_poorly(g.sizes(), options_.rank,
                                         options_.min_compression_ratio)) {
      plain_.push_back(i);
      continue;
    }
    auto shape = matrix_shape(g.sizes());
    auto k = compressed_.size();
    compressed_.push_back(i);
    shapes_.push_back(shape);
    auto opts = at::TensorOptions().dtype(dtype).device(at::kCPU);
    p_.push_back(at::zeros({shape[0], options_.rank}, opts));
    // One generator per tensor: a peer's first Q of tensor k does not
    // depend on the other tensors' shapes.
    auto gen = at::make_generator<at::CPUGeneratorImpl>(options_.seed + k);
    q_.push_back(at::randn({shape[1], options_.rank}, gen, opts));
    e_.push_back(at::zeros({shape[0], shape[1]}, opts));
    m_.push_back(at::zeros({shape[0], shape[1]}, opts));
    q_before_.push_back(at::zeros_like(q_.back()));
  }
}

void power_sgd_compressor::begin(const std::vector<at::Tensor>& gradients) {
  at::NoGradGuard no_grad;
  for (size_t k = 0; k < compressed_.size(); ++k) {
    const auto& g = gradients.at(compressed_[k]);
    m_[k].copy_(g.reshape({shapes_[k][0], shapes_[k][1]}));
    m_[k].add_(e_[k]);
    q_before_[k].copy_(q_[k]);
    at::mm_out(p_[k], m_[k], q_[k]);
  }
}

void power_sgd_compressor::project() {
  at::NoGradGuard no_grad;
  for (size_t k = 0; k < compressed_.size(); ++k) {
    orthogonalize(p_[k]);
    at::mm_out(q_[k], m_[k].t(), p_[k]);
  }
}

void power_sgd_compressor::finish(const std::vector<at::Tensor>& gradients) {
  at::NoGradGuard no_grad;
  for (size_t k = 0; k < compressed_.size(); ++k) {
    auto approx = at::mm(p_[k], q_[k].t());
    at::sub_out(e_[k], m_[k], approx);
    auto& g = gradients.at(compressed_[k]);
    g.copy_(approx.reshape(g.sizes()));
  }
}

void power_sgd_compressor::abandon() {
  at::NoGradGuard no_grad;
  for (size_t k = 0; k < compressed_.size(); ++k)
    q_[k].copy_(q_before_[k]);
}

int64_t power_sgd_compressor::factor_numel() const noexcept {
  int64_t n = 0;
  for (size_t k = 0; k < p_.size(); ++k)
    n += p_[k].numel() + q_[k].numel();
  return n;
}

} // namespace colony::optim
