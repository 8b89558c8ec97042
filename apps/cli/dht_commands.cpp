#include "actors/dht/dht_client.hpp"
#include "actors/moe/expert_directory.hpp"
#include "apps/cli/commands.hpp"
#include "apps/cli/node_launch.hpp"
#include "apps/node/node.hpp"
#include "apps/output/json_text.hpp"
#include "messages/error.hpp"
#include "runtime/signals.hpp"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <fstream>
#include <iostream>

namespace colony::apps {

namespace {

/// Flags every DHT command shares.
struct dht_common_args {
  std::vector<std::string> initial_peers;
  std::string swarm_id = "colony";
  double wait_timeout = 3.0;
};

void add_common_flags(CLI::App* cmd, dht_common_args& args) {
  // One address per flag (repeatable, or comma-separated), so positional
  // arguments may follow it.
  cmd->add_option("--initial-peers", args.initial_peers,
                  "peers to join through (HOST:PORT or multiaddr)")
      ->allow_extra_args(false)
      ->delimiter(',');
  cmd->add_option("--swarm-id", args.swarm_id, "swarm of the peers");
  cmd->add_option("--wait-timeout", args.wait_timeout,
                  "seconds per DHT request");
}

/// A client-mode node with a DHT, joined through the initial peers.
caf::expected<std::unique_ptr<node>> join_as_client(const dht_common_args& a) {
  node_config cfg;
  cfg.client_mode = true;
  cfg.swarm_id = a.swarm_id;
  cfg.log_level = "warn";
  cfg.initial_peers = a.initial_peers;
  cfg.dht_enabled = true;
  cfg.dht.client_mode = true;
  cfg.dht.wait_timeout =
      std::chrono::milliseconds(static_cast<int64_t>(a.wait_timeout * 1000));
  auto n = node::start(cfg);
  if (!n)
    return n;
  auto joined = (*n)->join_dht();
  if (!joined)
    return std::move(joined.error());
  return n;
}

std::chrono::milliseconds op_timeout(const dht_common_args& a) {
  return std::chrono::milliseconds(
      static_cast<int64_t>(a.wait_timeout * 10000));
}

// -- colony dht
// ----------------------------------------------------------------

struct dht_args {
  std::string config_path;
  std::vector<std::string> overrides;
  std::string listen;
  std::vector<std::string> initial_peers;
  std::string address_file;
  double refresh_period = 30;
};

int run_dht(const dht_args& args) {
  block_shutdown_signals();
  node_config cfg;
  if (!args.config_path.empty())
    if (auto rc = load_config_for_cli(args.config_path, args.overrides, cfg))
      return rc;
  if (!args.listen.empty())
    cfg.listen = args.listen;
  if (!args.initial_peers.empty())
    cfg.initial_peers = args.initial_peers;
  cfg.dht_enabled = true;
  auto n = node::start(cfg);
  if (!n) {
    std::cerr << "colony dht: " << describe(n.error()) << std::endl;
    return 1;
  }
  auto& nd = **n;
  if (auto rc = join_swarm(nd))
    return rc;
  if (auto rc = announce_address(nd, args.address_file))
    return rc;
  dht::dht_client client{nd.system(), nd.dht()};
  auto period = static_cast<long>(args.refresh_period * 1000);
  for (;;) {
    auto sig = wait_for_shutdown_signal(period);
    if (sig != 0) {
      nd.log().info("received signal {}, shutting down", sig);
      break;
    }
    if (auto s = client.stats(std::chrono::seconds(5)))
      nd.log().info("routing table: {} peers; storing {} keys ({} cached)",
                    s->routing_table_size, s->storage_size, s->cache_size);
  }
  return 0;
}

// -- colony dht-store / dht-get
// --------------------------------------------------

struct store_args {
  dht_common_args common;
  std::string key;
  std::string value;
  std::string subkey;
  bool has_subkey = false;
  double expiration = 60;
};

int run_store(const store_args& args) {
  auto n = join_as_client(args.common);
  if (!n) {
    std::cerr << "colony dht-store: " << describe(n.error()) << std::endl;
    return 1;
  }
  dht::dht_client client{(*n)->system(), (*n)->dht()};
  dht::store_request req{args.key, args.subkey, args.has_subkey, args.value,
                         dht::dht_time() + args.expiration};
  auto ok = client.store(std::move(req), op_timeout(args.common));
  if (!ok) {
    std::cerr << "colony dht-store: " << describe(ok.error()) << std::endl;
    return 1;
  }
  std::cout << (*ok ? "stored" : "refused") << std::endl;
  return *ok ? 0 : 1;
}

struct get_args {
  dht_common_args common;
  std::string key;
  bool latest = false;
  bool json = false;
};

int run_get(const get_args& args) {
  auto n = join_as_client(args.common);
  if (!n) {
    std::cerr << "colony dht-get: " << describe(n.error()) << std::endl;
    return 1;
  }
  dht::dht_client client{(*n)->system(), (*n)->dht()};
  auto res = client.get(args.key, args.latest, op_timeout(args.common));
  if (!res) {
    std::cerr << "colony dht-get: " << describe(res.error()) << std::endl;
    return 1;
  }
  if (args.json) {
    std::string out = "{\"key\":" + json_string(args.key) +
                      ",\"found\":" + (res->found ? "true" : "false");
    if (res->found && res->is_dictionary) {
      out += ",\"subkeys\":{";
      bool first = true;
      for (auto& [sk, sv] : res->subkeys) {
        out += (first ? "" : ",") + json_string(sk) +
               ":{\"value\":" + json_string(sv.value) +
               ",\"expiration\":" + std::to_string(sv.expiration) + "}";
        first = false;
      }
      out += "}";
    } else if (res->found) {
      out += ",\"value\":" + json_string(res->value);
    }
    if (res->found)
      out += ",\"expiration\":" + std::to_string(res->expiration);
    std::cout << out << "}" << std::endl;
  } else if (res->found && res->is_dictionary) {
    for (auto& [sk, sv] : res->subkeys)
      std::printf("%s: %s (expires in %.1f s)\n", sk.c_str(), sv.value.c_str(),
                  sv.expiration - dht::dht_time());
  } else if (res->found) {
    std::printf("%s (expires in %.1f s)\n", res->value.c_str(),
                res->expiration - dht::dht_time());
  } else {
    std::cerr << "not found: " << args.key << std::endl;
  }
  return res->found ? 0 : 1;
}

// -- colony experts
// --------------------------------------------------------------

struct experts_args {
  dht_common_args common;
  std::string prefix;
  bool json = false;
};

int run_experts(const experts_args& args) {
  if (args.prefix.empty()) {
    std::cerr << "colony experts: name a prefix to list, e.g. 'ffn.' (the "
                 "DHT cannot enumerate all keys)"
              << std::endl;
    return 2;
  }
  auto n = join_as_client(args.common);
  if (!n) {
    std::cerr << "colony experts: " << describe(n.error()) << std::endl;
    return 1;
  }
  dht::dht_client client{(*n)->system(), (*n)->dht()};
  auto experts =
      moe::list_experts(client, args.prefix, op_timeout(args.common));
  if (!experts) {
    std::cerr << "colony experts: " << describe(experts.error()) << std::endl;
    return is_error(experts.error(), errc::invalid_argument) ? 2 : 1;
  }
  if (args.json) {
    std::string out = "[";
    for (size_t i = 0; i < experts->size(); ++i) {
      auto& e = (*experts)[i];
      out += (i ? "," : "") + std::string{"{\"uid\":"} + json_string(e.uid) +
             ",\"peer_id\":" + json_string(e.peer_id) +
             ",\"address\":" + json_string(e.address) + "}";
    }
    std::cout << out << "]" << std::endl;
  } else {
    for (auto& e : *experts)
      std::printf("%s\t%s\t%s\n", e.uid.c_str(), e.address.c_str(),
                  e.peer_id.c_str());
    std::fprintf(stderr, "%zu experts under %s\n", experts->size(),
                 args.prefix.c_str());
  }
  return 0;
}

} // namespace

void add_dht_commands(CLI::App& app) {
  {
    auto args = std::make_shared<experts_args>();
    auto* cmd =
        app.add_subcommand("experts", "list experts declared in the DHT");
    add_common_flags(cmd, args->common);
    cmd->add_option("prefix", args->prefix, "uid prefix, e.g. 'ffn.'");
    cmd->add_flag("--json", args->json, "print one JSON line");
    cmd->callback([args] { exit_with(run_experts(*args)); });
  }
  {
    auto args = std::make_shared<dht_args>();
    auto* cmd = app.add_subcommand("dht", "run a DHT node");
    cmd->add_option("--config", args->config_path, "node config (TOML)");
    cmd->add_option("--set", args->overrides, "override a config key");
    cmd->add_option("--listen", args->listen, "HOST:PORT to accept on");
    cmd->add_option("--initial-peers", args->initial_peers,
                    "peers to join through")
        ->allow_extra_args(false)
        ->delimiter(',');
    cmd->add_option("--address-file", args->address_file,
                    "write HOST:PORT here once accepting connections");
    cmd->add_option("--refresh-period", args->refresh_period,
                    "seconds between status reports");
    cmd->callback([args] { exit_with(run_dht(*args)); });
  }
  {
    auto args = std::make_shared<store_args>();
    auto* cmd = app.add_subcommand("dht-store", "store a value in the DHT");
    add_common_flags(cmd, args->common);
    cmd->add_option("key", args->key, "key")->required();
    cmd->add_option("value", args->value, "value")->required();
    cmd->add_option("--subkey", args->subkey, "store under this subkey")
        ->each([args](const std::string&) { args->has_subkey = true; });
    cmd->add_option("--expiration", args->expiration,
                    "seconds from now until the value expires");
    cmd->callback([args] { exit_with(run_store(*args)); });
  }
  {
    auto args = std::make_shared<get_args>();
    auto* cmd = app.add_subcommand("dht-get", "find a value in the DHT");
    add_common_flags(cmd, args->common);
    cmd->add_option("key", args->key, "key")->required();
    cmd->add_flag("--latest", args->latest,
                  "ask every replica on the way for the newest value");
    cmd->add_flag("--json", args->json, "print one JSON line");
    cmd->callback([args] { exit_with(run_get(*args)); });
  }
}

} // namespace colony::apps
