#pragma once

#include "actors/moe/server/detail/fair_queue.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace colony::moe {

/// The batching rules of a task pool, without actors or tensors: a queue of
/// pending requests (id, rows, enqueue time), when they are ready to form a
/// batch, and which of them form it. Not thread-safe; one owner.
///
/// A batch is ready when the pending rows reach `min_batch_size` (capped at
/// `max_batch_size`) or when the oldest request has waited `timeout`. A batch
/// takes requests round-robin over the peers that sent them (one FIFO per
/// peer, fair_queue.hpp), as many as fit in `max_batch_size` rows: a peer
/// with a thousand requests queued does not keep another's one request out
/// of the next batch. A request is never split, and one that does not fit
/// waits for the next batch, where it comes first. With one peer, a batch
/// is the oldest requests in order.
class batch_queue {
 public:
  /// The clock of enqueue times and deadlines.
  using clock = std::chrono::steady_clock;

  /// One pending request.
  struct entry {
    uint64_t id = 0;            ///< the owner's handle of the request
    size_t rows = 0;            ///< its leading (batch) dimension
    clock::time_point enqueued; ///< when it was pushed
    uint64_t peer = 0;          ///< who sent it (its FIFO)
  };

  /// A queue forming batches of `min_batch_size`..`max_batch_size` rows, or
  /// fewer once the oldest request waited `timeout`. A `min_batch_size` of 0
  /// counts as 1; one above `max_batch_size` counts as `max_batch_size`.
  batch_queue(size_t min_batch_size, size_t max_batch_size,
              clock::duration timeout) noexcept;

  /// True if a request of `rows` rows can ever be batched: 1..max.
  [[nodiscard]] bool accepts(size_t rows) const noexcept {
    return rows >= 1 && rows <= max_batch_size_;
  }

  /// Appends a request of `peer` enqueued at `now`; enqueue times must not
  /// decrease. Returns false (and keeps nothing) if `accepts(rows)` is
  /// false.
  [[nodiscard]] bool push(uint64_t id, size_t rows, clock::time_point now,
                          uint64_t peer = 0);

  /// True if no request is pending.
  [[nodiscard]] bool empty() const noexcept { return entries_.empty(); }

  /// Pending requests.
  [[nodiscard]] size_t size() const noexcept { return entries_.size(); }

  /// Pending rows, summed over requests.
  [[nodiscard]] size_t pending_rows() const noexcept { return rows_; }

  /// Enqueue time of the oldest pending request; none if empty.
  [[nodiscard]] std::optional<clock::time_point> oldest() const noexcept;

  /// When the queue becomes ready by timeout (oldest + timeout); none if
  /// empty.
  [[nodiscard]] std::optional<clock::time_point> deadline() const noexcept;

  /// True if a batch should be formed at `now`: enough rows, or the oldest
  /// request waited long enough. False if empty.
  [[nodiscard]] bool ready(clock::time_point now) const noexcept;

  /// Removes and returns the next batch: requests round-robin over peers,
  /// each peer's oldest first, as many as fit in `max_batch_size` rows (at
  /// least one; none if empty).
  /// Ignores readiness: the caller decides when.
  [[nodiscard]] std::vector<entry> take_batch();

  /// Removes and returns every pending request, oldest first.
  [[nodiscard]] std::vector<entry> take_all();

  [[nodiscard]] size_t min_batch_size() const noexcept {
    return min_batch_size_;
  }
  [[nodiscard]] size_t max_batch_size() const noexcept {
    return max_batch_size_;
  }
  [[nodiscard]] clock::duration timeout() const noexcept { return timeout_; }

 private:
  size_t min_batch_size_;
  size_t max_batch_size_;
  clock::duration timeout_;
  fair_queue<entry> entries_;
  size_t rows_ = 0;
};

} // namespace colony::moe
