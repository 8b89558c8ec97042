#pragma once

// The sender side of an all-reduce round: each delta a reducer streams back
// is applied, times `averaging_alpha`, to the member's local part as soon
// as it arrives; a part whose reducer failed, refused it or never answered
// keeps its local value. A step never leaves a part half-written: each part
// is either averaged or untouched.

#include "actors/averaging/tensor_parts.hpp"

#include <ATen/core/Tensor.h>
#include <caf/error.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace colony::averaging {

/// What became of one of a member's parts in a round.
enum class part_state : uint8_t {
  pending,  ///< no answer from its reducer yet
  averaged, ///< its delta was applied
  kept,     ///< it keeps its local value (reducer failed or refused)
};

/// Applies a round's deltas to one member's tensors, part by part.
class part_applier {
 public:
  /// An applier over `parts` (which must outlive it) that moves each part
  /// `alpha` of the way to the average: 1 takes the average, 0.5 lands
  /// halfway. `alpha` must be finite (the averager's options check it).
  part_applier(tensor_parts& parts, double alpha);

  /// Adds `alpha * delta` to part `part` of span `span` and marks it
  /// averaged. A delta of the wrong numel or with non-finite values (a
  /// reducer sending garbage) is not applied: the part keeps its value,
  /// is marked kept, and the error says why (errc::bad_shape or
  /// errc::malformed). Errors: invalid_argument for a part that does not
  /// exist or is settled already (nothing changes then).
  [[nodiscard]] caf::error apply(size_t span, size_t part,
                                 const at::Tensor& delta);

  /// Marks a pending part kept: its local value stays. No effect on a
  /// settled part.
  void keep(size_t span, size_t part);

  /// Marks every pending part of `span` kept (its reducer failed).
  void keep_span(size_t span);

  /// Marks every pending part kept (the round's deadline passed).
  void keep_pending();

  /// The state of part `part` of span `span`.
  [[nodiscard]] part_state state(size_t span, size_t part) const {
    return states_.at(span).at(part);
  }

  /// True once no part is pending.
  [[nodiscard]] bool finished() const noexcept { return pending_ == 0; }

  /// Parts still waiting for an answer.
  [[nodiscard]] size_t pending_parts() const noexcept { return pending_; }

  /// Parts whose delta was applied.
  [[nodiscard]] size_t averaged_parts() const noexcept { return averaged_; }

  /// Parts that kept their local values.
  [[nodiscard]] size_t kept_parts() const noexcept { return kept_; }

 private:
  void settle(size_t span, size_t part, part_state state);

  tensor_parts* parts_;
  double alpha_;
  std::vector<std::vector<part_state>> states_;
  size_t pending_ = 0;
  size_t averaged_ = 0;
  size_t kept_ = 0;
};

} // namespace colony::averaging
