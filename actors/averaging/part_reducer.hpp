#pragma once

// What a reducer does for its span in one all-reduce round: it receives the
// span's parts from every sender, in any order of senders but in order per
// sender, averages each part (weighted) as soon as every expected sender
// has either contributed it or been excluded, and hands back for each
// contributor the delta to stream back. Pure: no actor, no clock (the
// owner decides when a sender has been silent too long and calls
// `exclude`).

#include "actors/averaging/allreduce_messages.hpp"
#include "actors/averaging/tensor_parts.hpp"

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

namespace colony::averaging {

/// A part whose fate is settled: every expected sender contributed it or
/// was excluded from it.
struct reduced_part {
  uint32_t part_index = 0;
  /// False if nobody contributed, every contributor's weight was 0, or the
  /// weighted sum overflowed: the part has no average and each contributor
  /// keeps its local values.
  bool averaged = false;
  /// Members whose values the average counts, ascending.
  std::vector<uint32_t> contributors;
  /// The weighted mean (float32, or float64 for float64 parts), and what
  /// each contributor sent (same order as `contributors`). Empty unless
  /// `averaged`. A contributor's delta is `average - sent[k]`: computed
  /// where it is used (into the reply's bytes, see encode_delta_reply),
  /// not here, to spare a pass over every part.
  at::Tensor average;
  std::vector<at::Tensor> sent;
  /// The part's dtype.
  at::ScalarType dtype = at::kFloat;
  /// Sum of the contributors' weights.
  double total_weight = 0;

  /// The average minus what contributor `k` (an index into `contributors`)
  /// sent, in the part's dtype. Only if `averaged`.
  [[nodiscard]] at::Tensor delta(size_t k) const;
};

/// A sender the reducer stopped counting.
struct exclusion {
  uint32_t sender = 0;
  /// The first part the sender's values are not counted in; its earlier
  /// parts were counted.
  uint32_t from_part = 0;
  exclusion_reason reason = exclusion_reason::failed;
  std::string message;
};

/// What an event changed.
struct reducer_update {
  /// Parts this event settled, in part order (parts settle in order).
  std::vector<reduced_part> completed;
  /// Set if the event's part was not counted: the refusal to answer with.
  std::optional<part_refusal> refused;
  /// Set if this event excluded a sender (report it; earlier exclusions
  /// are not repeated).
  std::optional<exclusion> excluded;
};

/// The reducer of one span in one round.
///
/// Memory: each part still waiting for a sender holds one accumulator and
/// the values of each sender that sent it (needed for its delta), so a
/// reducer holds O(parts in flight), never the whole span per sender
/// unless the senders run that far apart (their window of unanswered
/// parts bounds this).
///
/// Averages accumulate in float32 (float64 for float64 parts): the exact
/// weighted mean of what the contributors sent, up to float rounding.
class part_reducer {
 public:
  /// A reducer for the parts `parts` (the reducer's span, as
  /// `tensor_parts::parts` gives it) of round `group_id`; `contributes[i]`
  /// tells whether member i sends tensors (false for auxiliary members,
  /// which send nothing and are never waited for).
  part_reducer(std::string group_id, std::vector<part_info> parts,
               std::vector<bool> contributes);

  /// Takes a sender's part. The part is counted if it comes from a
  /// contributing, not yet excluded member, with the round's group id, as
  /// the next part expected from that sender, with the part's numel and
  /// dtype, a finite weight >= 0 and finite values. Otherwise it is
  /// refused; a member that sent a bad part (wrong group, size, order,
  /// weight, or non-finite values) is excluded from that part on.
  [[nodiscard]] reducer_update accept(part_message message);

  /// Excludes `sender` from its next part on (it timed out, failed or gave
  /// up). Parts it already sent stay counted. No effect on a sender that is
  /// excluded already, has sent every part, or contributes nothing.
  [[nodiscard]] reducer_update exclude(uint32_t sender, exclusion_reason reason,
                                       std::string message);

  /// Contributing senders still expected to send parts, ascending: those a
  /// sender timeout applies to.
  [[nodiscard]] std::vector<uint32_t> waiting_for() const;

  /// True once every part is settled.
  [[nodiscard]] bool finished() const noexcept {
    return done_ == parts_.size();
  }

  /// Number of parts of the span.
  [[nodiscard]] size_t num_parts() const noexcept { return parts_.size(); }

  /// The round's group id.
  [[nodiscard]] const std::string& group_id() const noexcept {
    return group_id_;
  }

 private:
  /// A part some sender has sent but that is not settled yet.
  struct pending_part {
    at::Tensor sum; ///< sum of weight * values, in the accumulation dtype
    double weight = 0;
    std::vector<uint32_t> senders;
    std::vector<at::Tensor> values;
    std::vector<double> weights; ///< each sender's, to rebuild `sum`
  };

  /// Adds `weight * values` to `part.sum` if every value is finite; else
  /// leaves the sum as it was and returns false.
  [[nodiscard]] static bool add_to_sum(pending_part& part,
                                       const at::Tensor& values, double weight,
                                       at::ScalarType dtype);

  [[nodiscard]] reducer_update refuse(const part_message& message,
                                      exclusion_reason reason, std::string text,
                                      bool exclude_sender);

  /// Settles every part that no active sender still owes.
  void settle(reducer_update& update);

  [[nodiscard]] reduced_part reduce(uint32_t index, pending_part&& part) const;

  std::string group_id_;
  std::vector<part_info> parts_;
  std::vector<bool> contributes_;
  /// Per member: the next part expected from it.
  std::vector<uint32_t> next_;
  /// Per member: why it was excluded, if it was.
  std::vector<std::optional<exclusion_reason>> excluded_;
  /// Parts settled so far: [0, done_).
  uint32_t done_ = 0;
  /// Parts [done_, done_ + pending_.size()), created as senders reach them.
  std::deque<pending_part> pending_;
};

} // namespace colony::averaging
