#include "apps/commands.hpp"
#include "apps/node.hpp"
#include "apps/signals.hpp"
#include "messages/error.hpp"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <fstream>
#include <iostream>

namespace colony::apps {

namespace {

/// Exit status of a config error (file, line and reason are printed).
constexpr int config_error_status = 2;

/// Writes `text` to `path` atomically, so a reader never sees half of it.
bool write_file_atomically(const std::string& path, const std::string& text) {
  auto tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out)
      return false;
    out << text << '\n';
    if (!out.flush())
      return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

struct run_args {
  std::string config_path;
  std::vector<std::string> overrides;
  std::string address_file;
};

int run_node(const run_args& args) {
  block_shutdown_signals(); // before any thread exists
  auto config = load_node_config(args.config_path, args.overrides);
  if (!config) {
    std::cerr << "colony: config error:\n"
              << error_reason(config.error()) << std::endl;
    return is_error(config.error(), errc::io_error) ? 1 : config_error_status;
  }
  auto n = node::start(*config);
  if (!n) {
    std::cerr << "colony: cannot start node: " << describe(n.error())
              << std::endl;
    return 1;
  }
  auto& nd = **n;
  std::cout << "listening on " << nd.address() << std::endl;
  if (!args.address_file.empty() &&
      !write_file_atomically(args.address_file, nd.address())) {
    std::cerr << "colony: cannot write address file " << args.address_file
              << std::endl;
    return 1;
  }
  if (config->dht_enabled && !config->initial_peers.empty()) {
    auto joined = nd.join_dht();
    if (!joined) {
      nd.log().error("cannot join the DHT: {}", describe(joined.error()));
      return 1;
    }
  } else {
    nd.greet_initial_peers();
  }
  auto sig = wait_for_shutdown_signal();
  nd.log().info("received signal {}, shutting down", sig);
  n->reset();
  return 0;
}

} // namespace

void add_run_command(CLI::App& app) {
  auto args = std::make_shared<run_args>();
  auto* cmd = app.add_subcommand("run", "run a node from a TOML config");
  cmd->add_option("config", args->config_path, "node config (TOML)")
      ->required();
  cmd->add_option("--set", args->overrides,
                  "override a config key: section.key=value (repeatable)");
  cmd->add_option("--address-file", args->address_file,
                  "write HOST:PORT here once accepting connections");
  cmd->callback([args] { exit_with(run_node(*args)); });
}

} // namespace colony::apps
