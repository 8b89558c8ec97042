#pragma once

// The averager actor's state and the functions its parts share
// (averager.cpp: steps and the message table; averager_matchmaking.cpp:
// matchmaking through the DHT and the transport; averager_allreduce.cpp:
// the all-reduce round). Only the averager includes this.

#include "actors/averaging/allreduce_messages.hpp"
#include "actors/averaging/averager.hpp"
#include "actors/averaging/averager_status.hpp"
#include "actors/averaging/averaging_atoms.hpp"
#include "actors/averaging/matchmaking.hpp"
#include "actors/averaging/matchmaking_codec.hpp"
#include "actors/averaging/part_applier.hpp"
#include "actors/averaging/part_reducer.hpp"
#include "actors/averaging/tensor_parts.hpp"
#include "messages/envelope.hpp"

#include <caf/atom.hpp>
#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>
#include <spdlog/logger.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace colony::averaging::detail {

// Internal messages of the averager.

/// (mm_timer_atom, timer id): a matchmaking timer expired.
using mm_timer_atom = caf::atom_constant<caf::atom("avg_mmtime")>;
/// (retry_atom, step serial): look for a group again.
using retry_atom = caf::atom_constant<caf::atom("avg_retry")>;
/// (step_deadline_atom, step serial): the step's search time is over.
using step_deadline_atom = caf::atom_constant<caf::atom("avg_sdead")>;
/// (round_tick_atom, round serial): check for silent senders.
using round_tick_atom = caf::atom_constant<caf::atom("avg_rtick")>;
/// (round_deadline_atom, round serial): `allreduce_timeout` passed.
using round_deadline_atom = caf::atom_constant<caf::atom("avg_rdead")>;
/// (held_sweep_atom): refuse all-reduce calls held too long for a round.
using held_sweep_atom = caf::atom_constant<caf::atom("avg_hsweep")>;

using steady_clock = std::chrono::steady_clock;

/// Parts a sender keeps unanswered per reducer: enough to keep a reducer
/// busy while deltas travel back, few enough that a reducer holds only a
/// handful of parts per sender.
constexpr uint32_t parts_in_flight = 8;

/// All-reduce calls held for a round not started here yet, at most.
constexpr size_t max_held_calls = 4096;

/// Group ids of finished rounds remembered, to refuse their late calls at
/// once.
constexpr size_t finished_rounds_kept = 16;

/// A step under way.
struct step_task {
  uint64_t serial = 0;
  caf::response_promise promise;
  step_request request;
  /// DHT time until which the step looks for a group (infinity: one
  /// search, no retries).
  double deadline = std::numeric_limits<double>::infinity();
  /// The scheduled time T of the current search.
  double scheduled_time = 0;
  std::string group_key;
  /// When the step began and its group formed; `status.bytes_sent` then.
  steady_clock::time_point began;
  steady_clock::time_point group_formed;
  uint64_t bytes_sent_before = 0;
};

/// A follower this peer accepted, waiting for its leader's word.
struct follower_slot {
  /// Its `awaitGroup` call, once it came.
  std::optional<caf::response_promise> await;
  /// The word, if it was given before the call came.
  std::optional<leader_message> word;
  steady_clock::time_point since;
};

/// An all-reduce call that came before its round started here.
struct held_call {
  peer_id caller;
  reducer_request request;
  caf::response_promise promise;
  steady_clock::time_point arrived;
};

/// One sender as this peer's reducer sees it.
struct sender_inbox {
  /// Parts that came ahead of their turn (the transport may reorder calls
  /// whose bodies travel in several frames), fed once their turn comes.
  std::map<uint32_t, std::pair<part_message, caf::response_promise>> ahead;
  /// The next part index to feed the reducer.
  uint32_t next = 0;
  /// Parts fed and not answered yet: while any, the sender waits for this
  /// reducer, not the other way round.
  size_t unanswered = 0;
  /// When it was last heard from or answered.
  steady_clock::time_point last_heard;
};

/// This peer's parts on their way to one reducer.
struct outgoing_stream {
  uint32_t next = 0;
  uint32_t in_flight = 0;
  /// No more parts go to this reducer (all sent, it failed or refused).
  bool stopped = false;
};

