#include "apps/cli/commands.hpp"
#include "apps/cli/config_flags.hpp"
#include "apps/cli/node_launch.hpp"
#include "apps/node/node.hpp"
#include "messages/error.hpp"
#include "runtime/signals.hpp"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <fstream>
#include <iostream>

namespace colony::apps {

namespace {

struct run_args {
  std::string config_path;
  std::vector<std::string> overrides;
  std::string address_file;
};

int run_node(const run_args& args) {
  block_shutdown_signals(); // before any thread exists
  node_config config;
  command_config_sources sources;
  sources.config_path = args.config_path;
  sources.sets = args.overrides;
  if (auto rc = load_command_config(sources, config))
    return rc;
  auto n = node::start(config);
  if (!n) {
    std::cerr << "colony: cannot start node: " << describe(n.error())
              << std::endl;
    return 1;
  }
  auto& nd = **n;
  return serve_until_signal(nd, args.address_file);
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
