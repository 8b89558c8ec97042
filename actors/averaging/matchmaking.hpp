#pragma once

// Matchmaking: how averagers that declared themselves under one DHT group
// key gather into a group for an all-reduce round. A pure, event-driven
// state machine: the averager actor feeds it what happens (its own step,
// DHT answers, messages of other peers, timers) and performs the actions it
// returns (DHT stores and lookups, messages, timers, the outcome). No
// actors, no network, no clock: every input carries the time.
//
// The protocol, as hivemind's averagers behave:
// - A peer that looks for a group by its scheduled time T declares itself
//   under the group key (subkey: its peer id) until T, and withdraws by
//   storing a newer `false`. Client-mode peers never declare.
// - It asks, one at a time and earliest first, only the declared peers that
//   expire before it (ties: the smaller peer id first), so the earliest peer
//   of a key ends up leading. A client-mode peer asks any of them.
// - The asked peer accepts, or refuses with a reason (`refusal_reason`); a
//   peer that follows another suggests its own leader instead.
// - A leader assembles as soon as it has `target_group_size` members, or at
//   T if it has at least `min_group_size`; else it disbands its followers
//   and the step fails with errc::group_too_small. Assembling sends every
//   follower the group (random group id, members in a random order, each
//   with its gathered bytes, bandwidth and mode).
// - A peer accepted by a leader disbands its own followers, suggesting that
//   leader to them; a disbanded follower asks the suggested leader, or the
//   next candidate.
// - A leader that does not answer within `request_timeout`, or that
//   accepted but has not assembled by its expiration + `request_timeout`,
//   is given up (the machine asks for a timer and treats its expiry as a
//   failed request).

