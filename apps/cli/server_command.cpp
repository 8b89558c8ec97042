// `colony server`: an expert server from hivemind-server's flags, and
// `colony info ADDR`: what a server hosts.

#include "actors/moe/client/expert_client.hpp"
#include "apps/cli/checked_options.hpp"
#include "apps/cli/commands.hpp"
#include "apps/cli/config_flags.hpp"
#include "apps/cli/node_launch.hpp"
#include "apps/node/node.hpp"
#include "apps/output/json_text.hpp"
#include "messages/error.hpp"
#include "runtime/signals.hpp"

#include <spdlog/spdlog.h>

#include <iostream>

namespace colony::apps {

namespace {

// The flags keep hivemind-server's names (with dashes); each one is a key of
// the node config, so the config's checks and messages apply to both.
const std::vector<config_flag> server_flags = {
    {"--num-experts", "experts.num_experts",
     "experts to sample from --expert-pattern"},
    {"--expert-pattern", "experts.expert_pattern",
     "uid pattern, e.g. 'ffn.[0:4].[0:8]'"},
    {"--expert-uids", "experts.expert_uids", "explicit expert uids", true},
    {"--expert-cls", "experts.expert_cls",
     "ffn, transformer, nop, nop_delay, det_dropout, or a TorchScript file"},
    {"--hidden-dim", "experts.hidden_dim",
     "width of the experts (default 1024)"},
    {"--min-batch-size", "experts.min_batch_size",
     "rows a batch waits for (default 1)"},
    {"--max-batch-size", "experts.max_batch_size",
     "rows per batch at most (default 16384)"},
    {"--device", "experts.device", "cpu or cuda:N"},
    {"--optimizer", "experts.optimizer", "adam, sgd or none (default adam)"},
    {"--learning-rate", "experts.learning_rate",
     "optimizer learning rate (default: adam 1e-3, sgd 0.01)"},
    {"--scheduler", "experts.scheduler",
     "none or linear (warm-up, then linear decay)"},
    {"--num-warmup-steps", "experts.num_warmup_steps",
     "warm-up steps of the linear scheduler"},
    {"--num-training-steps", "experts.num_training_steps",
     "steps until the linear scheduler reaches 0"},
    {"--update-period", "experts.update_period",
     "seconds between DHT declarations and checkpoints (default 30)"},
    {"--expiration", "experts.expiration",
     "seconds a declaration lives (default max(2 x update period, 3))"},
    {"--clip-grad-norm", "experts.clip_grad_norm",
     "clip the gradients' global norm to this"},
    {"--compression", "experts.compression",
     "codec of replies: none, float16, scaled_float16, uniform_8bit, "
     "quantile_8bit"},
    {"--checkpoint-dir", "experts.checkpoint_dir",
     "save and restore expert state here"},
    {"--drop-rate", "experts.drop_rate",
     "fault injection: fraction of forward/backward requests each expert "
     "silently drops (0 to 1, default 0)"},
    {"--initial-peers", "node.initial_peers", "peers to join the swarm through",
     true},
    {"--identity-path", "node.identity_path",
     "file keeping the node's identity"},
    {"--listen", "node.listen", "HOST:PORT to accept connections on"},
    {"--max-calls-per-peer", "transport.max_calls_per_peer",
     "calls one peer may have the server work on at once; more are answered "
     "busy (default 64, 0: no bound)"},
    {"--max-request-bytes-per-peer", "transport.max_request_bytes_per_peer",
     "request bytes one peer may have the server work on at once (default "
     "134217728, 0: no bound)"},
};

struct server_args {
  std::string config_path;
  config_flags flags;
  std::vector<std::string> overrides;
  std::string address_file;
};

int run_server(const server_args& args) {
  block_shutdown_signals();
  node_config config;
  command_config_sources sources;
  sources.config_path = args.config_path;
  sources.flags = &args.flags;
  sources.defaults = {"dht.enabled=true"};
  sources.sets = args.overrides;
  if (auto rc = load_command_config(sources, config))
    return rc;
  if (config.experts.empty()) {
    std::cerr << "colony: a server needs experts: give --expert-uids, or "
                 "--expert-pattern and --num-experts"
              << std::endl;
    return usage_error_status;
  }
  auto n = node::start(config);
  if (!n) {
    std::cerr << "colony: cannot start node: " << describe(n.error())
              << std::endl;
    return 1;
  }
  return serve_until_signal(**n, args.address_file);
}

int show_info(const std::string& address, bool json, double timeout_s) {
  node_config cfg;
  command_config_sources sources;
  sources.fixed = {"node.client_mode=true", "node.log_level=warn"};
  if (auto rc = load_command_config(sources, cfg))
    return rc;
  auto n = node::start(cfg);
  if (!n) {
    std::cerr << "colony: " << describe(n.error()) << std::endl;
    return 1;
  }
  moe::expert_client client{(*n)->system(), (*n)->transport()};
  auto timeout = std::chrono::milliseconds(static_cast<long>(timeout_s * 1000));
  auto experts = client.list(address, timeout);
  if (!experts) {
    std::cerr << "colony: " << address << ": " << describe(experts.error())
              << std::endl;
    return 1;
  }
  for (const auto& e : *experts) {
    if (json)
      std::cout << "{\"uid\":" << json_string(e.uid)
                << ",\"class\":" << json_string(e.expert_class)
                << ",\"parameters\":" << e.parameter_count << ",\"inputs\":"
                << json_string(moe::to_string(e.schema.inputs))
                << ",\"outputs\":"
                << json_string(moe::to_string(e.schema.outputs))
                << ",\"max_batch_size\":" << e.max_batch_size
                << ",\"compression\":" << json_string(to_string(e.compression))
                << "}\n";
    else
      std::cout << e.uid << "  " << e.expert_class << "  " << e.parameter_count
                << " parameters  inputs " << moe::to_string(e.schema.inputs)
                << "  outputs " << moe::to_string(e.schema.outputs)
                << "  max batch " << e.max_batch_size << "  "
                << to_string(e.compression) << "\n";
  }
  if (!json)
    std::cout << experts->size() << " experts at " << address << std::endl;
  return 0;
}

} // namespace

void add_server_command(CLI::App& app) {
  auto args = std::make_shared<server_args>();
  auto* cmd = app.add_subcommand(
      "server", "host experts (hivemind-server's flags, with dashes)");
  args->flags.add(cmd, server_flags, /*greedy_lists=*/true);
  cmd->add_option("--config", args->config_path,
                  "start from this node config (TOML); flags override it");
  cmd->add_option("--set", args->overrides,
                  "override a config key: section.key=value (repeatable)");
  cmd->add_option("--address-file", args->address_file,
                  "write HOST:PORT here once serving");
  cmd->callback([args] { exit_with(run_server(*args)); });

  auto address = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  auto timeout = std::make_shared<double>(10.0);
  auto* info = app.add_subcommand("info", "list the experts a server hosts");
  info->add_option("address", *address, "HOST:PORT of the server")->required();
  info->add_flag("--json", *json, "one JSON line per expert");
  add_seconds_option(info, "--timeout", *timeout,
                     "seconds to wait (default 10)");
  info->callback([=] { exit_with(show_info(*address, *json, *timeout)); });
}

} // namespace colony::apps
