#pragma once

// All-reduce messages on the wire (the "All-reduce" section of
// messages/averaging.capnp). Pure: encode and decode with bounds, no actors.

#include "actors/averaging/allreduce_messages.hpp"
#include "messages/envelope.hpp"
#include "messages/tensor_codec.hpp"

#include <caf/expected.hpp>

#include <cstddef>
#include <cstdint>

namespace colony::averaging {

/// Bounds a decoder applies to an all-reduce message, checked before it
/// allocates anything beyond the received bytes.
struct allreduce_limits {
  /// Bounds of the part's tensor (a part is at most `part_size_bytes`, so
  /// the defaults are generous).
  tensor_limits tensors;
  /// Bytes of a group id (matchmaking draws 16).
  size_t max_group_id_bytes = 64;
  /// Bytes of an abort reason or a refusal message.
  size_t max_text_bytes = 4096;
  /// Entries of a delta's contributor list (members of a group).
  size_t max_contributors = 1 << 16;
};

/// Encodes a sender's request (a part, whose values travel with `codec`,
/// or an abort; `codec` is ignored for an abort).
/// Errors: those of `encode_tensor` (unknown_dtype, unsupported_codec,
/// too_large, invalid_argument).
[[nodiscard]] caf::expected<envelope>
encode_reducer_request(const reducer_request& request, compression_type codec);

/// Decodes a sender's request. A part's values alias `message`'s buffer
/// when they travel uncompressed (read-only; see `decode_tensor`).
/// Errors: malformed (undecodable bytes, a group id or text above the
/// limits, an unknown kind of request), and those of `decode_tensor`.
[[nodiscard]] caf::expected<reducer_request>
decode_reducer_request(const envelope& message,
                       const allreduce_limits& limits = {});

/// Encodes a reducer's reply (a delta, whose values travel with `codec`, or
/// a refusal).
/// Errors: as for `encode_reducer_request`.
[[nodiscard]] caf::expected<envelope> encode_part_reply(const part_reply& reply,
                                                        compression_type codec);

/// Encodes the delta reply `average - sent` for part `part_index`, its
/// values computed straight into the message with `codec` none (one pass,
/// no delta tensor), in `dtype`. Decodes as a `part_delta`.
/// Errors: as for `encode_reducer_request`.
[[nodiscard]] caf::expected<envelope>
encode_delta_reply(uint32_t part_index, const at::Tensor& average,
                   const at::Tensor& sent, at::ScalarType dtype,
                   const std::vector<uint32_t>& contributors,
                   compression_type codec);

/// Decodes a reducer's reply. A refusal reason this build does not know (a
/// newer peer) reads as `failed`: the sender keeps its values either way.
/// Errors: as for `decode_reducer_request`.
[[nodiscard]] caf::expected<part_reply>
decode_part_reply(const envelope& message, const allreduce_limits& limits = {});

} // namespace colony::averaging