#include "actors/averaging/group_info.hpp"

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace colony::averaging {

/// Why a peer refused a join request.
enum class refusal_reason : uint8_t {
  /// It is not looking for a group now (or has just assembled one).
  not_looking_for_group,
  /// It has not declared itself and cannot lead (client mode).
  not_declared,
  /// The requester averages tensors of another schema.
  bad_schema_hash,
  /// The requester looks for a group under another key.
  bad_group_key,
  /// It expires later than the requester, who should lead instead.
  later_expiration,
  /// It follows another leader (see the suggested leader).
  not_a_leader,
  /// The requester is already its follower, or is itself.
  duplicate_peer,
  /// Its group has `target_group_size` (or `max_group_members`) members.
  group_full,
};

/// Returns the stable name of `reason`, e.g. "later_expiration".
[[nodiscard]] const char* to_string(refusal_reason reason) noexcept;

/// A peer's request to join the group of the peer it sends it to.
struct join_request {
  /// The requester; its id is the caller the transport authenticated.
  peer_contact peer;
  /// Identifies the averaged tensors (names, shapes, dtypes); only peers of
  /// one schema average together.
  std::string schema_hash;
  std::string group_key;
  /// The requester's scheduled time T (DHT time, seconds).
  double expiration = 0;
  peer_mode mode = peer_mode::node;
  std::optional<double> bandwidth;
  /// The bytes the requester asks to gather, opaque.
  std::string gathered;
};

/// The answer to a join request.
struct join_response {
  bool accepted = false;
  /// Why it was refused (when not accepted).
  refusal_reason reason = refusal_reason::not_looking_for_group;
  /// The leader to ask instead (with `not_a_leader`).
  std::optional<peer_contact> suggested_leader;

  [[nodiscard]] static join_response accept() {
    join_response r;
    r.accepted = true;
    return r;
  }
  [[nodiscard]] static join_response
  refuse(refusal_reason reason,
         std::optional<peer_contact> suggested = std::nullopt) {
    join_response r;
    r.reason = reason;
    r.suggested_leader = std::move(suggested);
    return r;
  }
};

/// A peer found declared under the group key: a potential leader.
struct group_candidate {
  peer_contact peer;
  /// Its declaration's expiration: its scheduled time T (DHT time).
  double expiration = 0;
};

/// Settings of a `matchmaking` machine.
struct matchmaking_options {
  /// This peer (its address empty in client mode).
  peer_contact self;
  peer_mode mode = peer_mode::node;
  /// Its bandwidth, passed to the group for partitioning.
  std::optional<double> bandwidth;
  /// See `join_request::schema_hash`.
  std::string schema_hash;
  /// Members at which a leader assembles at once; nullopt: as many as
  /// gather by T.
  std::optional<size_t> target_group_size;
  /// Members a leader needs at T to assemble rather than disband.
  size_t min_group_size = 2;
  /// Seconds a potential leader has to answer a join request, and that an
  /// accepted follower waits past its leader's expiration.
  double request_timeout_s = 3;
  /// Least seconds between two lookups of the group key while no candidate
  /// is left to ask.
  double candidate_refresh_s = 1;
  /// Seeds the generator of group ids and member orders (the actor draws it
  /// from a random source; tests fix it).
  uint64_t seed = 0;
};

// -- actions the averager actor performs ------------------------------------

/// Store a declaration: `peer` looks for a group under `key` until
/// `expiration` (subkey: its base58 peer id; value: a `group_declaration`
/// that is looking, with its address).
struct declare_in_dht {
  std::string key;
  peer_contact peer;
  double expiration = 0;
};

/// Store a `group_declaration` that is not looking under `key`, subkey
/// `peer`, with an expiration just newer than the declaration's, so that it
/// replaces the declaration.
struct withdraw_from_dht {
  std::string key;
  peer_id peer;
  double expiration = 0;
};

/// Look up the peers declared under `key` and answer with `on_candidates`
/// (an empty list if the lookup fails).
struct find_candidates {
  std::string key;
};

/// Ask `to` to lead: answer with `on_join_response`, or `on_request_failed`
/// if the call fails.
struct send_join_request {
  peer_contact to;
  join_request request;
};

/// Wait for the word of the leader `to`, which accepted this peer (over
/// the wire: call its `awaitGroup`); answer with `on_begin_all_reduce` or
/// `on_disband`, or `on_request_failed` if the call fails.
struct await_group {
  peer_contact to;
};

/// Answer the join request of `to`.
struct send_join_response {
  peer_id to;
  join_response response;
};

/// Tell the accepted follower `to` that the group is assembled (over the
/// wire: the answer to its `awaitGroup`).
struct send_begin_all_reduce {
  peer_contact to;
  group_info group;
};

/// Tell the accepted follower `to` that its group is disbanded (over the
/// wire: the answer to its `awaitGroup`); it may ask `suggested_leader`
/// instead.
struct send_disband {
  peer_contact to;
  std::optional<peer_contact> suggested_leader;
};

/// Tell the leader `to` that this peer no longer follows it.
struct send_leave {
  peer_contact to;
};

/// Call `on_timer(now, id)` at `at` (DHT time). Timers are never cancelled:
/// the machine ignores those it no longer waits for.
struct start_timer {
  uint64_t id = 0;
  double at = 0;
};

/// The search ended in a group; `led` if this peer assembled it.
struct group_formed {
  group_info group;
  bool led = false;
};

/// The search ended without a group.
struct group_failed {
  caf::error error;
};

/// One thing for the averager actor to do.
using matchmaking_action =
    std::variant<declare_in_dht, withdraw_from_dht, find_candidates,
                 send_join_request, await_group, send_join_response,
                 send_begin_all_reduce, send_disband, send_leave, start_timer,
                 group_formed, group_failed>;

/// What an input asks the actor to do, in order.
using matchmaking_actions = std::vector<matchmaking_action>;

/// The matchmaking of one averager: one search at a time (`look_for_group`),
/// ended by `group_formed` or `group_failed`. Not thread-safe: its actor
/// owns it. Every input takes `now` (DHT time, seconds).
class matchmaking {
 public:
  explicit matchmaking(matchmaking_options options);

  /// Starts a search for a group under `group_key` by `scheduled_time` T,
  /// gathering `gathered` to the group. If this peer leads, it assembles as
  /// soon as `expected_group_size` members joined (if given; e.g. the peers
  /// a progress tracker knows to be due), besides `target_group_size` and
  /// T. Errors: errc::invalid_argument if a search is under way.
  [[nodiscard]] caf::expected<matchmaking_actions>
  look_for_group(double now, double scheduled_time, std::string group_key,
                 std::string gathered,
                 std::optional<size_t> expected_group_size = std::nullopt);

  /// The peers declared under `group_key` (withdrawn ones left out), the
  /// answer to `find_candidates`; answers for another key are ignored.
  [[nodiscard]] matchmaking_actions
  on_candidates(double now, const std::string& group_key,
                const std::vector<group_candidate>& candidates);

  /// A peer asks to join this peer's group; the actions answer it.
  [[nodiscard]] matchmaking_actions
  on_join_request(double now, const join_request& request);

  /// The peer this one asked answered.
  [[nodiscard]] matchmaking_actions
  on_join_response(double now, const peer_id& from,
                   const join_response& response);

  /// A call to `to` (a join request, or the wait for its group) failed.
  [[nodiscard]] matchmaking_actions on_request_failed(double now,
                                                      const peer_id& to);

  /// The leader `from` assembled `group`.
  [[nodiscard]] matchmaking_actions
  on_begin_all_reduce(double now, const peer_id& from, const group_info& group);

  /// The leader `from` disbanded its group, suggesting `suggested_leader`.
  [[nodiscard]] matchmaking_actions
  on_disband(double now, const peer_id& from,
             const std::optional<peer_contact>& suggested_leader);

  /// The follower `from` left this peer's group.
  [[nodiscard]] matchmaking_actions on_leave(double now, const peer_id& from);

  /// A timer this machine started expired.
  [[nodiscard]] matchmaking_actions on_timer(double now, uint64_t id);

  /// Ends the search now (the step's timeout, shutdown): followers are
  /// disbanded, the leader left, the declaration withdrawn, and the search
  /// fails with `reason`. Nothing happens if no search is under way.
  [[nodiscard]] matchmaking_actions cancel(double now, caf::error reason);

  /// True while a search is under way.
  [[nodiscard]] bool looking() const noexcept { return looking_; }

  /// The leader this peer follows (accepted by it), if any.
  [[nodiscard]] std::optional<peer_id> leader() const;

  /// The followers this peer has accepted in the current search.
  [[nodiscard]] size_t follower_count() const noexcept {
    return followers_.size();
  }

  [[nodiscard]] const matchmaking_options& options() const noexcept {
    return options_;
  }

 private:
  /// The peer this one asked to lead, or follows.
  struct asked_leader {
    peer_contact peer;
    /// Its expiration, if known from its declaration.
    std::optional<double> expiration;
    /// The timer that gives it up.
    uint64_t timer = 0;
    bool accepted = false;
  };

  /// Why a join request from `request` is refused, if it is.
  [[nodiscard]] std::optional<join_response>
  check_request(const join_request& request) const;

  /// Asks the next candidate, or looks for more, or ends at T.
  void advance(double now, matchmaking_actions& out);

  /// Sends a join request to `leader`.
  void ask(double now, const peer_contact& leader,
           std::optional<double> expiration, matchmaking_actions& out);

  /// At or after T, with no leader to wait for: assemble or fail.
  void conclude(double now, matchmaking_actions& out);

  /// Assembles the group of this peer and its followers.
  void assemble(matchmaking_actions& out);

  /// Sends every follower away, suggesting `suggested_leader`.
  void disband(const std::optional<peer_contact>& suggested_leader,
               matchmaking_actions& out);

  /// Ends the search: withdraws the declaration and resets.
  void finish(matchmaking_actions& out);

  /// Asks the leader another peer suggested, unless asked already.
  void redirect(double now, const peer_contact& suggested,
                matchmaking_actions& out);

  /// Looks up the candidates under the group key.
  void lookup(double now, matchmaking_actions& out);

  uint64_t timer(double at, matchmaking_actions& out);

  /// True if (expiration, id) comes before this peer's (T, id).
  [[nodiscard]] bool precedes_self(double expiration,
                                   const peer_id& id) const noexcept;

  matchmaking_options options_;
  std::mt19937_64 rng_;
  uint64_t next_timer_ = 1;

  // The current search.
  bool looking_ = false;
  double scheduled_time_ = 0;
  std::string group_key_;
  std::string gathered_;
  std::optional<size_t> expected_group_size_;
  uint64_t deadline_timer_ = 0;
  uint64_t refresh_timer_ = 0;
  bool lookup_pending_ = false;
  double last_lookup_ = 0;
  /// Candidates still to ask, earliest first.
  std::vector<group_candidate> queue_;
  /// Declarations asked already: (peer, expiration).
  std::set<std::pair<peer_id, double>> attempted_;
  /// Peers asked in this search: a suggestion is followed only to a peer
  /// not asked yet, and a late acceptance is answered with a leave.
  std::map<peer_id, peer_contact> asked_;
  std::optional<asked_leader> leader_;
  std::vector<join_request> followers_;
};

} // namespace colony::averaging
