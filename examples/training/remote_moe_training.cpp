// A whole swarm in one process: a DHT node that serves a small grid of
// experts, and a trainer node that trains a model whose middle layer is a
// RemoteMixtureOfExperts over that grid.
//
//   remote_moe_training [STEPS]
//
// Prints the loss of each step and exits 0 if it fell; 1 with the reason
// otherwise. The same program works across machines: give the trainer the
// server's address in `initial_peers`.

#include "actors/moe/client/moe_layer.hpp"
#include "apps/node/expert_hosting.hpp"
#include "apps/node/node.hpp"
#include "apps/node/node_config.hpp"
#include "messages/error.hpp"

#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>
#include <string>

using namespace std::chrono_literals;

namespace {

// The server's config, as a file in configs/ would hold it:
// `colony::load_node_config(path)` reads such a file. It hosts a DHT node
// and 8 experts drawn from the 4 x 4 grid `ffn.[0:4].[0:4]` (uids such as
// `ffn.2.1`), each a feed-forward block of width 32 with its own Adam
// optimizer: a backward call to an expert also trains it.
constexpr const char* server_toml = R"(
[node]
listen = "127.0.0.1:0"   # port 0: any free port
log_level = "warn"

[dht]
enabled = true

[[experts]]
expert_pattern = "ffn.[0:4].[0:4]"
num_experts = 8
expert_cls = "ffn"
hidden_dim = 32
optimizer = "adam"
)";

constexpr int64_t input_dim = 8;
constexpr int64_t hidden_dim = 32; // must match the experts' hidden_dim
constexpr int64_t classes = 4;
constexpr int64_t batch = 64;

int fail(const std::string& what) {
  std::fprintf(stderr, "remote_moe_training: %s\n", what.c_str());
  return 1;
}

} // namespace

int main(int argc, char** argv) {
  const int steps = argc > 1 ? std::atoi(argv[1]) : 30;
  if (steps < 10)
    return fail("STEPS must be at least 10");
  torch::manual_seed(0);

  // 1. The server node: parse the config, start the node (actor system,
  // transport, DHT node), then serve its experts. As the first node of the
  // swarm it has no one to join; host_experts() declares the experts in its
  // DHT so that trainers can find them.
  auto server_config = colony::parse_node_config(server_toml, "server_toml");
  if (!server_config)
    return fail(colony::describe(server_config.error()));
  auto server = colony::node::start(*server_config);
  if (!server)
    return fail("server: " + colony::describe(server.error()));
  if (auto err = (*server)->host_experts())
    return fail("server experts: " + colony::describe(err));
  std::printf("server listening on %s, serving %zu experts\n",
              (*server)->address().c_str(),
              (*server)->experts()->experts().size());

  // 2. The trainer node, configured in code: a DHT node in client mode
  // (it asks, it serves nothing) that joins the swarm through the server.
  colony::node_config trainer_config;
  trainer_config.client_mode = true;
  trainer_config.log_level = "warn";
  trainer_config.dht_enabled = true;
  trainer_config.dht.client_mode = true;
  trainer_config.initial_peers = {(*server)->address()};
  auto trainer = colony::node::start(trainer_config);
  if (!trainer)
    return fail("trainer: " + colony::describe(trainer.error()));
  if (auto joined = (*trainer)->join_dht(); !joined)
    return fail("trainer could not join: " + colony::describe(joined.error()));

  // Modules hold handles into the trainer's actor system: keep them in a
  // scope that ends before the nodes are destroyed.
  {
    // 3. The model: the RemoteMixtureOfExperts is an ordinary LibTorch
    // module. For each sample its gating layer scores the grid, a beam
    // search in the DHT finds the 2 best declared experts, and their
    // answers (computed on the server) are mixed by the gate's weights.
    colony::moe::RemoteMixtureOfExperts moe(
        (*trainer)->system(), (*trainer)->transport(), (*trainer)->dht(),
        colony::moe::RemoteMixtureOfExpertsOptions(hidden_dim, {4, 4}, "ffn.")
            .k_best(2)
            .forward_timeout(5s)
            .backward_timeout(5s));
    torch::nn::Sequential model(torch::nn::Linear(input_dim, hidden_dim),
                                torch::nn::ReLU(), moe,
                                torch::nn::Linear(hidden_dim, classes));
    // This optimizer trains the local layers and the gate; each expert's
    // optimizer runs on the server when backward reaches it.
    torch::optim::Adam optimizer(model->parameters(),
                                 torch::optim::AdamOptions(1e-2));

    // 4. A task to learn: the class of x is the argmax of x W for a fixed
    // random W.
    auto teacher = torch::randn({input_dim, classes});
    double first = 0, last = 0; // mean loss of the first and last 5 steps
    for (int step = 1; step <= steps; ++step) {
      auto x = torch::randn({batch, input_dim});
      auto y = x.matmul(teacher).argmax(1);
      optimizer.zero_grad();
      at::Tensor loss;
      try { // a remote failure (no expert answered in time) throws
        loss = torch::nn::functional::cross_entropy(model->forward(x), y);
        loss.backward();
      } catch (const std::exception& e) {
        return fail("step " + std::to_string(step) + ": " + e.what());
      }
      optimizer.step();
      double value = loss.item<double>();
      std::printf("step %3d  loss %.4f\n", step, value);
      if (step <= 5)
        first += value / 5;
      if (step > steps - 5)
        last += value / 5;
    }
    auto stats = moe->call_stats();
    std::printf("loss %.4f -> %.4f; expert calls: %llu forward (%llu failed), "
                "%llu backward (%llu failed)\n",
                first, last,
                static_cast<unsigned long long>(stats.forward_calls),
                static_cast<unsigned long long>(stats.forward_failures),
                static_cast<unsigned long long>(stats.backward_calls),
                static_cast<unsigned long long>(stats.backward_failures));
    if (!(last < first))
      return fail("the loss did not fall");
  }
  return 0; // the nodes stop their actors when destroyed
}
