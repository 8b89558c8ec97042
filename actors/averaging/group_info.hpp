#pragma once

// The vocabulary shared by matchmaking, partitioning and the all-reduce: who
// is in a group and how each member takes part.

#include "runtime/peer_id.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace colony::averaging {

/// How a peer takes part in averaging.
enum class peer_mode : uint8_t {
  /// Sends its tensors and reduces a span for the others; declares itself.
  node,
  /// Sends its tensors but accepts no incoming connections: it never
  /// declares itself, never leads a group and reduces no span.
  client,
  /// Reduces a span for the others but contributes no tensors of its own.
  auxiliary,
};

/// Returns "node", "client" or "auxiliary".
[[nodiscard]] constexpr const char* to_string(peer_mode mode) noexcept {
  switch (mode) {
  case peer_mode::node:
    return "node";
  case peer_mode::client:
    return "client";
  case peer_mode::auxiliary:
    return "auxiliary";
  }
  return "unknown";
}

/// A peer and the address it listens on (`HOST:PORT`; empty for a
/// client-mode peer, which listens nowhere).
struct peer_contact {
  peer_id id;
  std::string address;

  friend bool operator==(const peer_contact& a, const peer_contact& b) {
    return a.id == b.id && a.address == b.address;
  }
  friend bool operator!=(const peer_contact& a, const peer_contact& b) {
    return !(a == b);
  }
};

/// Most members of one group (the leader included): a leader refuses
/// more, and a follower refuses a larger group.
constexpr size_t max_group_members = 4096;

/// The random id a leader gives the group it assembles (16 bytes). It
/// names one all-reduce round and seeds the Moshpit draw of the next group
/// bits.
using group_id = std::array<uint8_t, 16>;

/// One member of an assembled group.
struct member_info {
  peer_contact peer;
  /// The bytes the member asked to gather (`step(gather = ...)`), opaque.
  std::string gathered;
  /// Its bandwidth (any unit, the same for the whole group); nullopt if it
  /// stated none.
  std::optional<double> bandwidth;
  peer_mode mode = peer_mode::node;

  friend bool operator==(const member_info& a, const member_info& b) {
    return a.peer == b.peer && a.gathered == b.gathered &&
           a.bandwidth == b.bandwidth && a.mode == b.mode;
  }
  friend bool operator!=(const member_info& a, const member_info& b) {
    return !(a == b);
  }
};

/// A group as its leader assembled it: every member (the leader included)
/// in the leader's shuffled order, which all members share; the order
/// assigns spans and Moshpit buckets.
struct group_info {
  group_id id{};
  std::vector<member_info> members;

  /// The position of `peer` among the members, or nullopt.
  [[nodiscard]] std::optional<size_t> index_of(const peer_id& peer) const {
    for (size_t i = 0; i < members.size(); ++i)
      if (members[i].peer.id == peer)
        return i;
    return std::nullopt;
  }

  friend bool operator==(const group_info& a, const group_info& b) {
    return a.id == b.id && a.members == b.members;
  }
  friend bool operator!=(const group_info& a, const group_info& b) {
    return !(a == b);
  }
};

} // namespace colony::averaging
