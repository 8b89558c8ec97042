#pragma once

// Faults a node's transport injects into its own traffic, for the
// fault-injection harness: switched at run time through the node's control
// service, never by touching the host's network. All off by default.

#include <caf/allowed_unsafe_message_type.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace colony {

struct fault_settings {
  /// Added to every message this node sends (calls, replies, errors), before
  /// it is written: `delay` plus a uniform draw from [-jitter, +jitter]
  /// (never below zero). Messages to one peer keep their order.
  std::chrono::milliseconds delay{0};
  std::chrono::milliseconds jitter{0};
  /// Fraction in [0, 1] of the messages this node sends that are lost (a
  /// call or reply is dropped whole, with all its parts).
  double drop_rate = 0;
  /// Peers this node no longer talks to, by listen address "HOST:PORT" or by
  /// peer id (base58 text form): nothing is sent to them and whatever they send
  /// is ignored; a call to one fails at its deadline.
  std::vector<std::string> partitioned;
  /// Peer ids (base58) whose traffic the faults leave alone: the
  /// harness's control channel, like a management network beside the
  /// faulty one (a drop fault must not eat the reply that confirms it).
  /// Not a fault itself.
  std::vector<std::string> exempt;
  /// Seed of the jitter and drop draws (0: random).
  uint64_t seed = 0;

  [[nodiscard]] bool any() const noexcept {
    return delay.count() > 0 || jitter.count() > 0 || drop_rate > 0 ||
           !partitioned.empty();
  }
};

/// What the fault layer did since the node started.
struct fault_counters {
  uint64_t messages_delayed = 0;
  uint64_t messages_dropped = 0;
  /// Frames not sent to, or ignored from, partitioned peers.
  uint64_t frames_partitioned = 0;
};

} // namespace colony

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(colony::fault_settings)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(colony::fault_counters)
