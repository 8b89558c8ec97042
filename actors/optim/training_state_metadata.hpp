#pragma once

// The metadata a collaborative optimizer shares with its state: the epoch
// and what the optimizer keeps besides tensors (step counts, learning
// rates), and how the downloaded tensors divide into parameters, optimizer
// state and extra tensors. Travels as messages/collaborative.capnp's
// TrainingStateMetadata inside a state download.

#include <caf/expected.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace colony::optim {

struct training_state_metadata {
  uint64_t epoch = 0;
  std::vector<int64_t> step_counts;
  std::vector<double> learning_rates;
  uint32_t parameter_count = 0;
  uint32_t optimizer_state_count = 0;
};

/// Most step counts or learning rates a metadata may carry (one per
/// parameter or group).
constexpr size_t max_metadata_entries = size_t{1} << 20;

[[nodiscard]] std::string encode(const training_state_metadata& metadata);

/// Errors: malformed (not a TrainingStateMetadata, more entries than
/// `max_metadata_entries`, a non-finite or negative learning rate or a
/// negative step count).
[[nodiscard]] caf::expected<training_state_metadata>
decode_training_state_metadata(const std::string& bytes);

} // namespace colony::optim
