#pragma once

// One expert as a server hosts it: its module, input/output schema,
// optimizer, learning rate schedule, gradient clipping and checkpoints
// (hivemind's ModuleBackend). Backward recomputes the forward with autograd
// and then applies one optimizer step.
//
// Not thread-safe: the device actor owns a backend and calls it from one
// thread. LibTorch stays behind the pimpl; this header is light.

#include "actors/moe/expert_schema.hpp"

#include <ATen/core/Tensor.h>
#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace colony::moe {

class expert_module;

/// How an expert trains.
struct expert_backend_options {
  /// adam | sgd | none (no parameter updates).
  std::string optimizer = "adam";

  /// Base learning rate; 0 picks the optimizer's default (adam 1e-3,
  /// sgd 0.01).
  double learning_rate = 0;

  /// none | linear (warm-up then linear decay to 0).
  std::string scheduler = "none";

  /// linear: optimizer steps of linear warm-up from lr 0.
  int64_t num_warmup_steps = 0;

  /// linear: optimizer steps until the lr reaches 0 (required > 0).
  int64_t num_training_steps = 0;

  /// > 0: clip the global L2 norm of the gradients to this before a step.
  double clip_grad_norm = 0;
};

/// An expert's module with its optimizer and schema.
class expert_backend {
 public:
  /// Builds `expert_cls` with a fresh module: a registered class name
  /// (`layer_registry.hpp`), or a path ending in .pt or .ts of a TorchScript
  /// file taking one float32 (B, hidden_dim) input. Errors: invalid_argument
  /// (unknown class, bad uid or options, a module that fails on its sample
  /// inputs), io_error (no such TorchScript file).
  [[nodiscard]] static caf::expected<std::unique_ptr<expert_backend>>
  make(std::string uid, const std::string& expert_cls, int64_t hidden_dim,
       const expert_backend_options& options);

  /// Wraps a user's module. `sample_inputs` (batch >= 1) define the input
  /// schema; forward on them defines the output schema. `uid` must not
  /// contain '/' or "..": it names the checkpoint directory.
  [[nodiscard]] static caf::expected<std::unique_ptr<expert_backend>>
  make(std::string uid, std::string class_name,
       std::shared_ptr<expert_module> module,
       const std::vector<at::Tensor>& sample_inputs,
       const expert_backend_options& options);

  ~expert_backend();

  expert_backend(const expert_backend&) = delete;
  expert_backend& operator=(const expert_backend&) = delete;

  /// The expert's uid, e.g. "ffn.0.13".
  [[nodiscard]] const std::string& uid() const noexcept;

  /// The class name it was built from (or the user's name for it).
  [[nodiscard]] const std::string& expert_class() const noexcept;

  /// What the expert takes and returns.
  [[nodiscard]] const expert_schema& schema() const noexcept;

  /// Number of trainable scalars.
  [[nodiscard]] int64_t parameter_count() const;

  /// Runs forward without autograd. The module stays in train mode (as in
  /// hivemind: dropout is active). Throws on a schema mismatch or a LibTorch
  /// failure.
  std::vector<at::Tensor> forward(const std::vector<at::Tensor>& inputs);

  /// `inputs_and_grad_outputs`: the expert's inputs followed by one
  /// gradient per output, in schema order. Recomputes forward with autograd
  /// (floating-point inputs require grad), back-propagates the gradients and
  /// returns one tensor per input: its gradient, or zeros for inputs without
  /// one (non-floating-point or unused). Then, unless the optimizer is
  /// "none": clips, steps the optimizer, zeroes the gradients and advances
  /// the schedule. Throws on a schema mismatch or a LibTorch failure.
  std::vector<at::Tensor>
  backward(const std::vector<at::Tensor>& inputs_and_grad_outputs);

  /// The learning rate the next optimizer step uses (after the schedule).
  [[nodiscard]] double learning_rate() const noexcept;

  /// Optimizer steps taken so far (restored by `load_checkpoint`).
  [[nodiscard]] int64_t update_count() const noexcept;

  /// Writes module, optimizer and schedule state to
  /// `dir/<uid>/checkpoint_<unix time>.pt` and replaces
  /// `dir/<uid>/checkpoint_last.pt` with it atomically (temporary file and
  /// rename). Creates the directories. Errors: io_error.
  [[nodiscard]] caf::error save_checkpoint(const std::string& dir);

  /// Loads `dir/<uid>/checkpoint_last.pt` if there is one: true if loaded,
  /// false if there is none. Errors: io_error (unreadable), malformed (not a
  /// checkpoint or one that does not fit this module); the backend is then
  /// unchanged.
  [[nodiscard]] caf::expected<bool> load_checkpoint(const std::string& dir);

 private:
  struct state;

  explicit expert_backend(std::unique_ptr<state> st);

  std::unique_ptr<state> state_;
};

} // namespace colony::moe
