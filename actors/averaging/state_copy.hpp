// actors/averaging/state_copy.hpp
#pragma once
// What an averager shares with peers that download its state: a copy taken
// in the averager's own actor, so no all-reduce writes it while it is sent.
#include "actors/averaging/state_transfer.hpp"
#include <cstdint>
#include <string>

#include <optional>
#include <torch/types.h>
#include <vector>
namespace colony::averaging {
struct state_copy {
  /// The owner's opaque metadata (e.g. its training step), sent as is.
  std::string metadata;
  /// Clones of the averaged tensors, in the averager's order.
  std::vector<torch::Tensor> tensors;
  /// Download priority: peers with higher priority are asked first.
  double priority = 0;
  /// Asked with a part plan: the state as a snapshot whose parts are
  /// encoded straight from the averaged tensors (no clone; `tensors` is
  /// then empty).
  std::optional<state_snapshot> snapshot;
};
} // namespace colony::averaging
