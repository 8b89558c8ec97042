#pragma once

// Both ends of a state download, pure: a server's frozen snapshot cut into
// parts of bounded size, and a downloader's assembler that checks each part
// against the snapshot's tensor list and writes its chunks in place. Parts
// may arrive in any order after part 0, so a downloader can keep several
// requests in flight.

#include "actors/averaging/averaging_compression.hpp"
#include "actors/averaging/state_codec.hpp"
#include "actors/averaging/state_messages.hpp"
#include "actors/averaging/tensor_parts.hpp"

#include <ATen/core/Tensor.h>
#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace colony::averaging {

/// A server's frozen state: metadata and tensors, cut into parts.
class state_snapshot {
 public:
  /// An empty snapshot (id 0, no parts), to be replaced by `make`'s.
  state_snapshot() = default;

  /// A snapshot named `id` (nonzero) of `metadata` and `tensors`, cut
  /// into parts of at most `options.part_size_bytes` encoded chunk bytes
  /// (metadata not counted; a single element is sent even if larger).
  /// `options.compression` is `state_compression`: lossy codecs apply to
  /// large floating tensors only, integer and bool tensors travel raw.
  /// The tensors are read when a part is built, so the caller passes tensors
  /// nobody writes while the snapshot lives (e.g. clones taken under the
  /// averager's lock). Non-contiguous tensors are made contiguous once.
  /// Errors: invalid_argument (a zero id, an undefined, non-CPU or sparse
  /// tensor, a dtype the wire lacks, a part size of 0).
  [[nodiscard]] static caf::expected<state_snapshot>
  make(uint64_t id, std::string metadata, std::vector<at::Tensor> tensors,
       const part_options& options);

  [[nodiscard]] uint64_t id() const noexcept { return id_; }

  /// Number of parts (at least 1: part 0 carries metadata and tensor list).
  [[nodiscard]] uint32_t part_count() const noexcept {
    return static_cast<uint32_t>(plan_.size());
  }

  /// Part `index`: its chunks view the snapshot's tensors (the encoder
  /// copies them into the message).
  /// Errors: invalid_argument (no such part).
  [[nodiscard]] caf::expected<state_part> part(uint32_t index) const;

  /// Encodes every part now, reading the tensors once (the caller holds
  /// whatever guards them), then drops the tensors: the snapshot serves
  /// these bytes, so its tensors may be live ones instead of clones, and
  /// every download of it shares them. `part` fails afterwards.
  /// Errors: as `encode_state_part`; the snapshot is then unchanged.
  [[nodiscard]] caf::error encode_all();

  /// Part `index` as a message: pre-encoded after `encode_all`, else
  /// encoded now. Errors: invalid_argument (no such part), as
  /// `encode_state_part`.
  [[nodiscard]] caf::expected<envelope> encoded_part(uint32_t index) const;

 private:
  struct chunk_plan {
    uint32_t tensor;
    int64_t offset;
    int64_t numel;
    compression_type codec;
  };

  uint64_t id_ = 0;
  std::string metadata_;
  std::vector<state_tensor_info> infos_;
  /// 1-D contiguous views of the tensors.
  std::vector<at::Tensor> flat_;
  std::vector<std::vector<chunk_plan>> plan_;
  /// Every part's message, once `encode_all` ran.
  std::vector<envelope> encoded_;
};

/// A downloaded state.
struct downloaded_state {
  std::string metadata;
  std::vector<at::Tensor> tensors;
};

/// A downloader's view of one snapshot being received.
class state_assembler {
 public:
  /// An assembler bounded by `limits`. If `expected` is given (the
  /// downloader's own state tensors), the snapshot's tensor list must match
  /// it exactly, which also bounds what is allocated by what the
  /// downloader already holds.
  explicit state_assembler(
      state_limits limits = {},
      std::optional<std::vector<state_tensor_info>> expected = std::nullopt);

  /// Takes a part: part 0 first (it names the snapshot and its tensors,
  /// which are allocated then), the others in any order. Every chunk of a
  /// part is checked (tensor index, dtype, 1-D, within the tensor, no
  /// overlap with what arrived before) before any is written, so a bad
  /// part changes nothing.
  /// Errors: invalid_argument (a part before part 0, another snapshot or
  /// part count, a part seen before, metadata or tensors outside part 0),
  /// bad_shape (a tensor list other than `expected`, a chunk of the wrong
  /// dtype or outside its tensor, overlapping chunks), and those of
  /// `check_state_tensors`. After an error the download should move to
  /// another peer.
  [[nodiscard]] caf::error add(state_part part);

  /// True once part 0 has arrived.
  [[nodiscard]] bool started() const noexcept { return snapshot_ != 0; }

  /// The snapshot being received (0 before part 0).
  [[nodiscard]] uint64_t snapshot() const noexcept { return snapshot_; }

  /// Parts of the snapshot (0 before part 0).
  [[nodiscard]] uint32_t part_count() const noexcept { return part_count_; }

  /// Parts not received yet, ascending (empty before part 0).
  [[nodiscard]] std::vector<uint32_t> missing_parts() const;

  /// True once every part arrived and every element is covered.
  [[nodiscard]] bool complete() const noexcept;

  /// The state, once complete.
  /// Errors: invalid_argument (not complete: parts missing, or all parts
  /// arrived but left elements uncovered — a server that lied).
  [[nodiscard]] caf::expected<downloaded_state> take();

 private:
  state_limits limits_;
  std::optional<std::vector<state_tensor_info>> expected_;
  uint64_t snapshot_ = 0;
  uint32_t part_count_ = 0;
  std::vector<bool> received_;
  uint32_t received_count_ = 0;
  std::string metadata_;
  std::vector<at::Tensor> tensors_; ///< 1-D buffers, reshaped on take()
  std::vector<state_tensor_info> infos_;
  /// Per tensor: covered ranges, begin -> end (disjoint).
  std::vector<std::map<uint64_t, uint64_t>> covered_;
  uint64_t covered_total_ = 0;
  uint64_t total_numel_ = 0;
};

} // namespace colony::averaging
