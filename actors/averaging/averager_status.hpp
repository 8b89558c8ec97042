#pragma once

// What an averager reports about itself (for tests, the harness and logs).

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>

#include <cstdint>
#include <string>

namespace colony::averaging {

/// Where an averager is in its step.
enum class averager_stage : uint8_t {
  idle,        ///< no step under way
  matchmaking, ///< looking for a group
  allreduce,   ///< averaging with its group
};

/// Returns "idle", "matchmaking" or "allreduce".
[[nodiscard]] constexpr const char* to_string(averager_stage stage) noexcept {
  switch (stage) {
  case averager_stage::idle:
    return "idle";
  case averager_stage::matchmaking:
    return "matchmaking";
  case averager_stage::allreduce:
    return "allreduce";
  }
  return "unknown";
}

/// Counters of an averager since it started.
struct averager_status {
  averager_stage stage = averager_stage::idle;
  std::string group_bits;
  uint64_t steps_succeeded = 0;
  uint64_t steps_failed = 0;
  /// Parts this averager sent to other reducers (calls started).
  uint64_t parts_sent = 0;
  /// Parts other members sent to this averager's span (calls served).
  uint64_t parts_received = 0;
  /// Senders its reducer excluded (timeouts, bad parts, impostors).
  uint64_t senders_excluded = 0;
  /// Bytes of parts and deltas sent to other members.
  uint64_t bytes_sent = 0;
};

/// (averager_status_atom) -> averager_status.
using averager_status_atom = caf::atom_constant<caf::atom("avg_status")>;

} // namespace colony::averaging

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(colony::averaging::averager_status)
