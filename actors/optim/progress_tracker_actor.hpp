#pragma once

// The progress tracker's actor: publishes this peer's record in the DHT
// when it changes (at most every report_period, at once for a new epoch,
// and every third of the record's lifetime regardless) and reads the
// others' records when the model says (its next_fetch_time), when this
// peer moves to a new epoch, or when asked.

#include "actors/optim/progress_tracker.hpp"

#include <caf/atom.hpp>

namespace colony::optim {

/// (progress_changed_atom): the model changed; publish it when due.
using progress_changed_atom = caf::atom_constant<caf::atom("pt_change")>;
/// (progress_epoch_atom): this peer moved to a new epoch.
using progress_epoch_atom = caf::atom_constant<caf::atom("pt_epoch")>;
/// (progress_refresh_atom) -> bool: read the records now; true once read.
using progress_refresh_atom = caf::atom_constant<caf::atom("pt_refr")>;
/// (progress_leave_atom) -> bool: publish that this peer left; true once a
/// DHT node took it.
using progress_leave_atom = caf::atom_constant<caf::atom("pt_leave")>;

struct progress_tracker_actor_config {
  progress_tracker_options options;
  caf::actor dht;
  peer_id self;
  std::shared_ptr<progress_tracker_shared> shared;
  std::shared_ptr<spdlog::logger> log;
};

[[nodiscard]] caf::actor
spawn_progress_tracker_actor(caf::actor_system& system,
                             progress_tracker_actor_config config);

} // namespace colony::optim
