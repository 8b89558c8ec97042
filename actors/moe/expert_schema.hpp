#pragma once

// What an expert accepts and returns: per tensor, its shape without the
// leading batch dimension and its dtype. Checked on every call before a
// request reaches a task pool, so a wrong width fails with a clear error and
// never inside a batch of other callers.

#include <ATen/core/Tensor.h>
#include <caf/error.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace colony::moe {

/// One tensor of an expert's inputs or outputs.
struct tensor_schema {
  /// Dimensions after the batch dimension, e.g. {512} for (B, 512).
  std::vector<int64_t> shape;
  at::ScalarType dtype = at::kFloat;

  /// Describes the schema as the user sees it, e.g. "float32[B, 512]".
  [[nodiscard]] std::string to_string() const;

  /// The schema of `sample`, dropping its first (batch) dimension.
  [[nodiscard]] static tensor_schema of(const at::Tensor& sample);

  friend bool operator==(const tensor_schema& x, const tensor_schema& y) {
    return x.shape == y.shape && x.dtype == y.dtype;
  }
};

/// The inputs and outputs of an expert.
struct expert_schema {
  std::vector<tensor_schema> inputs;
  std::vector<tensor_schema> outputs;
};

/// Describes a list of schemas, e.g. "(float32[B, 512], bool[B, 128])".
[[nodiscard]] std::string to_string(const std::vector<tensor_schema>& schemas);

/// Checks `tensors` against `expected`: the count, each dtype, each shape
/// after the batch dimension, and one batch size shared by all tensors.
/// `what` names the list in messages ("inputs", "grad_outputs").
/// On success stores the batch size in `rows`. Errors: bad_shape (count,
/// dimensions or batch sizes; the text names the expected and the received
/// shape, e.g. the wrong width), unknown_dtype (a dtype other than the
/// schema's).
[[nodiscard]] caf::error check_tensors(const std::vector<tensor_schema>& expected,
                                       const std::vector<at::Tensor>& tensors,
                                       const char* what, int64_t& rows);

/// Short name of a dtype as colony prints it: "float32", "bool", ...
[[nodiscard]] const char* dtype_name(at::ScalarType dtype) noexcept;

} // namespace colony::moe
