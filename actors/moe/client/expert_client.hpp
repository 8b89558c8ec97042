#pragma once

// Blocking calls to experts on remote servers, for CLIs, tests, benchmarks
// and detached actors (never from an event-based actor's handler). The
// client-side autograd layers build on the same service names.

#include "actors/moe/expert_description.hpp"
#include "messages/tensor_codec.hpp"

#include <ATen/core/Tensor.h>
#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/scoped_actor.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace colony::moe {

/// Calls the experts of servers through a node's transport.
class expert_client {
 public:
  expert_client(caf::actor_system& system, caf::actor transport);

  /// Runs `uid`'s forward on the server at `address`: one output per
  /// schema output, each with the inputs' batch size. Inputs travel with
  /// `codec`. Outputs alias the reply's buffer: clone before writing.
  caf::expected<std::vector<at::Tensor>>
  forward(const std::string& address, const std::string& uid,
          const std::vector<at::Tensor>& inputs,
          std::chrono::milliseconds timeout,
          compression_type codec = compression_type::none);

  /// Runs `uid`'s backward: sends the inputs of a forward and one gradient
  /// per output; returns one gradient per input. The server applies one
  /// optimizer step.
  caf::expected<std::vector<at::Tensor>>
  backward(const std::string& address, const std::string& uid,
           const std::vector<at::Tensor>& inputs,
           const std::vector<at::Tensor>& grad_outputs,
           std::chrono::milliseconds timeout,
           compression_type codec = compression_type::none);

  /// Asks for `uid`'s description (schemas, class, parameter count).
  caf::expected<expert_description> info(const std::string& address,
                                         const std::string& uid,
                                         std::chrono::milliseconds timeout);

  /// Lists every expert the server at `address` hosts.
  caf::expected<std::vector<expert_description>>
  list(const std::string& address, std::chrono::milliseconds timeout);

 private:
  /// Sends `tensors` as a TensorList to `service`, decodes the reply's.
  caf::expected<std::vector<at::Tensor>>
  call_tensors(const std::string& address, const std::string& service,
               const std::vector<at::Tensor>& tensors,
               std::chrono::milliseconds timeout, compression_type codec);

  caf::expected<envelope> call(const std::string& address,
                               const std::string& service, envelope body,
                               std::chrono::milliseconds timeout);

  caf::scoped_actor self_;
  caf::actor transport_;
};

} // namespace colony::moe
