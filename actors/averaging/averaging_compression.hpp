#pragma once

// Which codec an averaged tensor's parts travel with: a size-adaptive
// choice, as hivemind's averagers make it. Small tensors (biases, norms)
// stay exact, where compression would save little and their values are
// sensitive; large ones use the configured codec.

#include "messages/tensor_codec.hpp"

#include <c10/core/ScalarType.h>

#include <cstddef>
#include <cstdint>

namespace colony::averaging {

/// Tensors with fewer elements than this travel uncompressed by default
/// (elements, not bytes: 2^16 floats are 256 KiB).
constexpr int64_t default_min_compressed_numel = int64_t{1} << 16;

/// Bytes of the side data an 8-bit codec adds to a tensor: its 256-entry
/// float32 lookup table.
constexpr uint64_t lookup_table_bytes = 256 * 4;

/// Bytes of the side data `scaled_float16` adds to a 1-D part: one float32
/// mean and one float32 std.
constexpr uint64_t scaled_stats_bytes = 2 * 4;

/// The size-adaptive compression policy of an averaged tensor group.
struct averaging_compression {
  /// Codec of large floating tensors (`compression` in the averager's
  /// options). `none` turns compression off.
  compression_type codec = compression_type::none;
  /// Tensors with fewer elements than this stay uncompressed.
  int64_t min_compressed_numel = default_min_compressed_numel;

  /// The codec of a whole tensor of `numel` elements and `dtype`: `codec`
  /// if the tensor is large enough and the codec shrinks its elements,
  /// else `none` (float16 on a float16 or bfloat16 tensor saves nothing,
  /// and on bfloat16 it would lose range).
  [[nodiscard]] compression_type for_tensor(int64_t numel,
                                            at::ScalarType dtype) const;

  /// The codec of one part of `numel` elements cut from a tensor that uses
  /// `tensor_codec`: that codec, unless the part is so small that its side
  /// data makes it no smaller than the raw elements (a short tail part under
  /// an 8-bit codec), in which case `none`.
  [[nodiscard]] static compression_type
  for_part(compression_type tensor_codec, int64_t numel, at::ScalarType dtype);
};

/// Bytes a 1-D part of `numel` elements of `dtype` takes on the wire under
/// `codec`: its data plus the codec's side data (not the message framing).
[[nodiscard]] uint64_t encoded_part_bytes(compression_type codec,
                                          at::ScalarType dtype, int64_t numel);

/// The most elements of `dtype` a part encoded with `codec` may hold so
/// that `encoded_part_bytes` stays within `part_size_bytes`; at least 1, so
/// that a tiny part size still makes progress.
[[nodiscard]] int64_t max_part_numel(compression_type codec,
                                     at::ScalarType dtype,
                                     uint64_t part_size_bytes);

} // namespace colony::averaging
