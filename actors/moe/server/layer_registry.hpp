#pragma once

// The layer registry: expert class name -> how to build such an expert and
// what it takes as input. Built-ins (`builtin_layers.hpp`) are registered on
// first use; users add their own C++ modules with `register_expert_class`.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace colony::moe {

class expert_module;

/// How to build one kind of expert.
struct expert_class {
  /// Builds a fresh module for `hidden_dim`. May throw if `hidden_dim` does
  /// not suit the architecture.
  std::function<std::shared_ptr<expert_module>(int64_t hidden_dim)> make;

  /// Sample inputs of batch `batch` (defines the input schema: shapes after
  /// the batch dimension, dtypes).
  std::function<std::vector<at::Tensor>(int64_t batch, int64_t hidden_dim)>
      sample_inputs;
};

/// Registers `cls` under `name`, replacing a class of that name.
/// Thread-safe. A pointer from `find_expert_class` to a replaced class stays
/// valid (it keeps pointing to the old class).
void register_expert_class(std::string name, expert_class cls);

/// The class registered as `name`, or nullptr. Registers the built-ins on
/// first use. Thread-safe; the pointer stays valid for the program's life.
[[nodiscard]] const expert_class* find_expert_class(const std::string& name);

/// Names of all registered classes, sorted.
[[nodiscard]] std::vector<std::string> expert_class_names();

} // namespace colony::moe
