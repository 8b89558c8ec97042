#pragma once

// The trainer's work without the actor: data, model, optimizer, one step at
// a time and test-set evaluation. The trainer actor drives it; tests and
// benchmarks drive it directly. LibTorch stays behind this header.

#include "actors/moe/client/expert_calls.hpp"
#include "actors/optim/collaborative_optimizer.hpp"
#include "actors/trainer/parameter_digest.hpp"
#include "actors/trainer/swarm_access.hpp"
#include "actors/trainer/trainer_options.hpp"

#include <caf/expected.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace colony::trainer {

/// What one training step did.
struct step_outcome {
  /// Cross-entropy of the batch (without the auxiliary loss).
  double loss = 0;
  /// Samples in the batch.
  uint64_t samples = 0;
  /// Remote experts that answered this step's forward (sorted uids).
  std::vector<std::string> answered_experts;
  /// Collaborative training: the epoch after the step, whether the step
  /// ended one, and the seconds it spent averaging.
  uint64_t epoch = 0;
  bool epoch_changed = false;
  double averaging_s = 0;
  double swarm_samples_per_s = 0;
  /// Collaborative training: the step loaded the swarm's state (this peer
  /// was behind) instead of training.
  bool loaded_state = false;
};

/// Accuracy on (part of) the test split.
struct evaluation {
  double accuracy = 0;
  double loss = 0;
  uint64_t samples = 0;
};

class training_loop {
 public:
  /// Loads the dataset (filtered to `options.classes`) and builds the model
  /// and its Adam optimizer. Errors: io_error or malformed (dataset),
  /// invalid_argument (options that make no model, e.g. a bad grid).
  [[nodiscard]] static caf::expected<std::unique_ptr<training_loop>>
  make(const trainer_options& options, const swarm_access& swarm);

  ~training_loop();
  training_loop(const training_loop&) = delete;
  training_loop& operator=(const training_loop&) = delete;

  /// One optimizer step on the next batch (the training split is reshuffled
  /// every epoch). A failed step (e.g. no expert found, too few answers)
  /// returns the error and changes no parameter; the next step may succeed.
  caf::expected<step_outcome> step();

  /// Evaluates on the first `max_samples` test samples (0: all), in eval
  /// mode and without gradients.
  caf::expected<evaluation> evaluate(uint64_t max_samples = 0);

  /// Steps taken (successful ones).
  [[nodiscard]] uint64_t steps() const noexcept;

  /// Training samples seen by successful steps.
  [[nodiscard]] uint64_t samples_seen() const noexcept;

  /// The remote layers' calls so far.
  [[nodiscard]] moe::expert_call_stats call_stats() const;

  /// Trainable parameters of the model in this process (the trainer's own;
  /// with local experts, theirs too).
  [[nodiscard]] int64_t parameter_count() const;

  /// The collaborative optimizer's status (nullopt unless `collaborative`).
  [[nodiscard]] std::optional<optim::collaborative_status>
  collaboration() const;

  /// Writes the parameters of the model in this process, flat float32
  /// little-endian in `parameters()` order, to `path`. Errors: io_error.
  caf::error write_parameters(const std::string& path) const;

  /// The norm and sketch of the same flat vector (parameter_digest.hpp);
  /// the caller fills in time and epoch. Reads a consistent copy (under
  /// the collaborative optimizer's lock). Costs a pass over the
  /// parameters.
  [[nodiscard]] parameter_digest digest_parameters() const;

  /// Collaborative training: waits for the averaging rounds under way and
  /// applies them (no-op otherwise).
  void finish_collaboration();

 private:
  struct impl;
  explicit training_loop(std::unique_ptr<impl> self);
  std::unique_ptr<impl> self_;
};

} // namespace colony::trainer
