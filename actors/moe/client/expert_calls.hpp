#pragma once

// Many expert calls at once, with hivemind's deadlines: every call has until
// `timeout`; once `k_min` calls answered, the others get at most
// `timeout_after_k_min` more. Blocking: for detached actors, trainer loops
// and autograd functions, never an event-based actor's handler.

#include "messages/tensor_codec.hpp"

#include <ATen/core/Tensor.h>
#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace colony::moe {

/// One call to a method of an expert.
struct expert_call {
  /// HOST:PORT of the server.
  std::string address;
  std::string uid;
  /// "forward" or "backward".
  std::string method;
  /// forward: the inputs; backward: the inputs, then one grad per output.
  std::vector<at::Tensor> tensors;
};

/// When calls stop waiting.
struct expert_call_deadlines {
  /// Longest any call may take.
  std::chrono::milliseconds timeout{30000};
  /// Calls that must answer before `timeout_after_k_min` starts to count;
  /// 0: every call gets the full `timeout`.
  size_t k_min = 0;
  /// Once `k_min` calls answered, how much longer the rest may take;
  /// nullopt: no shorter deadline.
  std::optional<std::chrono::milliseconds> timeout_after_k_min;
};

/// How a layer's expert calls went, counted since the layer was made: one
/// call per expert per forward or backward pass. A call fails if it errs,
/// times out or answers something that cannot be used.
struct expert_call_stats {
  uint64_t forward_calls = 0;
  uint64_t forward_failures = 0;
  uint64_t backward_calls = 0;
  uint64_t backward_failures = 0;
};

/// Runs `calls` concurrently through `transport` and returns one outcome per
/// call, in order: the reply's tensors (aliasing the reply buffer: clone
/// before writing), or the error (the server's text, `timeout` for calls
/// cut off by a deadline, which are then cancelled). Tensors travel with
/// `codec`.
std::vector<caf::expected<std::vector<at::Tensor>>>
call_experts(caf::actor_system& system, const caf::actor& transport,
             std::vector<expert_call> calls,
             const expert_call_deadlines& deadlines,
             compression_type codec = compression_type::none);

} // namespace colony::moe
