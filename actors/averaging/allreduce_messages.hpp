#pragma once

// The messages of a butterfly all-reduce round as plain values: what a
// sender sends a reducer and what the reducer answers (wire form in the
// "All-reduce" section of messages/averaging.capnp, codec in
// allreduce_codec.hpp).

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace colony::averaging {

/// Why a reducer did not count a sender's part (or did not average it).
enum class exclusion_reason : uint8_t {
  timeout,      ///< the sender was silent past `sender_timeout`
  failed,       ///< its call or connection failed, or it gave up the round
  wrong_size,   ///< values of another numel, shape or dtype than the part's
  wrong_group,  ///< a group id other than the round's
  non_finite,   ///< NaN or infinity among the values
  out_of_order, ///< not the next part expected from that sender
  bad_weight,   ///< a negative or non-finite weight
  not_a_sender, ///< not a member of the group that contributes tensors
  not_averaged, ///< the part got no average (no weight at all): keep it
};

/// The stable name of `reason`, e.g. "non_finite".
[[nodiscard]] const char* to_string(exclusion_reason reason) noexcept;

/// One part of a sender's copy of a reducer's span.
struct part_message {
  /// The round's group id (from begin-all-reduce).
  std::string group_id;
  /// The sender's index in the group's member list.
  uint32_t sender = 0;
  /// Index of the part within the reducer's span, from 0.
  uint32_t part_index = 0;
  /// The sender's weight in this step.
  double weight = 1;
  /// The part's elements (1-D).
  at::Tensor values;
};

/// A reducer's answer to a part it averaged: what the sender adds (times
/// `averaging_alpha`) to its local part.
struct part_delta {
  uint32_t part_index = 0;
  /// Average minus what this sender sent; the part's numel and dtype.
  at::Tensor values;
  /// Members whose parts the average counts, ascending.
  std::vector<uint32_t> contributors;
};

/// A reducer's answer to a part it did not count or could not average: the
/// sender keeps its local values for that part.
struct part_refusal {
  uint32_t part_index = 0;
  exclusion_reason reason = exclusion_reason::failed;
  /// Human-readable details, for logs.
  std::string message;
};

/// What a reducer answers to each part.
using part_reply = std::variant<part_delta, part_refusal>;

/// A sender's notice that it stops contributing from its next part on (it
/// failed locally or gave up the round); the reducer excludes it at once
/// instead of waiting for `sender_timeout`.
struct sender_abort {
  std::string group_id;
  uint32_t sender = 0;
  std::string reason;
};

/// What a sender sends a reducer.
using reducer_request = std::variant<part_message, sender_abort>;

} // namespace colony::averaging
