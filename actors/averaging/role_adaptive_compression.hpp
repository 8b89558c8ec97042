#pragma once

// Which codec a tensor travels with by its role in training, as hivemind's
// RoleAdaptiveCompression chooses it: parameters, gradients, optimizer
// statistics and other tensors may each take their own codec (say float16
// parameters with 8-bit optimizer moments), and every role keeps the
// size-adaptive rule (small tensors, e.g. biases and norms, stay exact).

#include "actors/averaging/averaging_compression.hpp"

#include <cstdint>
#include <optional>
#include <vector>

namespace colony::averaging {

/// What an averaged tensor is to the training loop.
enum class tensor_role : uint8_t {
  parameter,
  gradient,
  /// An optimizer statistic such as Adam's exp_avg_sq.
  optimizer,
  /// Anything else averaged with them (hivemind's extra tensors).
  other,
};

/// "parameter", "gradient", "optimizer" or "other".
[[nodiscard]] const char* to_string(tensor_role role) noexcept;

/// A codec per role; roles without one use `fallback`'s.
struct role_adaptive_compression {
  /// Codec of the roles not named below, and the size threshold of all.
  averaging_compression fallback;
  std::optional<compression_type> parameter;
  std::optional<compression_type> gradient;
  std::optional<compression_type> optimizer;
  std::optional<compression_type> other;

  /// The size-adaptive policy of a tensor of `role`.
  [[nodiscard]] averaging_compression for_role(tensor_role role) const;

  /// The policies of tensors with `roles`, in order (an averager's
  /// `tensor_compression`).
  [[nodiscard]] std::vector<averaging_compression>
  for_tensors(const std::vector<tensor_role>& roles) const;
};

} // namespace colony::averaging
