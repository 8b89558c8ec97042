#pragma once

// The messages of a state download as plain values (wire form in the "State
// download" section of messages/averaging.capnp, codec in state_codec.hpp).

#include "messages/tensor_codec.hpp"

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <string>
#include <vector>

namespace colony::averaging {

/// A downloader's request for one part of a peer's state.
struct state_request {
  /// 0 to start a download (then `part_index` is 0); else the snapshot the
  /// server named in its first reply.
  uint64_t snapshot = 0;
  uint32_t part_index = 0;
};

/// The dtype and shape of one state tensor.
struct state_tensor_info {
  at::ScalarType dtype = at::kFloat;
  std::vector<int64_t> shape;

  friend bool operator==(const state_tensor_info& a,
                         const state_tensor_info& b) {
    return a.dtype == b.dtype && a.shape == b.shape;
  }
  friend bool operator!=(const state_tensor_info& a,
                         const state_tensor_info& b) {
    return !(a == b);
  }
};

/// Consecutive elements of one state tensor (row-major order).
struct state_chunk {
  uint32_t tensor_index = 0;
  /// Index of the chunk's first element in the tensor.
  uint64_t offset = 0;
  /// 1-D values of the tensor's dtype.
  at::Tensor values;
  /// The codec the values travel with (when encoding; the decoder sets it
  /// from the wire).
  compression_type codec = compression_type::none;
};

/// One part of a snapshot of a peer's state.
struct state_part {
  uint64_t snapshot = 0;
  uint32_t part_index = 0;
  uint32_t part_count = 0;
  /// Part 0 only: the owner's opaque metadata (e.g. its training step).
  std::string metadata;
  /// Part 0 only: every state tensor's dtype and shape.
  std::vector<state_tensor_info> tensors;
  /// Disjoint runs of elements; all parts together cover every element of
  /// every tensor exactly once.
  std::vector<state_chunk> chunks;
};

} // namespace colony::averaging
