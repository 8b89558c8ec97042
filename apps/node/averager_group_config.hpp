#pragma once

#include "actors/averaging/averager_options.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace colony {

/// One `[[averagers]]` table of a node config: an averager of a synthetic
/// tensor set the node creates itself (for tests, benchmarks and the
/// harness; a program averages its own tensors through the library).
/// The averager's keys carry hivemind's names and defaults
/// (actors/averaging/averager_options.hpp).
struct averager_group_config {
  averaging::averager_options options;
  /// `floats`: float32 elements of the tensor set.
  uint64_t floats = 1'000'000;
  /// `tensors`: how many tensors the elements are split into (the last
  /// takes the remainder).
  size_t tensors = 1;
  /// `seed`: the tensors start as normal noise from this seed (0: from the
  /// node's peer id, so every node starts elsewhere).
  uint64_t seed = 0;
  /// `average_period`: seconds between the steps the node takes by itself
  /// (`colony run`); 0: none (`colony average` steps on its own count).
  std::chrono::milliseconds average_period{0};
  /// `step_timeout`: how long a step may look for a group.
  std::chrono::milliseconds step_timeout{30000};
  /// `weight`: this node's weight in every step.
  double weight = 1;
  /// `perturb`: standard deviation of normal noise added to every element
  /// before each step the node takes by itself, as a training step would
  /// change the tensors (0: none). Keeps rounds after the first telling:
  /// copies that already agree would average to themselves.
  double perturb = 0;
  /// `log_rounds`: after each step the node takes by itself, log a round
  /// line (apps/node/averaging_round_log.hpp) with the span sums before
  /// and after; costs a float64 copy of the tensors per step.
  bool log_rounds = false;
};

} // namespace colony
