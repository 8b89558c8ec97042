// actors/averaging/state_copy.hpp
#pragma once
// What an averager shares with peers that download its state: a copy taken
// in the averager's own actor, so no all-reduce writes it while it is sent.
#include "actors/averaging/state_transfer.hpp"
#include <string>
namespace colony::averaging {
struct state_copy {
  /// The owner's opaque metadata (e.g. its training step), sent as is.
  std::string metadata;
  /// Download priority: peers with higher priority are asked first.
  double priority = 0;
  /// The state as a snapshot whose parts are encoded straight from the
  /// averaged tensors (the one copy of the state a download needs).
  state_snapshot snapshot;
};
} // namespace colony::averaging
