#pragma once

// A fault-injection scenario (configs/harness/*.toml): the swarm to start
// (`[[nodes]]`, as in a swarm spec), a timeline of faults (`[[faults]]`)
// and the invariants the run must keep (`[[invariants]]`).

#include "apps/swarm/swarm_spec.hpp"

#include <caf/expected.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace colony::apps {

enum class fault_action {
  kill,      ///< SIGKILL
  freeze,    ///< SIGSTOP
  thaw,      ///< SIGCONT
  restart,   ///< start a killed node again: same identity, checkpoints, port
  delay,     ///< transport: added latency per message sent, with jitter
  drop,      ///< transport: a fraction of messages sent are lost
  partition, ///< transport: stop talking to a set of peers
  heal,      ///< transport: clear delay, drop and partition
  garbage,   ///< malformed bytes sent to the node's port
  poison,    ///< the node's experts answer NaN or wrong shapes (or off)
  start,     ///< start a node held back at launch (a late joiner)
};

[[nodiscard]] const char* to_string(fault_action action) noexcept;

/// Which nodes: by name (`server-2`), or a role with a fraction or count of
/// its members, drawn with the scenario's seed when the fault fires.
struct node_selector {
  /// Names given explicitly (then role/fraction/count are unused).
  std::vector<std::string> names;
  std::optional<swarm_role> role;
  /// Share of the role's eligible members, rounded up (at least one).
  std::optional<double> fraction;
  std::optional<size_t> count;

  [[nodiscard]] std::string describe() const;
};

/// One `[[faults]]` table.
struct fault_spec {
  fault_action action = fault_action::kill;
  /// `at`: seconds after training starts (all trainers up)...
  std::optional<double> at_s;
  /// ...or `at_step`: once the leading trainer reached this step.
  std::optional<uint64_t> at_step;
  /// `target` (a role or a node name, or a list of names), with `fraction`
  /// or `count`.
  node_selector targets;
  /// delay: `delay_ms`, `jitter_ms`.
  std::chrono::milliseconds delay{0};
  std::chrono::milliseconds jitter{0};
  /// drop: `drop_rate` in [0, 1].
  double drop_rate = 0;
  /// partition: `peers` (a role or names, with `peers_fraction` or
  /// `peers_count`).
  node_selector peers;
  /// garbage: `kinds` (random_bytes, truncated_frame, oversized_length,
  /// wrong_handshake; default all) and `repeat` (per kind).
  std::vector<std::string> garbage_kinds;
  size_t repeat = 1;
  /// poison: `mode` (nan, wrong_shape, off) and `experts` (uids; default
  /// all of each target's experts).
  std::string poison_mode = "nan";
  std::vector<std::string> poison_experts;
  /// Where it was written, for messages.
  std::string origin;
};

enum class invariant_kind {
  /// No process the harness did not kill exited with an error or a signal,
  /// and every surviving node answers at the end.
  no_crash,
  /// Trainers' loss falls after the last fault (`after` seconds if given):
  /// the mean of the last quarter of its reports is below the mean of the
  /// first quarter, times (1 + `tolerance`).
  loss_falls,
  /// Every trainer's final test accuracy is at least `min`.
  final_accuracy,
  /// Final accuracy at most `max_drop_points` below a fault-free run of
  /// the same swarm (the harness runs it first).
  accuracy_vs_baseline,
  /// The trainers' DHT gets (expert lookups) since the first fault found
  /// their key at least `min` of the time.
  dht_get_success,
  /// No surviving node's RSS grew by more than `max_percent` between
  /// `warmup` seconds into training and the end.
  rss_growth,
  /// Every trainer reached at least `min_steps` steps.
  trainer_progress,
  /// Each averaging group whose members all logged their round holds, per
  /// span, the weighted mean of some set of contributors (those whose
  /// values changed among them) or its own values, within `tolerance` on
  /// the span sums; at least `min` groups were checked so
  /// (apps/harness/averaging_invariants.hpp).
  averaging_exact,
  /// After every fault an averaging round succeeds within `within`
  /// seconds, and every surviving averaging node averages at least `min`
  /// times after the last fault.
  averaging_rounds,
  /// Collaborative trainers (apps/harness/collaborative_invariants.hpp):
  /// the swarm's epoch grows with no gap longer than `within` after
  /// `warmup`, reaches `min`, and every surviving trainer ends within one
  /// epoch of it.
  epoch_progress,
  /// After each kill or freeze of a trainer, every other trainer reaches
  /// the next epoch within `within` seconds.
  epoch_recovery,
  /// Trainers at the same epoch hold the same parameters, within
  /// `tolerance` (relative L2 distance); a disagreement heals within
  /// `heal_epochs` epochs; at least `min` epochs compared.
  parameters_agree,
  /// Each trainer started late or restarted reaches the swarm's epoch
  /// within `within` seconds by loading the state, and then agrees with
  /// the others at `min` epochs or more.
  joiner_catches_up,
  /// The trainers' training loss, pooled: the mean of the last quarter of
  /// the run below the mean of the first quarter (times 1 + `tolerance`),
  /// and every survivor's last-quarter mean below that first-quarter mean.
  swarm_loss_falls,
};

[[nodiscard]] const char* to_string(invariant_kind kind) noexcept;

/// One `[[invariants]]` table.
struct invariant_spec {
  invariant_kind kind = invariant_kind::no_crash;
  /// The bound the kind reads: min, max_drop_points, max_percent,
  /// min_steps.
  double threshold = 0;
  double tolerance = 0;
  std::optional<double> after_s;
  double warmup_s = 10;
  /// `within`: seconds (averaging_rounds: 30 if not given; the epoch
  /// invariants derive theirs from the trainers' settings if not given).
  std::optional<double> within_s;
  /// `heal_epochs`: parameters_agree.
  uint64_t heal_epochs = 3;
  std::string origin;
};

struct harness_scenario {
  /// `[scenario]`
  std::string name;
  std::string description;
  /// `duration`: seconds of training after all trainers are up; the run
  /// then stops the trainers (they evaluate) and everything else.
  double duration_s = 60;
  /// `sample_period`: seconds between status samples of every node.
  double sample_period_s = 1;
  /// `seed`: picks the nodes of fractional targets, and fault draws.
  uint64_t seed = 1;
  /// `start_timeout`: seconds a node may take to come up.
  double start_timeout_s = 120;
  swarm_spec swarm;
  std::vector<fault_spec> faults;
  std::vector<invariant_spec> invariants;
  std::string source_path;

  /// Whether an invariant needs a fault-free run first.
  [[nodiscard]] bool needs_baseline() const;

  /// The nodes a `start` fault names: held back at launch.
  [[nodiscard]] std::vector<std::string> held_back() const;
};

/// Parses a scenario. Errors (errc::bad_config), all of them at once, as
/// `SOURCE:LINE:COL: reason`: TOML syntax, unknown keys or actions, faults
/// without a time or a target, parameters out of range, a node name that
/// the swarm does not have.
[[nodiscard]] caf::expected<harness_scenario>
parse_harness_scenario(std::string_view toml_text, std::string_view source_name,
                       const std::string& base_dir);

/// Reads and parses the scenario at `path`.
[[nodiscard]] caf::expected<harness_scenario>
load_harness_scenario(const std::string& path);

/// The names the swarm's members get (`dht-1`, `server-2`, ...), in start
/// order, as swarm_launcher names them.
[[nodiscard]] std::vector<std::string> member_names(const swarm_spec& swarm);

} // namespace colony::apps
