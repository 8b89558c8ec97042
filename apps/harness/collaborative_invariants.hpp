#pragma once

// The invariants of a fault-injection run over collaborative trainers,
// checked against the epoch lines the trainers logged (one per epoch
// reached, with a digest of their parameters: parameter_digest.hpp) and
// the status samples. Pure: the tests feed them made-up runs.
//
// Several bounds derive from the trainers' settings when the scenario gives
// no `within`: an epoch needs the swarm to gather target_batch_size samples
// (the typical epoch, measured before the first fault), then one
// matchmaking of matchmaking_time and an all-reduce bounded by
// averaging_timeout. A peer that died or froze costs at most those two
// waits, so the bound is `matchmaking + averaging_timeout + 2 x typical
// epoch` (twice: the survivors also gather the dead peer's share).

#include "apps/harness/harness_run.hpp"
#include "apps/harness/harness_scenario.hpp"

#include <cstdint>
#include <utility>
#include <vector>

namespace colony::apps {

/// When the swarm's epoch (the largest any trainer logged) first reached
/// each new value: (seconds since training started, epoch), in order.
[[nodiscard]] std::vector<std::pair<double, uint64_t>>
global_epoch_steps(const harness_run& run);

/// The typical epoch (s): the median gap between the swarm's new epochs
/// before `before` (all of them if fewer than 3 gaps lie before it); 0
/// without two epochs.
[[nodiscard]] double
typical_epoch_s(const std::vector<std::pair<double, uint64_t>>& steps,
                double before);

/// The bound (s) the epoch invariants hold to: `spec.within_s` if given,
/// else derived as above from `run.collaboration`.
[[nodiscard]] double epoch_bound_s(const invariant_spec& spec,
                                   const harness_run& run);

/// epoch_progress: from `spec.warmup_s` to the end, no gap longer than the
/// bound without a new swarm epoch; the swarm reached epoch `spec.threshold`;
/// every trainer alive at the end last logged an epoch at most one behind
/// the swarm's.
[[nodiscard]] invariant_result epoch_progress(const invariant_spec& spec,
                                              const harness_run& run);

/// epoch_recovery: after each kill or freeze of a trainer, every trainer
/// that was running and not hit itself logs an epoch beyond the swarm's
/// epoch at the fault within the bound (also when none of them were
/// waiting on the victim: the bound is an upper one).
[[nodiscard]] invariant_result epoch_recovery(const invariant_spec& spec,
                                              const harness_run& run);

/// parameters_agree: at each epoch that two or more trainers logged, the
/// relative L2 distance of every pair's parameters is at most
/// `spec.tolerance` (default below); epochs that disagree come in runs of
/// at most `spec.heal_epochs` compared epochs (a round that fell back to
/// local gradients splits the peers until the next state averaging joins
/// them); at least `spec.threshold` (at least 1) epochs compared.
[[nodiscard]] invariant_result parameters_agree(const invariant_spec& spec,
                                                const harness_run& run);

/// joiner_catches_up: each trainer started by a `start` or `restart` fault
/// logs, within `spec.within_s` (default twice the epoch bound: a process
/// start and a state download come first) of that fault, an epoch at
/// least the swarm's at the fault, having loaded the state; and from then
/// on agrees with the other trainers (as parameters_agree) at the epochs
/// both logged, at least `spec.threshold` (at least 1) of them, the last
/// one included.
[[nodiscard]] invariant_result joiner_catches_up(const invariant_spec& spec,
                                                 const harness_run& run);

/// swarm_loss_falls: the training losses of every trainer, pooled, from
/// `spec.after_s` (default 0) to the end: the mean of the last quarter of
/// that time is below the mean of its first quarter times
/// (1 + `spec.tolerance`), and so is the last-quarter mean of every
/// trainer alive at the end.
[[nodiscard]] invariant_result swarm_loss_falls(const invariant_spec& spec,
                                                const harness_run& run);

/// parameters_agree's tolerance when the scenario gives none: a relative
/// L2 distance. Peers that averaged alike differ by rounding (about 1e-7);
/// one epoch of diverged Adam steps moves them 1e-3 apart and more.
constexpr double default_parameter_tolerance = 1e-4;

} // namespace colony::apps