/// One all-reduce round.
struct round_state {
  uint64_t serial = 0;
  group_info group;
  /// `group.id` as the wire's bytes.
  std::string group_id;
  /// This peer's index in the group.
  uint32_t me = 0;
  bool contributes = true;
  double weight = 1;
  round_timeouts timeouts;
  tensor_parts parts;
  /// This peer's parts (null for an auxiliary peer); refers to `parts`,
  /// so a round is never moved (it lives behind a unique_ptr).
  std::optional<part_applier> applier;
  /// This peer's span (null if empty).
  std::optional<part_reducer> reducer;
  std::vector<sender_inbox> inboxes;
  /// Promises of fed parts by (sender, part index).
  std::map<std::pair<uint32_t, uint32_t>, caf::response_promise> replies;
  /// Per reducer (member index).
  std::vector<outgoing_stream> streams;
  /// This peer's own parts fed to its own reducer, and own-span parts
  /// settled.
  uint32_t own_fed = 0;
  uint32_t own_settled = 0;

  explicit round_state(tensor_parts p) : parts(std::move(p)) {}
};

struct averager_state {
  static inline const char* name = "averager";

  averager_config config;
  std::string matchmaking_service;
  std::string allreduce_service;
  std::string schema_hash;
  part_options part_opts;
  std::string group_bits;
  std::unique_ptr<matchmaking> machine;
  averager_status status;

  // -- the step -------------------------------------------------------------
  std::optional<step_task> step;
  uint64_t next_step_serial = 1;

  // -- matchmaking ----------------------------------------------------------
  /// Join calls waiting for the machine's answer, by caller.
  std::map<peer_id, caf::response_promise> joins;
  /// Accepted followers, by peer.
  std::map<peer_id, follower_slot> followers;

  // -- all-reduce -----------------------------------------------------------
  std::unique_ptr<round_state> round;
  uint64_t next_round_serial = 1;
  std::deque<held_call> held;
  bool held_sweep_armed = false;
  std::deque<std::string> finished_rounds;

  // -- state sharing --------------------------------------------------------
  std::string state_metadata;
  double state_priority = 0;
  /// Encoded snapshots asked for during a round: (promise, id, plan).
  std::vector<std::tuple<caf::response_promise, uint64_t, part_options>>
      deferred_snapshots;
};

using averager_actor = caf::stateful_actor<averager_state>;

/// The averager's logger (its lines carry the node id).
inline spdlog::logger& log(averager_actor* self) {
  return *self->state.config.log;
}

/// Seconds on the DHT's clock.
[[nodiscard]] double now_dht();

/// The node's short id, for log lines.
[[nodiscard]] std::string who(const averager_actor* self);

// -- averager.cpp -------------------------------------------------------------

/// The search ended in a group: runs the round.
void on_group_formed(averager_actor* self, const group_info& group, bool led);

/// The search ended without a group: retries or fails the step.
void on_group_failed(averager_actor* self, caf::error error);

/// Ends the step with `result` (or its error) and the round with it.
void finish_step(averager_actor* self, caf::expected<step_result> result);

// -- averager_matchmaking.cpp ------------------------------------------------

/// Performs what the matchmaking machine asked for.
void perform(averager_actor* self, const matchmaking_actions& actions);

/// Serves a call to `averager/<prefix>/matchmaking`.
caf::result<envelope> serve_matchmaking(averager_actor* self,
                                        const peer_id& caller,
                                        const envelope& body);

// -- averager_allreduce.cpp --------------------------------------------------

/// Starts the round of `group`. Errors: allreduce_failed (a group this
/// peer cannot average with).
[[nodiscard]] caf::error start_round(averager_actor* self,
                                     const group_info& group);

/// Serves a call to `averager/<prefix>/allreduce`.
caf::result<envelope> serve_allreduce(averager_actor* self,
                                      const peer_id& caller,
                                      const envelope& body);

/// Checks for senders silent past `sender_timeout`.
void on_round_tick(averager_actor* self, uint64_t serial);

/// `allreduce_timeout` passed: settles what is left.
void on_round_deadline(averager_actor* self, uint64_t serial);

/// Refuses held calls whose round did not start in time.
void sweep_held(averager_actor* self);

} // namespace colony::averaging::detail
