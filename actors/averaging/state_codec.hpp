#pragma once

// State download messages on the wire (the "State download" section of
// messages/averaging.capnp). Pure: encode and decode with bounds.

#include "actors/averaging/state_messages.hpp"
#include "messages/envelope.hpp"
#include "messages/tensor_codec.hpp"

#include <caf/expected.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace colony::averaging {

/// Bounds a downloader applies to the state it receives, checked before it
/// allocates anything.
struct state_limits {
  /// Bounds of each state tensor and each chunk.
  tensor_limits tensors;
  /// Bytes of the metadata.
  size_t max_metadata_bytes = size_t{64} << 20;
  /// State tensors in a snapshot.
  size_t max_tensors = size_t{1} << 16;
  /// Chunks in one part.
  size_t max_chunks_per_part = size_t{1} << 16;
  /// Parts in a snapshot (2^24 parts of 512 KiB are 8 TiB).
  uint32_t max_parts = uint32_t{1} << 24;
  /// Bytes of all state tensors together, as their dtypes and shapes claim.
  uint64_t max_total_bytes = uint64_t{64} << 30;
};

/// Checks a snapshot's tensor list against `limits`: the number of
/// tensors, each shape (dims, no negative dimension, elements, counting
/// zero dimensions as 1 as `tensor_limits` does) and the bytes of all
/// together.
/// Errors: too_large (above a limit), bad_shape (a negative dimension).
[[nodiscard]] caf::error
check_state_tensors(const std::vector<state_tensor_info>& tensors,
                    const state_limits& limits);

[[nodiscard]] envelope encode_state_request(const state_request& request);

/// Errors: malformed (undecodable bytes, a nonzero part index without a
/// snapshot).
[[nodiscard]] caf::expected<state_request>
decode_state_request(const envelope& message);

/// Encodes a part; each chunk's values travel with the chunk's codec.
/// Errors: those of `encode_tensor`.
[[nodiscard]] caf::expected<envelope> encode_state_part(const state_part& part);

/// Decodes a part, bounding metadata, the tensor list, shapes and chunks by
/// `limits`. Chunk values that travel uncompressed alias `message`'s
/// buffer (read-only; see `decode_tensor`). Whether the chunks fit the
/// tensors is the assembler's check (state_transfer.hpp).
/// Errors: malformed (undecodable bytes, a zero snapshot, part index not
/// below the part count, metadata, tensors or chunks above the limits),
/// too_large / bad_shape / unknown_dtype (a tensor info outside the
/// limits), and those of `decode_tensor`.
[[nodiscard]] caf::expected<state_part>
decode_state_part(const envelope& message, const state_limits& limits = {});

} // namespace colony::averaging
