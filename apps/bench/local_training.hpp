#pragma once

// What the training benchmarks share: a baseline run of the trainer's loop
// in the bench's own process, and the config files they write for the
// `colony` processes of their swarms.

#include "actors/trainer/trainer_options.hpp"

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <cstdint>
#include <string>

namespace colony::apps {

struct local_training_outcome {
  /// On the whole test split, after the last step.
  double accuracy = 0;
  uint64_t steps = 0;
  /// Wall time, loading the data and the evaluation included.
  double seconds = 0;
};

/// Trains `options` (no swarm: local experts) for `steps` steps in this
/// process, then evaluates. Errors: the training loop's.
[[nodiscard]] caf::expected<local_training_outcome>
train_locally(const trainer::trainer_options& options, uint64_t steps);

/// Writes `text` to `path`. Errors: io_error.
[[nodiscard]] caf::error write_text_file(const std::string& path,
                                         const std::string& text);

} // namespace colony::apps
