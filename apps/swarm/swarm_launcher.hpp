#pragma once

// Starts the processes of a swarm spec on loopback, in role order, and
// stops every one of them when it goes away (also on an early return or an
// exception), so no run leaves a process behind.

#include "apps/swarm/child_process.hpp"
#include "apps/swarm/swarm_spec.hpp"

#include <caf/error.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace colony::apps {

/// One running process of the swarm.
struct swarm_member {
  /// e.g. `server-2`: role and 1-based index within the role.
  std::string name;
  swarm_role role = swarm_role::dht;
  child_process process;
  /// Its `listening on` address, once known (trainers: after joining).
  std::string address;
  /// Its stdout and stderr.
  std::string log_path;
  /// Trainers: the metrics CSV it writes.
  std::string metrics_csv;
  /// Where a trainer writes its own parameters at the end.
  std::string final_parameters;
  /// Set once the process has exited (its status).
  std::optional<int> exit_status;
  /// How it was started, to start it again the same way.
  std::vector<std::string> argv;
  std::string address_file;
  /// Times it was restarted.
  size_t restarts = 0;
  /// Held back at launch and not started yet (see `hold_back`): it has
  /// its arguments but no process.
  bool held = false;
};

class swarm_launcher {
 public:
  /// Processes run `colony_binary`; logs, address files and metrics go to
  /// `work_dir` (created if missing).
  swarm_launcher(std::string colony_binary, std::string work_dir);

  /// Stops every process (SIGTERM, then SIGKILL after a grace period).
  ~swarm_launcher();

  swarm_launcher(const swarm_launcher&) = delete;
  swarm_launcher& operator=(const swarm_launcher&) = delete;

  /// Starts `spec`'s nodes: DHT nodes and servers one at a time, each
  /// waited for until its address file appears (within
  /// `start_timeout`), then all trainers. `extra` adds overrides per role.
  /// `on_started(member, started, total)` is called after each start.
  /// Errors: a process that cannot start or exits (or stays silent) before
  /// announcing its address; the message names it and its log.
  caf::error
  start(const swarm_spec& spec,
        const std::vector<std::pair<swarm_role, std::string>>& extra = {},
        const std::function<void(const swarm_member&, size_t, size_t)>&
            on_started = {},
        std::chrono::milliseconds start_timeout = std::chrono::seconds(120));

  /// Gives every member started from now on a state of its own in the work
  /// dir, kept across restarts: its identity (`NAME.key`) and, for servers,
  /// its checkpoints (`NAME-checkpoints/`).
  void keep_member_state(bool keep) noexcept { keep_member_state_ = keep; }

  /// Members with these names (`trainer-4`) are prepared by `start` but
  /// not started; `start_held` starts them later (late joiners).
  void hold_back(std::vector<std::string> names) {
    held_back_ = std::move(names);
  }

  /// Starts a held-back member and waits for its address.
  caf::error start_held(swarm_member& m, std::chrono::milliseconds timeout);

  /// Waits until `m` announced its address (trainers announce theirs after
  /// joining the swarm, so `start` does not wait for them).
  caf::error await_address(swarm_member& m, std::chrono::milliseconds timeout);

  /// Starts an exited member again with the same arguments and, if it had
  /// one, the same listen address; waits for its address. Its new log is
  /// `NAME-rN.log`.
  caf::error restart(swarm_member& m, std::chrono::milliseconds timeout);

  /// Members in start order.
  [[nodiscard]] std::vector<swarm_member>& members() noexcept {
    return members_;
  }

  /// Records the exit status of members that have exited; returns them.
  std::vector<swarm_member*> poll_exited();

  /// Stops every member still running, trainers first (so they see their
  /// experts until the end), then servers, then DHT nodes.
  void stop_all(std::chrono::milliseconds grace = std::chrono::seconds(10));

  /// The bootstrap address (the first DHT node's), once started.
  [[nodiscard]] const std::string& bootstrap() const noexcept {
    return bootstrap_;
  }

 private:
  caf::error start_one(swarm_role role, size_t index, const std::string& config,
                       std::vector<std::string> overrides, bool wait,
                       std::chrono::milliseconds timeout);

  std::string binary_;
  std::string work_dir_;
  std::string bootstrap_;
  std::vector<swarm_member> members_;
  bool keep_member_state_ = false;
  std::vector<std::string> held_back_;
};

} // namespace colony::apps
