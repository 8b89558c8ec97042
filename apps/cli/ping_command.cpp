#include "apps/bench/sample_statistics.hpp"
#include "apps/cli/commands.hpp"
#include "apps/node/node.hpp"
#include "messages/error.hpp"
#include "runtime/ping_client.hpp"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <thread>

namespace colony::apps {

namespace {

struct ping_args {
  std::string address;
  int count = 4;
  double interval = 0.2;
  double timeout = 5.0;
  std::string swarm_id = "colony";
  bool json = false;
};

int run_ping(const ping_args& args) {
  node_config cfg;
  cfg.client_mode = true;
  cfg.swarm_id = args.swarm_id;
  cfg.log_level = "warn";
  auto n = node::start(cfg);
  if (!n) {
    std::cerr << "colony ping: " << describe(n.error()) << std::endl;
    return 1;
  }
  auto timeout =
      std::chrono::milliseconds(static_cast<int64_t>(args.timeout * 1000));
  std::vector<double> rtts;
  std::string peer;
  int failed = 0;
  for (int i = 0; i < args.count; ++i) {
    if (i > 0)
      std::this_thread::sleep_for(std::chrono::duration<double>(args.interval));
    auto res =
        ping_once((*n)->system(), (*n)->transport(), args.address, 0, timeout);
    if (res) {
      rtts.push_back(res->rtt_ms);
      peer = res->peer_id;
      if (!args.json)
        std::printf("reply from %s (%s): seq=%d time=%.3f ms\n",
                    args.address.c_str(), peer.c_str(), i, res->rtt_ms);
    } else {
      ++failed;
      if (!args.json)
        std::printf("no reply from %s: seq=%d %s\n", args.address.c_str(), i,
                    describe(res.error()).c_str());
    }
  }
  if (args.json) {
    std::ostringstream out;
    out << "{\"address\":\"" << args.address << "\",\"peer_id\":\"" << peer
        << "\",\"sent\":" << args.count << ",\"received\":" << rtts.size()
        << ",\"rtt_ms\":[";
    for (size_t i = 0; i < rtts.size(); ++i)
      out << (i ? "," : "") << rtts[i];
    out << "],\"p50_ms\":" << quantile(rtts, 0.5)
        << ",\"max_ms\":" << quantile(rtts, 1.0) << "}";
    std::cout << out.str() << std::endl;
  } else if (!rtts.empty()) {
    std::printf("%d sent, %zu received, rtt min/p50/max = %.3f/%.3f/%.3f ms\n",
                args.count, rtts.size(), quantile(rtts, 0), quantile(rtts, 0.5),
                quantile(rtts, 1.0));
  }
  return rtts.empty() ? 1 : 0;
}

} // namespace

void add_ping_command(CLI::App& app) {
  auto args = std::make_shared<ping_args>();
  auto* cmd = app.add_subcommand("ping", "measure round trips to a node");
  cmd->add_option("address", args->address,
                  "HOST:PORT or /ip4/HOST/tcp/PORT[/p2p/ID]")
      ->required();
  cmd->add_option("--count,-c", args->count, "number of pings")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--interval", args->interval, "seconds between pings");
  cmd->add_option("--timeout", args->timeout, "seconds to wait per ping");
  cmd->add_option("--swarm-id", args->swarm_id, "swarm of the target node");
  cmd->add_flag("--json", args->json, "print one JSON line");
  cmd->callback([args] { exit_with(run_ping(*args)); });
}

} // namespace colony::apps
