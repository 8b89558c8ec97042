#pragma once

// PowerSGD (Vogels et al. 2019, "PowerSGD: Practical Low-Rank Gradient
// Compression for Distributed Optimization"), as hivemind's
// PowerSGDGradientAverager runs it, without actors: the math of one peer.
//
// Each gradient tensor that compresses well is seen as a matrix M (n x m)
// and averaged through two rank-r factors instead of its n*m elements:
//
//   M = gradient + E                     (error feedback)
//   P = M Q            -> all-reduce P   (phase 1)
//   orthogonalize(P)
//   Q = M^T P          -> all-reduce Q   (phase 2)
//   averaged gradient = P Q^T,  E = M - P Q^T
//
// Q persists from round to round (a warm-started power iteration), and
// starts from one seeded normal draw on every peer. Because P is averaged
// before Q is computed, every member of both rounds ends with the same
// P Q^T: the projection of the group's mean M onto the columns of P.
// Tensors that compress poorly (vectors, or matrices whose factors would
// not be at least `min_compression_ratio` smaller) are averaged plain.

#include <ATen/core/Tensor.h>
#include <c10/util/ArrayRef.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace colony::optim {

/// hivemind's default: factors must save at least half of a tensor's
/// elements, or the tensor is averaged plain.
constexpr double default_min_compression_ratio = 0.5;

/// Seed of the first Q of every compressed tensor (plus its index): the
/// same on every peer, so that peers start from one subspace.
constexpr uint64_t default_power_sgd_seed = 0x5067'd5ee'd000'0001;

/// A column of P whose part orthogonal to the columns before it is at most
/// this fraction of its norm is set to zero instead of normalized: it holds
/// no direction of its own (the averaged M has lower rank than r), only
/// rounding, and normalizing rounding would make peers' P differ.
constexpr double dependent_column_tolerance = 1e-4;

/// The (rows, cols) of the matrix a tensor of `sizes` is seen as: adjacent
/// dimensions are merged, the pair with the smallest product first, until
/// two remain (hivemind's get_flatten_greedy_dims). A vector is (n, 1), a
/// scalar (1, 1).
[[nodiscard]] std::array<int64_t, 2> matrix_shape(c10::IntArrayRef sizes);

/// True if rank-`rank` factors save less than `min_compression_ratio` of a
/// tensor of `sizes` (1 - rank * (n + m) / (n * m) below it), or the tensor
/// has fewer than two dimensions (biases, norm scales): it goes plain.
[[nodiscard]] bool
compresses_poorly(c10::IntArrayRef sizes, int64_t rank,
                  double min_compression_ratio = default_min_compression_ratio);

/// Makes the columns of `matrix` (2-D, floating) orthonormal in place, by
/// modified Gram-Schmidt, left to right. A column dependent on those before
/// it (see dependent_column_tolerance) or zero becomes zero.
void orthogonalize(const at::Tensor& matrix);

/// How a peer compresses its gradients.
struct power_sgd_options {
  /// Rank of the factors (hivemind's averager_rank). >= 1.
  int64_t rank = 1;
  double min_compression_ratio = default_min_compression_ratio;
  /// Seeds the first Q (the same on every peer of a run).
  uint64_t seed = default_power_sgd_seed;
};

/// One peer's PowerSGD state over a fixed list of gradient tensors: error
/// feedback E and factor Q per compressed tensor, and the P and Q buffers
/// the two all-reduce phases average in place.
///
/// A round is begin() (P = M Q), the caller averages p_factors(), then
/// project() (orthogonalize P, Q = M^T P), the caller averages
/// q_factors(), then finish() (gradient = P Q^T, E = M - P Q^T); abandon()
/// instead of finish() ends a failed round as if it had not begun.
/// Not thread-safe: the owner serialises the calls and the averaging.
class power_sgd_compressor {
 public:
  /// A compressor for gradients of the shapes and dtypes of `gradients`
  /// (float32 or float64 tensors compress; others go plain).
  power_sgd_compressor(const std::vector<at::Tensor>& gradients,
                       power_sgd_options options);

  /// Indices of the gradients averaged through factors, and of those
  /// averaged plain (ascending).
  [[nodiscard]] const std::vector<size_t>& compressed() const noexcept {
    return compressed_;
  }
  [[nodiscard]] const std::vector<size_t>& plain() const noexcept {
    return plain_;
  }

  /// P (n x r) and Q (m x r) of each compressed gradient, in the order of
  /// compressed(): contiguous, the tensors the two phases average.
  [[nodiscard]] const std::vector<at::Tensor>& p_factors() const noexcept {
    return p_;
  }
  [[nodiscard]] const std::vector<at::Tensor>& q_factors() const noexcept {
    return q_;
  }

  /// The error feedback of each compressed gradient, as a matrix.
  [[nodiscard]] const std::vector<at::Tensor>& errors() const noexcept {
    return e_;
  }

  /// Phase 1: M = gradient + E and P = M Q for each compressed gradient
  /// (`gradients` as given to the constructor; they are not changed).
  void begin(const std::vector<at::Tensor>& gradients);

  /// Between the phases, once P is averaged: orthogonalizes P, Q = M^T P.
  void project();

  /// After phase 2, once Q is averaged: writes P Q^T into each compressed
  /// gradient and keeps E = M - P Q^T.
  void finish(const std::vector<at::Tensor>& gradients);

  /// Ends a round that failed after begin(): E and Q are as before it.
  void abandon();

  /// Elements of all P and all Q factors (what the phases average besides
  /// the plain gradients).
  [[nodiscard]] int64_t factor_numel() const noexcept;

 private:
  power_sgd_options options_;
  std::vector<size_t> compressed_;
  std::vector<size_t> plain_;
  std::vector<std::array<int64_t, 2>> shapes_;
  std::vector<at::Tensor> p_, q_, e_, m_;
  std::vector<at::Tensor> q_before_; ///< Q as begin() found it
};

} // namespace colony::optim
