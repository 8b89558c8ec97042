#pragma once

// Runs one fault-injection scenario: starts its swarm as real processes on
// loopback, samples every node's status through its control service, fires
// the faults on time, stops everything, and checks the invariants.

#include "apps/harness/harness_run.hpp"
#include "apps/harness/harness_scenario.hpp"

#include <functional>
#include <string>

namespace colony::apps {

struct harness_options {
  /// The `colony` executable the nodes run.
  std::string colony_binary;
  /// Logs, address files, identities, checkpoints, metrics, the report.
  std::string out_dir;
  /// Without faults: the fault-free reference run.
  bool inject_faults = true;
  /// Progress lines (start-up, faults, samples) for the user.
  std::function<void(const std::string&)> say;
};

/// Runs `scenario` once. Never leaves a process behind, also when a
/// shutdown signal (SIGINT, SIGTERM; blocked by the caller) interrupts it.
/// Failures to start the swarm end the run with `failure` set. Invariants
/// are left to the caller (a baseline run may be needed first).
[[nodiscard]] harness_run run_harness(const harness_scenario& scenario,
                                      const harness_options& options);

} // namespace colony::apps
