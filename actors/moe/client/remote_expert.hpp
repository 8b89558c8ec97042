#pragma once

// A remote expert as a LibTorch module: forward and backward run on the
// server that hosts the uid, inside autograd, so it composes into any model.
// Includes <torch/torch.h>: include it where models are built.

#include "messages/tensor_codec.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

#include <chrono>
#include <string>
#include <vector>

namespace colony::moe {

/// Where a remote expert lives and how long its calls may take.
struct RemoteExpertOptions {
  RemoteExpertOptions(std::string uid, std::string address)
      : uid_(std::move(uid)), address_(std::move(address)) {}
  /// The expert's uid, e.g. "ffn.0.3".
  TORCH_ARG(std::string, uid);
  /// HOST:PORT of its server.
  TORCH_ARG(std::string, address);
  /// Deadline of a forward call.
  TORCH_ARG(std::chrono::milliseconds,
            forward_timeout) = std::chrono::seconds(30);
  /// Deadline of a backward call.
  TORCH_ARG(std::chrono::milliseconds,
            backward_timeout) = std::chrono::seconds(30);
  /// Codec of the tensors this side sends.
  TORCH_ARG(compression_type, compression) = compression_type::none;
};

/// hivemind's RemoteExpert: calling it runs the expert's forward on its
/// server; back-propagating through the result runs the server's backward
/// (which also applies one optimizer step there) and yields the gradients of
/// the inputs. A failed call (the server's error text, a timeout, an
/// unreachable server) throws `std::runtime_error` naming the expert.
/// Calls block the calling thread until answered.
class RemoteExpertImpl : public torch::nn::Cloneable<RemoteExpertImpl> {
 public:
  /// Calls go through `transport` (a node's transport actor) of `system`,
  /// which must outlive the module.
  RemoteExpertImpl(caf::actor_system& system, caf::actor transport,
                   RemoteExpertOptions options);

  void reset() override {}

  /// Runs the expert on `inputs` (leading batch dimension each) and returns
  /// its outputs, connected to the inputs by autograd.
  std::vector<at::Tensor> forward(const std::vector<at::Tensor>& inputs);

  /// The same for an expert of one input and one output.
  at::Tensor forward_one(const at::Tensor& input);

  [[nodiscard]] const RemoteExpertOptions& options() const noexcept {
    return options_;
  }

 private:
  caf::actor_system* system_;
  caf::actor transport_;
  RemoteExpertOptions options_;
};

TORCH_MODULE(RemoteExpert);

/// One remote call inside autograd; RemoteExpert and the MoE layers build
/// on it. Returns the outputs of `uid`'s forward on `inputs`; their backward
/// calls the server's backward. Throws `std::runtime_error` on failure.
std::vector<at::Tensor>
remote_expert_call(caf::actor_system& system, const caf::actor& transport,
                   const RemoteExpertOptions& options,
                   const std::vector<at::Tensor>& inputs);

} // namespace colony::moe
