#pragma once

// The state server's live snapshots: a few, the newest, each dropped once
// no downloader asked for it for a while. Pure: the caller passes the time.
// Only the state server includes this.

#include "actors/averaging/state_transfer.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>

namespace colony::averaging::detail {

/// Snapshots a state server keeps by default: the newest two, so that a
/// download under way survives one newer download starting.
constexpr size_t default_max_snapshots = 2;

/// A snapshot nobody asked a part of for this long is dropped by default.
constexpr std::chrono::milliseconds default_snapshot_idle_timeout{60000};

/// A bounded set of snapshots, oldest first.
class snapshot_store {
 public:
  using clock = std::chrono::steady_clock;

  /// A store of at most `capacity` snapshots (at least 1).
  explicit snapshot_store(size_t capacity = default_max_snapshots) noexcept;

  /// Keeps `snapshot` (its id must not be held yet), used at `now`; drops
  /// the oldest beyond the capacity. Returns how many were dropped.
  size_t add(state_snapshot snapshot, clock::time_point now);

  /// The snapshot named `id`, marked used at `now`; null if none.
  [[nodiscard]] const state_snapshot* find(uint64_t id, clock::time_point now);

  /// Whether a snapshot named `id` is held.
  [[nodiscard]] bool contains(uint64_t id) const noexcept;

  /// Drops the snapshots not used since `now - idle`. Returns how many.
  size_t drop_idle(clock::time_point now, clock::duration idle);

  [[nodiscard]] size_t size() const noexcept { return entries_.size(); }
  [[nodiscard]] bool empty() const noexcept { return entries_.empty(); }

 private:
  struct entry {
    state_snapshot snapshot;
    clock::time_point last_used;
  };

  size_t capacity_;
  std::deque<entry> entries_;
};

} // namespace colony::averaging::detail
