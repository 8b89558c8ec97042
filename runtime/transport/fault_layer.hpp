#pragma once

#include "runtime/transport/fault_settings.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

namespace colony {

/// The transport's fault injection, as pure logic: decides for each
/// outgoing message whether it is lost and when it may be written, and
/// whether a peer is partitioned away. The transport holds delayed
/// messages and writes them when their time comes.
class fault_layer {
 public:
  using clock_type = std::chrono::steady_clock;

  fault_layer();

  /// Replaces the settings. Messages already scheduled keep their times.
  void configure(fault_settings settings);

  [[nodiscard]] const fault_settings& settings() const noexcept {
    return settings_;
  }

  /// Whether any fault is on: the transport's only check on its hot path.
  [[nodiscard]] bool active() const noexcept { return active_; }

  /// For one message (request or response, with all its parts) to the
  /// connection `connection`: nullopt if it is lost; otherwise the time it
  /// may be written, never before the previous message's to the same
  /// connection (messages to a peer keep their order).
  [[nodiscard]] std::optional<clock_type::time_point>
  schedule(int64_t connection, clock_type::time_point now);

  /// True if the peer listening at `address` or with id `peer_id` (base58)
  /// is partitioned away. Either may be empty.
  [[nodiscard]] bool is_partitioned(std::string_view address,
                                    std::string_view peer_id) const;

  /// True if the faults leave the peer `peer_id` (base58) alone.
  [[nodiscard]] bool is_exempt(std::string_view peer_id) const;

  /// Counts a frame not sent to, or ignored from, a partitioned peer.
  void count_partitioned() noexcept { ++counters_.frames_partitioned; }

  /// Forgets a closed connection's ordering state.
  void forget(int64_t connection) { last_release_.erase(connection); }

  [[nodiscard]] const fault_counters& counters() const noexcept {
    return counters_;
  }

 private:
  fault_settings settings_;
  bool active_ = false;
  std::unordered_set<std::string> partitioned_;
  std::unordered_set<std::string> exempt_;
  std::mt19937_64 rng_;
  std::unordered_map<int64_t, clock_type::time_point> last_release_;
  fault_counters counters_;
};

} // namespace colony
