#pragma once

// progress_tracker: hivemind's ProgressTracker. Each trainer of a run
// publishes its epoch, the samples it accumulated in it and its throughput
// under `{run_id}_progress` in the DHT (signed with its key), reads the
// others' now and then, and so knows the swarm's epoch, how far it is to
// `target_batch_size` and when it will get there.
//
// An actor does the DHT work (progress_tracker_actor.hpp); this blocking
// façade is for the training thread: reporting and reading the swarm's
// progress cost no message round trip (they share the model under a lock).

#include "actors/optim/global_progress.hpp"
#include "actors/optim/progress_model.hpp"
#include "runtime/identity.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

namespace spdlog {
class logger;
}

namespace colony::optim {

struct progress_tracker_options {
  /// Required: the run's name (progress goes under `{run_id}_progress`).
  std::string run_id;
  uint64_t target_batch_size = 1;
  bool client_mode = false;
  std::chrono::milliseconds min_refresh_period{500};
  std::chrono::milliseconds max_refresh_period{10000};
  /// Between reads while no throughput is known yet.
  std::chrono::milliseconds default_refresh_period{3000};
  /// Lifetime of a published record (hivemind's metadata_expiration); it is
  /// published again every third of it while nothing changes.
  std::chrono::milliseconds metadata_expiration{60000};
  /// Least time between two publications of the same epoch's progress (a
  /// new epoch is published at once).
  std::chrono::milliseconds report_period{250};
  /// Bound of one DHT request.
  std::chrono::milliseconds dht_timeout{5000};
};

/// The model and its lock, shared by the façade and the actor.
struct progress_tracker_shared {
  progress_tracker_shared(progress_model_options o, double now)
      : model(o, now) {}
  std::mutex lock;
  progress_model model;
};

class progress_tracker {
 public:
  /// Spawns the tracker's actor on `system`, publishing through `dht` (a
  /// dht_node whose identity is `me`: it signs the records). Errors:
  /// invalid_argument (no run id, target 0, periods out of order).
  static caf::expected<std::unique_ptr<progress_tracker>>
  create(caf::actor_system& system, caf::actor dht,
         std::shared_ptr<const identity> me, progress_tracker_options options,
         std::shared_ptr<spdlog::logger> log);

  /// Publishes that this peer left (others stop counting it at once) and
  /// stops the actor. Blocks at most dht_timeout.
  ~progress_tracker();

  progress_tracker(const progress_tracker&) = delete;
  progress_tracker& operator=(const progress_tracker&) = delete;

  /// This peer is at `epoch` with `samples` accumulated in it.
  void report_local_progress(uint64_t epoch, uint64_t samples);

  /// This peer moved on to `epoch` (published at once, and the swarm's
  /// records are read again).
  void update_epoch(uint64_t epoch);

  /// `peers` moved on to `epoch` with this peer (its averaging round's
  /// members): see progress_model::assume_moved_on.
  void peers_moved_on(const std::vector<peer_id>& peers, uint64_t epoch);

  /// The swarm's progress from the records last read and this peer's now.
  [[nodiscard]] global_progress global() const;

  /// Reads the records now; waits at most `timeout`. Errors: the DHT's,
  /// or timeout.
  caf::expected<global_progress> refresh(std::chrono::milliseconds timeout);

  [[nodiscard]] const caf::actor& actor() const noexcept { return actor_; }

 private:
  progress_tracker(caf::actor_system& system, caf::actor actor,
                   std::shared_ptr<progress_tracker_shared> shared,
                   std::chrono::milliseconds dht_timeout);

  caf::actor_system& system_;
  caf::actor actor_;
  std::shared_ptr<progress_tracker_shared> shared_;
  std::chrono::milliseconds dht_timeout_;
};

} // namespace colony::optim
