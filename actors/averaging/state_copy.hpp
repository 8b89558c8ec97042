// actors/averaging/state_copy.hpp
#pragma once
// What an averager shares with peers that download its state: a copy taken
// in the averager's own actor, so no all-reduce writes it while it is sent.
#include <cstdint>
#include <string>
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
};
} // namespace colony::averaging
