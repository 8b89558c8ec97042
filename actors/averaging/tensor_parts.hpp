#pragma once

// The averaged tensors of a group seen as one flat vector (the tensors'
// elements one after another, in order, each tensor row-major), cut into
// the members' spans and each span into parts that travel as one message.

#include "actors/averaging/averaging_compression.hpp"

#include <ATen/core/Tensor.h>
#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace colony::averaging {

/// One part of a span: elements [begin, end) of the flat vector, all of one
/// dtype, encoded with one codec. A part may run over several consecutive
/// tensors of the same dtype and codec, never over a change of either.
struct part_info {
  int64_t begin = 0;
  int64_t end = 0;
  /// The dtype of the tensors the part covers; its values travel in it.
  at::ScalarType dtype = at::kFloat;
  /// The codec its values and the delta sent back travel with.
  compression_type codec = compression_type::none;

  [[nodiscard]] int64_t numel() const noexcept { return end - begin; }
};

/// How a group's flat vector is cut into parts.
struct part_options {
  /// Upper bound of a part's encoded size (data plus codec side data, after
  /// compression), as hivemind's `part_size_bytes`. The last part of a run
  /// of tensors may be smaller.
  uint64_t part_size_bytes = uint64_t{512} << 10;
  /// Which tensors travel compressed.
  averaging_compression compression;
  /// Per tensor, in order, replacing `compression` (a role-adaptive choice:
  /// role_adaptive_compression.hpp); empty: every tensor uses
  /// `compression`.
  std::vector<averaging_compression> tensor_compression;

  /// The policy of tensor `i`.
  [[nodiscard]] const averaging_compression& of(size_t i) const {
    return tensor_compression.empty() ? compression : tensor_compression[i];
  }
};

/// The averaged tensors of a group as one flat vector split into spans
/// (one per group member, contiguous, in member order, as the partition
/// assigns them) and each span into parts.
///
/// Only floating tensors are averaged (float32, float64, float16,
/// bfloat16): `make` refuses integer and bool tensors, whose mean would
/// have to be rounded; keep them out of the averaged group (state download
/// carries them). The tensors must be defined, dense, contiguous and on
/// the CPU: parts are written back into their storage in place, so the
/// caller's tensors see the averaged values.
///
/// Reading a part copies only that part; writing one copies only into it,
/// so a step never holds a second copy of the whole vector. Not
/// thread-safe: the owner serialises calls, and the tensors must not be
/// written by anyone else while a part is read or written.
class tensor_parts {
 public:
  /// Builds the parts of `tensors` for spans of `span_sizes` elements
  /// (their sum must equal the tensors' total number of elements; a span of
  /// 0 elements, e.g. of a client-mode member, has no parts).
  ///
  /// Errors: invalid_argument (an undefined, non-CPU, non-contiguous,
  /// sparse, integer or bool tensor; span sizes that are negative or do not
  /// sum to the total; a part size of 0).
  [[nodiscard]] static caf::expected<tensor_parts>
  make(std::vector<at::Tensor> tensors, const std::vector<int64_t>& span_sizes,
       const part_options& options);

  /// Elements of all tensors together.
  [[nodiscard]] int64_t total_numel() const noexcept { return total_; }

  /// Number of spans (group members).
  [[nodiscard]] size_t num_spans() const noexcept { return spans_.size(); }

  /// The parts of span `span`, in order of the flat vector.
  [[nodiscard]] const std::vector<part_info>& parts(size_t span) const {
    return spans_.at(span);
  }

  /// The averaged tensors (sharing storage with the caller's).
  [[nodiscard]] const std::vector<at::Tensor>& tensors() const noexcept {
    return tensors_;
  }

  /// A copy of the current values of part `part` of span `span`: a new 1-D
  /// contiguous tensor of the part's dtype.
  [[nodiscard]] at::Tensor read(size_t span, size_t part) const;

  /// The part's values as a view into the tensors when it lies in one of
  /// them (no copy: valid while they are not written), else as `read`.
  [[nodiscard]] at::Tensor view(size_t span, size_t part) const;

  /// Overwrites part `part` of span `span` with `values` (1-D, the part's
  /// numel; any floating dtype, converted to the tensors').
  /// Errors: invalid_argument (wrong numel, non-floating values); the part
  /// is then left as it was.
  [[nodiscard]] caf::error write(size_t span, size_t part,
                                 const at::Tensor& values);

  /// Adds `alpha * delta` to part `part` of span `span` (1-D `delta` of the
  /// part's numel, any floating dtype).
  /// Errors: invalid_argument as for `write`; the part is then unchanged.
  [[nodiscard]] caf::error add(size_t span, size_t part,
                               const at::Tensor& delta, double alpha);

 private:
  /// A piece of a part that lies in one tensor.
  struct piece {
    size_t tensor;         ///< index into tensors_
    int64_t tensor_offset; ///< first element inside that tensor
    int64_t part_offset;   ///< first element inside the part
    int64_t numel;
  };

  tensor_parts() = default;

  [[nodiscard]] caf::error check_values(size_t span, size_t part,
                                        const at::Tensor& values) const;

  /// Calls `f(piece)` for each tensor piece of `info`.
  template <class F>
  void for_each_piece(const part_info& info, F&& f) const;

  std::vector<at::Tensor> tensors_;
  /// 1-D views of tensors_, sharing their storage.
  std::vector<at::Tensor> flat_;
  /// ends_[i]: flat index one past tensor i's last element.
  std::vector<int64_t> ends_;
  int64_t total_ = 0;
  std::vector<std::vector<part_info>> spans_;
};

} // namespace colony::averaging
