#pragma once

#include <cstddef>
#include <string>
#include <unordered_map>

namespace colony::dht {

/// A token bucket per peer bounding the stores a node serves: each peer
/// may store `per_minute` records a minute, in bursts of up to a minute's
/// worth. Every record of a store request costs one token.
///
/// Pure logic: the caller passes the time (`now`, seconds on any clock that
/// does not go back), so tests inject it. No locking (one owner). Memory is
/// bounded: peers whose bucket is full again are forgotten (a full bucket is
/// what a new peer gets) when more than `max_tracked_peers` are tracked.
class store_rate_limiter {
 public:
  /// Most peers tracked before full buckets are forgotten.
  static constexpr size_t max_tracked_peers = 4096;

  /// Allows `per_minute` stores per peer a minute (0: no limit).
  explicit store_rate_limiter(size_t per_minute) noexcept
      : per_minute_(per_minute) {}

  /// Takes one token from `peer`'s bucket at time `now`; returns false
  /// (and takes nothing) if the bucket is empty.
  [[nodiscard]] bool allow(const std::string& peer, double now);

  /// Returns the stores per peer a minute this limiter allows (0: no
  /// limit).
  [[nodiscard]] size_t per_minute() const noexcept { return per_minute_; }

  /// Returns the number of peers tracked.
  [[nodiscard]] size_t tracked() const noexcept { return buckets_.size(); }

 private:
  struct bucket {
    double tokens = 0;
    double updated = 0;
  };

  /// Refills `b` up to `now`.
  void refill(bucket& b, double now) const;

  /// Forgets the peers whose bucket is full again at `now`.
  void forget_idle(double now);

  size_t per_minute_;
  std::unordered_map<std::string, bucket> buckets_;
};

} // namespace colony::dht
