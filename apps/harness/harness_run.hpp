#pragma once

// What a fault-injection run recorded: per node, a timeline of status
// samples taken through its control service; the faults applied; the
// invariants checked. The report (JSON, plot, table) is made from it.

#include "actors/control/node_status.hpp"
#include "actors/trainer/parameter_digest.hpp"
#include "apps/harness/harness_scenario.hpp"
#include "apps/node/averaging_round_log.hpp"

#include <optional>
#include <string>
#include <vector>

namespace colony::apps {

/// One status sample of one node.
struct node_sample {
  /// Seconds since training started (negative: during start-up).
  double t = 0;
  /// The node answered within the sample's deadline.
  bool answered = false;
  control::node_status status;
  /// Why it did not answer.
  std::string error;
};

struct harness_node {
  std::string name;
  swarm_role role = swarm_role::dht;
  std::string address;
  std::string log_path;
  std::string metrics_csv;
  std::vector<node_sample> samples;
  /// Exit statuses, in order (a restarted node may exit more than once).
  std::vector<int> exits;
  /// Exits the harness caused (kill), or expected (a trainer that ended, a
  /// node stopped at the end): these are no crash.
  std::vector<int> expected_exits;
  /// Unexpected exits (status and time).
  std::vector<std::pair<int, double>> crashes;
  bool killed = false;
  bool frozen = false;
  /// Trainers: from the metrics CSV's last evaluation (the final one, on
  /// the whole test split) and its last record.
  std::optional<double> final_accuracy;
  uint64_t final_step = 0;
  /// Whether it answered the last status request before the end.
  bool answered_at_end = false;
  /// Logs of its earlier lives (a restart starts a new one).
  std::vector<std::string> past_logs;
  /// Averaging nodes: the round lines of all its logs, in order.
  std::vector<averaging_round_record> rounds;
  /// Collaborative trainers: the epoch lines of all its logs, in order.
  std::vector<trainer::parameter_digest> epochs;
};

/// The collaborative trainers' round settings (the largest over the
/// scenario's trainers), from which the epoch invariants derive their
/// bounds.
struct collaboration_settings {
  double matchmaking_s = 0;
  double averaging_timeout_s = 0;
};

struct applied_fault {
  double t = 0;
  fault_action action = fault_action::kill;
  std::vector<std::string> targets;
  std::string detail;
  bool ok = true;
  std::string error;
};

struct invariant_result {
  std::string kind;
  bool holds = false;
  /// The measured value and the bound it was held to.
  double measured = 0;
  double threshold = 0;
  std::string detail;
};

struct harness_run {
  std::string scenario;
  std::string source_path;
  /// Unix time the run started.
  double started_at = 0;
  /// Seconds of training (from trainers up to the end).
  double training_s = 0;
  /// Unix time at which training started (the origin of every `t`).
  double training_started_at = 0;
  bool interrupted = false;
  /// Why the run ended early, if it did (a start-up failure, ...).
  std::string failure;
  std::vector<harness_node> nodes;
  std::vector<applied_fault> faults;
  std::vector<invariant_result> invariants;
  /// Set if the scenario has collaborative trainers.
  std::optional<collaboration_settings> collaboration;
  /// The fault-free run's final accuracy per trainer, if one ran.
  std::optional<std::vector<double>> baseline_accuracy;

  [[nodiscard]] bool all_hold() const;
};

} // namespace colony::apps
