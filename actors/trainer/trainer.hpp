#pragma once

// The trainer actor: runs a training loop (training_loop.hpp) step by step
// in a thread of its own, reports progress records to a listener, evaluates
// on the test split, and ends with one result. Between steps it answers
// status queries and stop requests, so a node (and later the harness's
// control service) can watch and steer it.

#include "actors/trainer/swarm_access.hpp"
#include "actors/trainer/trainer_options.hpp"
#include "actors/trainer/training_record.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace spdlog {
class logger;
}

namespace colony::trainer {

/// (trainer_status_atom) -> training_record: the latest progress record.
using trainer_status_atom = caf::atom_constant<caf::atom("tr_status")>;
/// (trainer_stop_atom): stop after the current step, evaluate on the whole
/// test split and finish.
using trainer_stop_atom = caf::atom_constant<caf::atom("tr_stop")>;
/// Internal: take the next step.
using trainer_step_atom = caf::atom_constant<caf::atom("tr_step")>;

/// How training ended; the last message a trainer sends its listener.
struct training_result {
  /// Empty if training ran to its end (steps, time or a stop request);
  /// otherwise why it gave up.
  std::string error;
  uint64_t steps = 0;
  uint64_t samples = 0;
  double seconds = 0;
  /// Of the final evaluation on the whole test split (0 if none ran).
  double test_accuracy = 0;
  double test_loss = 0;
  uint64_t test_samples = 0;
  /// Trainable parameters in the trainer's process.
  int64_t parameters = 0;
  /// Collaborative training: the epoch reached (0 otherwise).
  uint64_t epoch = 0;
};

struct trainer_config {
  trainer_options options;
  swarm_access swarm;
  /// Receives a `training_record` per progress report and evaluation, then
  /// one `training_result`. May be null.
  caf::actor listener;
  std::shared_ptr<spdlog::logger> log;
};

/// Spawns a trainer (detached: it computes and blocks on expert calls).
/// It loads the data, builds the model and starts at once. A step that
/// fails (no expert found, too few answers) is retried after a short pause;
/// once no step has succeeded for `options.wait_for_experts`, training ends
/// with an error. The actor quits after sending its result.
caf::actor spawn_trainer(caf::actor_system& system, trainer_config config);

} // namespace colony::trainer

// Records and results travel between local actors only.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(colony::trainer::training_record)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(colony::trainer::training_result)
