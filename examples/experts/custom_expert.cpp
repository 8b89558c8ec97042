// Serving an expert class of your own: a LibTorch module registered under a
// name, hosted by a server node like the built-in classes, then called from
// a second node through a RemoteExpert.
//
//   custom_expert
//
// Exits 0 if the expert computed what the class says and its server
// trained it; 1 with the reason otherwise.

#include "actors/moe/client/remote_expert.hpp"
#include "actors/moe/server/expert_module.hpp"
#include "actors/moe/server/layer_registry.hpp"
#include "apps/node/node.hpp"
#include "messages/error.hpp"

#include <torch/torch.h>

#include <cstdio>
#include <string>

using namespace std::chrono_literals;

namespace {

// 1. The module: a residual block whose branch is scaled by tanh(gate).
// The gate starts at 0, so an untrained expert returns its input unchanged.
struct GatedResidualImpl : torch::nn::Module {
  explicit GatedResidualImpl(int64_t dim)
      : branch(register_module("branch", torch::nn::Linear(dim, dim))),
        gate(register_parameter("gate", torch::zeros({1}))) {}

  // One tensor in, one out: make_module_expert deduces the arity.
  torch::Tensor forward(torch::Tensor x) {
    return x + torch::tanh(gate) * torch::relu(branch(x));
  }

  torch::nn::Linear branch;
  torch::Tensor gate;
};
TORCH_MODULE(GatedResidual);

int fail(const std::string& what) {
  std::fprintf(stderr, "custom_expert: %s\n", what.c_str());
  return 1;
}

} // namespace

int main() {
  torch::manual_seed(0);
  // 2. Register the class before a node hosts it. `make` builds one expert
  // of width `hidden_dim`; `sample_inputs` defines what it takes (here a
  // batch of rows of that width): servers check every call against it.
  colony::moe::register_expert_class(
      "gated_residual",
      {[](int64_t hidden_dim) {
         return colony::moe::make_module_expert(GatedResidual(hidden_dim));
       },
       [](int64_t batch, int64_t hidden_dim) {
         return std::vector<at::Tensor>{torch::randn({batch, hidden_dim})};
       }});

  // 3. A server that hosts two experts of that class. It needs no DHT: the
  // client below is told the server's address (log level "error" silences
  // the warning that the experts are not declared anywhere). An SGD step of
  // 0.5 per backward call makes the training visible.
  colony::expert_group_config group;
  group.expert_uids = {"gated.0", "gated.1"};
  group.expert_cls = "gated_residual";
  group.hidden_dim = 16;
  group.backend.optimizer = "sgd";
  group.backend.learning_rate = 0.5;
  colony::node_config server_config;
  server_config.log_level = "error";
  server_config.experts = {group};
  auto server = colony::node::start(server_config);
  if (!server)
    return fail("server: " + colony::describe(server.error()));
  if (auto err = (*server)->host_experts())
    return fail("server experts: " + colony::describe(err));

  // 4. A client node (client mode: it serves nothing) calls expert gated.0.
  colony::node_config client_config;
  client_config.client_mode = true;
  client_config.log_level = "warn";
  auto client = colony::node::start(client_config);
  if (!client)
    return fail("client: " + colony::describe(client.error()));
  {
    colony::moe::RemoteExpert expert(
        (*client)->system(), (*client)->transport(),
        colony::moe::RemoteExpertOptions("gated.0", (*server)->address())
            .forward_timeout(5s)
            .backward_timeout(5s));
    try {
      // Forward runs on the server; the untrained gate passes x through.
      auto x = torch::randn({4, 16}, torch::requires_grad());
      auto y = expert->forward_one(x);
      std::printf("first call:  max |y - x| = %.6f\n",
                  (y - x).abs().max().item<float>());
      if (!torch::allclose(y, x))
        return fail("an untrained gated_residual should return its input");

      // Backward also runs on the server, which then applies one SGD step
      // to the expert; x gets its gradient as from a local module.
      y.pow(2).sum().backward();
      std::printf("x.grad norm: %.4f\n", x.grad().norm().item<float>());

      // The same input now meets a trained gate.
      auto y2 = expert->forward_one(x.detach());
      auto change = (y2 - x.detach()).abs().max().item<float>();
      std::printf("second call: max |y - x| = %.6f\n", change);
      if (!(change > 0))
        return fail("the server did not train the expert");
    } catch (const std::exception& e) { // a failed remote call throws
      return fail(e.what());
    }
  }
  return 0;
}
