// Joining a running swarm: start a node that knows one peer's address,
// find an expert through the DHT, ask its server what it takes, call it.
//
//   join_swarm ADDRESS [UID_PREFIX]
//
// ADDRESS is any peer of the swarm (HOST:PORT or /ip4/HOST/tcp/PORT), for
// instance a server started with
//   colony run configs/server.toml
// which prints `listening on ADDRESS` and serves experts `ffn.*` (the
// default UID_PREFIX). Prints the expert's output; exits 0, or 1 with the
// reason (2 for a usage error).

#include "actors/dht/dht_client.hpp"
#include "actors/moe/client/expert_client.hpp"
#include "actors/moe/client/remote_expert.hpp"
#include "actors/moe/expert_directory.hpp"
#include "apps/node/node.hpp"
#include "messages/error.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string>

using namespace std::chrono_literals;

namespace {

int fail(const std::string& what) {
  std::fprintf(stderr, "join_swarm: %s\n", what.c_str());
  return 1;
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: join_swarm ADDRESS [UID_PREFIX]\n");
    return 2;
  }
  const std::string address = argv[1];
  const std::string prefix = argc > 2 ? argv[2] : "ffn.";

  // 1. A node in client mode (it connects out and serves nothing, so it
  // may sit behind a NAT) with a DHT node, also in client mode, that joins
  // the swarm through `address`.
  colony::node_config config;
  config.client_mode = true;
  config.log_level = "warn";
  config.initial_peers = {address};
  config.dht_enabled = true;
  config.dht.client_mode = true;
  auto started = colony::node::start(config);
  if (!started)
    return fail(colony::describe(started.error()));
  auto& node = **started;
  if (auto joined = node.join_dht(); !joined)
    return fail("could not join through " + address + ": " +
                colony::describe(joined.error()));

  // 2. Servers declare their experts in the DHT under every prefix of the
  // uid, so the experts under `prefix` can be listed.
  colony::dht::dht_client dht{node.system(), node.dht()};
  auto experts = colony::moe::list_experts(dht, prefix, 10s);
  if (!experts)
    return fail("listing " + prefix + ": " + colony::describe(experts.error()));
  if (experts->empty())
    return fail("no expert declared under " + prefix);
  const auto& found = experts->front();
  std::printf("%zu experts under %s; calling %s at %s\n", experts->size(),
              prefix.c_str(), found.uid.c_str(), found.address.c_str());

  // 3. The server describes the expert: its class and the shapes it takes.
  colony::moe::expert_client client{node.system(), node.transport()};
  auto info = client.info(found.address, found.uid, 10s);
  if (!info)
    return fail("info of " + found.uid + ": " + colony::describe(info.error()));
  std::printf("%s: class %s, %llu parameters, inputs %s\n", found.uid.c_str(),
              info->expert_class.c_str(),
              static_cast<unsigned long long>(info->parameter_count),
              colony::moe::to_string(info->schema.inputs).c_str());

  // 4. Inputs of that schema (a batch of 2), then the call itself.
  std::vector<at::Tensor> inputs;
  for (const auto& input : info->schema.inputs) {
    std::vector<int64_t> shape{2};
    shape.insert(shape.end(), input.shape.begin(), input.shape.end());
    auto options = torch::TensorOptions().dtype(input.dtype);
    inputs.push_back(at::isFloatingType(input.dtype)
                         ? torch::randn(shape, options)
                         : torch::ones(shape, options));
  }
  try {
    colony::moe::RemoteExpert expert(
        node.system(), node.transport(),
        colony::moe::RemoteExpertOptions(found.uid, found.address)
            .forward_timeout(10s));
    auto outputs = expert->forward(inputs);
    for (const auto& output : outputs) {
      std::cout << "output " << output.sizes() << ", first row begins";
      auto row = output[0].flatten().to(torch::kFloat);
      for (int64_t i = 0; i < std::min<int64_t>(4, row.numel()); ++i)
        std::cout << ' ' << row[i].item<float>();
      std::cout << std::endl;
    }
  } catch (const std::exception& e) { // a failed remote call throws
    return fail(e.what());
  }
  return 0;
}
