#pragma once

// What a caller asks of one averaging step and what it gets back.

#include "actors/averaging/group_info.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace colony::averaging {

/// One step: find a group, average with it, update the group bits.
struct step_request {
  /// This peer's weight in the group's weighted mean (finite, >= 0).
  double weight = 1;
  /// Bytes to hand every member of the group (opaque, at most
  /// `max_gathered_bytes`), e.g. the caller's sample count.
  std::string gathered;
  /// How long the step may look for a group: a search that ends without
  /// one (too few peers at its scheduled time) is tried again while this
  /// lasts, as hivemind retries. nullopt: a single search.
  std::optional<std::chrono::milliseconds> timeout;
  /// If this peer leads its group, it assembles as soon as this many
  /// members joined instead of waiting for its scheduled time (e.g. the
  /// peers a progress tracker knows to be due); `target_group_size` still
  /// applies. nullopt: only `target_group_size` and the scheduled time.
  std::optional<size_t> expected_group_size;
};

/// What a successful step did.
struct step_result {
  /// The group, members in the leader's order (which every member shares),
  /// each with the bytes it asked to gather.
  group_info group;
  /// This peer's position in `group.members`.
  size_t index = 0;
  /// The gathered bytes of every member, in group order.
  std::vector<std::string> gathered;
  /// This peer's parts that were averaged, and those that kept their local
  /// values (their reducer failed, or refused or did not average them).
  /// Both 0 for an auxiliary peer, which sends no tensors.
  size_t averaged_parts = 0;
  size_t kept_parts = 0;
  /// The group bits after the round (Moshpit update).
  std::string group_bits;
  /// Time from the step's start until its group formed (every search it
  /// took), and from then until the round ended.
  std::chrono::microseconds matchmaking_time{0};
  std::chrono::microseconds allreduce_time{0};
  /// Bytes this peer sent to the other members in the round: its parts and
  /// the deltas its span answered with.
  uint64_t bytes_sent = 0;
};

} // namespace colony::averaging
