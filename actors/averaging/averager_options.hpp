#pragma once

// The options of an averager, with hivemind's names and defaults
// (`DecentralizedAverager.__init__`); where colony differs, the field says
// so.

#include "actors/averaging/averaging_compression.hpp"
#include "messages/tensor_codec.hpp"

#include <caf/error.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace colony::averaging {

/// Bounds colony waits on in every all-reduce round when no chunk timeout is
/// given (hivemind then waits without bound; colony never does, so that a
/// frozen peer cannot stall a step). The transport's default call deadline.
constexpr std::chrono::milliseconds default_chunk_timeout{30000};

/// Largest `part_size_bytes` accepted: a part travels as one call body.
constexpr uint64_t max_part_size_bytes = uint64_t{64} << 20;

/// How one averager averages its tensors with its peers.
struct averager_options {
  /// Names the averaged tensor group: peers average with peers of the same
  /// prefix. Group keys are `{prefix}.0b{group bits}`; the services are
  /// `averager/{prefix}/...`. Required: non-empty, no '.'.
  std::string prefix;

  // -- matchmaking ----------------------------------------------------------

  /// Members at which a leader assembles its group at once; nullopt: as
  /// many as gather by the leader's scheduled time.
  std::optional<size_t> target_group_size;
  /// Members a group needs to average; fewer fail the attempt with
  /// errc::group_too_small.
  size_t min_group_size = 2;
  /// Group bits this averager starts with (a string of '0' and '1'); peers
  /// with the same bits look for a group together (Moshpit grid).
  std::string initial_group_bits;
  /// How long a step looks for peers before its group assembles: a step's
  /// scheduled time T is its start plus this.
  std::chrono::milliseconds min_matchmaking_time{5000};
  /// Deadline of a matchmaking request to another peer; a leader silent
  /// past it (or past its T by this much) is given up.
  std::chrono::milliseconds request_timeout{3000};

  // -- all-reduce -------------------------------------------------------------

  /// How far each part moves to the group's average: 1 takes the average,
  /// 0.5 lands halfway. Finite, > 0.
  double averaging_alpha = 1.0;
  /// Upper bound of a part's encoded size (bytes, after compression).
  uint64_t part_size_bytes = uint64_t{512} << 10;
  /// Default of `sender_timeout` (itself) and `reducer_timeout` (twice
  /// it). hivemind: None (no bound); colony then uses
  /// `default_chunk_timeout`.
  std::optional<std::chrono::milliseconds> next_chunk_timeout;
  /// Bound of a whole all-reduce round; nullopt: none beyond the per-chunk
  /// timeouts (hivemind: None).
  std::optional<std::chrono::milliseconds> allreduce_timeout;
  /// A reducer stops waiting for a sender silent this long and averages
  /// the part without it. Default: `next_chunk_timeout`.
  std::optional<std::chrono::milliseconds> sender_timeout;
  /// A sender gives up a reducer that has not answered a part within this
  /// and keeps its local values for the rest of that span. Default: twice
  /// `next_chunk_timeout`; must exceed `sender_timeout`, so that a reducer
  /// excludes a silent sender before the others give it up.
  std::optional<std::chrono::milliseconds> reducer_timeout;
  /// Which parts travel compressed (size-adaptive: small tensors stay
  /// exact).
  averaging_compression compression;
  /// Per averaged tensor, in order, replacing `compression` (a role-adaptive
  /// choice: role_adaptive_compression.hpp); empty: all use `compression`.
  std::vector<averaging_compression> tensor_compression;
  /// This peer's bandwidth (any unit, the same across the group): spans
  /// are proportional to it. nullopt counts as the group's mean.
  std::optional<double> bandwidth;
  /// A member whose span would be smaller than this (elements) gets none.
  uint64_t min_vector_size = 0;
  /// Accept no incoming calls: never declare, never lead, reduce no span;
  /// still send tensors.
  bool client_mode = false;
  /// Reduce a span for the others but contribute no tensors (the tensors
  /// given only define the schema).
  bool auxiliary = false;

  // -- state sharing ----------------------------------------------------------

  /// Serve this averager's state to peers that download it; nullopt:
  /// unless `client_mode` or `auxiliary` (as hivemind).
  std::optional<bool> allow_state_sharing;
  /// How often a state-sharing averager declares itself under
  /// `{prefix}.all_averagers`.
  std::chrono::milliseconds declare_state_period{30000};
  /// Codec of the state a peer downloads (`none`: exact).
  compression_type state_compression = compression_type::none;
};

/// The timeouts of a round, with the defaults filled in.
struct round_timeouts {
  std::chrono::milliseconds sender;
  std::chrono::milliseconds reducer;
  /// nullopt: no bound on the whole round.
  std::optional<std::chrono::milliseconds> allreduce;
};

/// `sender_timeout`, `reducer_timeout` and `allreduce_timeout` of
/// `options` as hivemind derives them from `next_chunk_timeout`.
[[nodiscard]] round_timeouts resolve_timeouts(const averager_options& options);

/// Whether `options` shares state (`allow_state_sharing` or its default).
[[nodiscard]] bool shares_state(const averager_options& options) noexcept;

/// Checks `options`; the error (errc::invalid_argument) names every
/// problem, one per line.
[[nodiscard]] caf::error validate(const averager_options& options);

} // namespace colony::averaging
