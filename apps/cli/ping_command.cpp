#include "apps/bench/sample_statistics.hpp"
#include "apps/cli/checked_options.hpp"
#include "apps/cli/commands.hpp"
#include "apps/cli/config_flags.hpp"
#include "apps/node/node.hpp"
#include "apps/output/json_text.hpp"
#include "messages/error.hpp"
#include "runtime/peer_address.hpp"
#include "runtime/ping_client.hpp"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <thread>

namespace colony::apps {

namespace {

/// Most pings one command sends.
constexpr int64_t max_ping_count = 1000000;

struct ping_args {
  std::string address;
  int64_t count = 4;
  double interval = 0.2;
  double timeout = 5.0;
  config_flags flags;
  bool json = false;
};

int run_ping(const ping_args& args) {
  auto target = peer_address::parse(args.address);
  if (!target || target->port == 0) {
    std::cerr << "colony ping: "
              << (target ? "port 0 cannot be dialed: " + args.address
                         : error_reason(target.error()))
              << std::endl;
    return usage_error_status;
  }
  node_config cfg;
  command_config_sources sources;
  sources.flags = &args.flags;
  sources.fixed = {"node.client_mode=true", "node.log_level=warn"};
  if (auto rc = load_command_config(sources, cfg))
    return rc;
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
  for (int64_t i = 0; i < args.count; ++i) {
    if (i > 0)
      std::this_thread::sleep_for(std::chrono::duration<double>(args.interval));
    auto res =
        ping_once((*n)->system(), (*n)->transport(), args.address, 0, timeout);
    if (res) {
      rtts.push_back(res->rtt_ms);
      peer = res->peer_id;
      if (!args.json)
        std::printf("reply from %s (%s): seq=%lld time=%.3f ms\n",
                    args.address.c_str(), peer.c_str(),
                    static_cast<long long>(i), res->rtt_ms);
    } else {
      ++failed;
      if (!args.json)
        std::printf("no reply from %s: seq=%lld %s\n", args.address.c_str(),
                    static_cast<long long>(i), describe(res.error()).c_str());
    }
  }
  if (args.json) {
    std::ostringstream out;
    out << "{\"address\":" << json_string(args.address)
        << ",\"peer_id\":" << json_string(peer) << ",\"sent\":" << args.count
        << ",\"received\":" << rtts.size() << ",\"rtt_ms\":[";
    for (size_t i = 0; i < rtts.size(); ++i)
      out << (i ? "," : "") << json_number(rtts[i]);
    out << "],\"p50_ms\":" << json_number(quantile(rtts, 0.5))
        << ",\"max_ms\":" << json_number(quantile(rtts, 1.0)) << "}";
    std::cout << out.str() << std::endl;
  } else if (!rtts.empty()) {
    std::printf("%lld sent, %zu received, rtt min/p50/max = "
                "%.3f/%.3f/%.3f ms\n",
                static_cast<long long>(args.count), rtts.size(),
                quantile(rtts, 0), quantile(rtts, 0.5), quantile(rtts, 1.0));
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
  add_count_option(cmd, "--count,-c", args->count, "number of pings", 1,
                   max_ping_count);
  seconds_bounds interval;
  interval.zero_allowed = true;
  add_seconds_option(cmd, "--interval", args->interval,
                     "seconds between pings (default 0.2)", interval);
  add_seconds_option(cmd, "--timeout", args->timeout,
                     "seconds to wait per ping (default 5)");
  args->flags.add(
      cmd, {{"--swarm-id", "node.swarm_id", "swarm of the target node"}});
  cmd->add_flag("--json", args->json, "print one JSON line");
  cmd->callback([args] { exit_with(run_ping(*args)); });
}

} // namespace colony::apps
