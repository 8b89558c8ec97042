#include "actors/dht/dht_client.hpp"
#include "actors/moe/expert_directory.hpp"
#include "actors/moe/expert_uid.hpp"
#include "apps/cli/checked_options.hpp"
#include "apps/cli/commands.hpp"
#include "apps/cli/config_flags.hpp"
#include "apps/cli/node_launch.hpp"
#include "apps/cli/store_value.hpp"
#include "apps/node/node.hpp"
#include "apps/output/json_text.hpp"
#include "messages/error.hpp"
#include "runtime/signals.hpp"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>

namespace colony::apps {

namespace {

/// The flags every DHT client command (dht-store, dht-get, experts) shares:
/// each one a key of the node config.
const std::vector<config_flag> client_flags = {
    {"--initial-peers", "node.initial_peers",
     "peers to join through (HOST:PORT or multiaddr; repeat or separate "
     "with commas)",
     true},
    {"--swarm-id", "node.swarm_id", "swarm of the peers"},
    {"--wait-timeout", "dht.wait_timeout", "seconds per DHT request"},
};

/// What a DHT client command is: a quiet client-mode node with a DHT.
const std::vector<std::string> client_settings = {
    "node.client_mode=true", "node.log_level=warn", "dht.enabled=true",
    "dht.client_mode=true"};

/// The node config of a DHT client command; 0, or the exit status of a
/// usage error (printed).
int client_config(const config_flags& flags, node_config& out,
                  const std::vector<std::string>& sets = {}) {
  command_config_sources sources;
  sources.flags = &flags;
  sources.sets = sets;
  sources.fixed = client_settings;
  return load_command_config(sources, out);
}

/// Starts the client node and joins the DHT through the initial peers.
caf::expected<std::unique_ptr<node>> join_as_client(const node_config& cfg) {
  auto n = node::start(cfg);
  if (!n)
    return n;
  auto joined = (*n)->join_dht();
  if (!joined)
    return std::move(joined.error());
  return n;
}

/// Deadline of a whole store, get or listing: a lookup takes a few rounds
/// of requests.
std::chrono::milliseconds op_timeout(const node_config& cfg) {
  return cfg.dht.wait_timeout * 10;
}

// -- colony dht
// ----------------------------------------------------------------

/// Fewest seconds between status reports: each one is a log line.
constexpr double min_status_period_s = 0.1;

struct dht_args {
  std::string config_path;
  std::vector<std::string> overrides;
  config_flags flags;
  std::string address_file;
  double refresh_period = 30;
};

int run_dht(const dht_args& args) {
  block_shutdown_signals();
  node_config cfg;
  command_config_sources sources;
  sources.config_path = args.config_path;
  sources.flags = &args.flags;
  sources.sets = args.overrides;
  sources.fixed = {"dht.enabled=true"};
  if (auto rc = load_command_config(sources, cfg))
    return rc;
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
  auto period = std::chrono::duration<double>(args.refresh_period);
  for (;;) {
    auto sig = wait_for_shutdown_signal(period);
    if (sig != 0) {
      nd.log().info("received signal {}, shutting down", sig);
      break;
    }
    if (auto s = client.stats(std::chrono::seconds(5)))
      nd.log().info("routing table: {} peers; storing {} keys ({} records, "
                    "{} cached); refused {} stores ({} over the rate, {} "
                    "over a peer's share)",
                    s->routing_table_size, s->storage_size, s->storage_records,
                    s->cache_size, s->stores_refused, s->stores_rate_limited,
                    s->stores_over_share);
  }
  return 0;
}

// -- colony dht-store / dht-get
// --------------------------------------------------

struct store_args {
  config_flags flags;
  std::vector<std::string> overrides;
  std::string key;
  std::string value_argument; // CLI11 writes here; `value` keeps it
  store_value_source value;
  std::string subkey;
  bool has_subkey = false;
  double expiration = 60;
  bool json = false;
};

int run_store(const store_args& args) {
  node_config cfg;
  if (auto rc = client_config(args.flags, cfg, args.overrides))
    return rc;
  auto value =
      read_store_value(args.value, cfg.transport.max_message_bytes, std::cin);
  if (!value) {
    std::cerr << "colony dht-store: " << error_reason(value.error())
              << std::endl;
    return usage_error_status;
  }
  auto n = join_as_client(cfg);
  if (!n) {
    std::cerr << "colony dht-store: " << describe(n.error()) << std::endl;
    return 1;
  }
  dht::dht_client client{(*n)->system(), (*n)->dht()};
  dht::store_request req{args.key, args.subkey, args.has_subkey,
                         std::move(*value), dht::dht_time() + args.expiration};
  auto ok = client.store_checked(std::move(req), op_timeout(cfg));
  if (!ok) {
    std::cerr << "colony dht-store: " << describe(ok.error()) << std::endl;
    return 1;
  }
  if (args.json) {
    std::string out = "{\"key\":" + json_string(args.key);
    if (args.has_subkey)
      out += ",\"subkey\":" + json_string(args.subkey);
    out += std::string{",\"stored\":"} + (ok->stored ? "true" : "false") +
           ",\"reason\":" +
           (ok->stored ? std::string{"null"} : json_string(ok->refusal));
    std::cout << out << "}" << std::endl;
  } else if (ok->stored) {
    std::cout << "stored" << std::endl;
  } else {
    std::cout << "refused" << std::endl;
    std::cerr << "colony dht-store: refused: " << ok->refusal << std::endl;
  }
  return ok->stored ? 0 : 1;
}

struct get_args {
  config_flags flags;
  std::vector<std::string> overrides;
  std::string key;
  bool latest = false;
  bool json = false;
};

int run_get(const get_args& args) {
  node_config cfg;
  if (auto rc = client_config(args.flags, cfg, args.overrides))
    return rc;
  auto n = join_as_client(cfg);
  if (!n) {
    std::cerr << "colony dht-get: " << describe(n.error()) << std::endl;
    return 1;
  }
  dht::dht_client client{(*n)->system(), (*n)->dht()};
  auto res = client.get(args.key, args.latest, op_timeout(cfg));
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
        // A subkey that is not text is named by its base64 form.
        auto name = is_json_text(sk) ? sk : "base64:" + base64(sk);
        out += (first ? "" : ",") + json_string(name) + ":{" +
               json_bytes_field("value", sv.value) +
               ",\"expiration\":" + json_number(sv.expiration) + "}";
        first = false;
      }
      out += "}";
    } else if (res->found) {
      out += "," + json_bytes_field("value", res->value);
    }
    if (res->found)
      out += ",\"expiration\":" + json_number(res->expiration);
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
  config_flags flags;
  std::string prefix;
  bool json = false;
};

int run_experts(const experts_args& args) {
  if (args.prefix.empty()) {
    std::cerr << "colony experts: name a prefix to list, e.g. 'ffn.' (the "
                 "DHT cannot enumerate all keys)"
              << std::endl;
    return usage_error_status;
  }
  if (!moe::is_valid_prefix(args.prefix)) {
    std::cerr << "colony experts: '" << args.prefix
              << "' is not an expert prefix (e.g. 'ffn.' or 'ffn.3.')"
              << std::endl;
    return usage_error_status;
  }
  node_config cfg;
  if (auto rc = client_config(args.flags, cfg))
    return rc;
  auto n = join_as_client(cfg);
  if (!n) {
    std::cerr << "colony experts: " << describe(n.error()) << std::endl;
    return 1;
  }
  dht::dht_client client{(*n)->system(), (*n)->dht()};
  auto experts = moe::list_experts(client, args.prefix, op_timeout(cfg));
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
    args->flags.add(cmd, client_flags);
    cmd->add_option("prefix", args->prefix, "uid prefix, e.g. 'ffn.'");
    cmd->add_flag("--json", args->json, "print one JSON line");
    cmd->callback([args] { exit_with(run_experts(*args)); });
  }
  {
    auto args = std::make_shared<dht_args>();
    auto* cmd = app.add_subcommand("dht", "run a DHT node");
    cmd->add_option("--config", args->config_path, "node config (TOML)");
    cmd->add_option("--set", args->overrides,
                    "override a config key: section.key=value (repeatable)");
    args->flags.add(
        cmd,
        {{"--listen", "node.listen", "HOST:PORT to accept on"},
         {"--initial-peers", "node.initial_peers",
          "peers to join through (repeat or separate with commas)", true}});
    cmd->add_option("--address-file", args->address_file,
                    "write HOST:PORT here once accepting connections");
    seconds_bounds report;
    report.min = min_status_period_s;
    add_seconds_option(cmd, "--refresh-period", args->refresh_period,
                       "seconds between status reports (default 30)", report);
    cmd->callback([args] { exit_with(run_dht(*args)); });
  }
  {
    auto args = std::make_shared<store_args>();
    auto* cmd = app.add_subcommand("dht-store", "store a value in the DHT");
    args->flags.add(cmd, client_flags);
    cmd->add_option("key", args->key, "key")->required();
    cmd->add_option("value", args->value_argument,
                    "value (at most 128 KiB; else use --value-file)")
        ->each([args](const std::string& v) { args->value.argument = v; });
    cmd->add_option("--value-file", args->value.value_file,
                    "read the value from this file (- for standard input)");
    cmd->add_option("--subkey", args->subkey, "store under this subkey")
        ->each([args](const std::string&) { args->has_subkey = true; });
    add_seconds_option(cmd, "--expiration", args->expiration,
                       "seconds from now until the value expires "
                       "(default 60; nodes refuse more than their "
                       "max_expiration_horizon, 1 day by default)");
    cmd->add_flag("--json", args->json, "print one JSON line");
    cmd->add_option("--set", args->overrides,
                    "override a config key: section.key=value (repeatable), "
                    "e.g. dht.max_value_bytes=65536");
    cmd->callback([args] { exit_with(run_store(*args)); });
  }
  {
    auto args = std::make_shared<get_args>();
    auto* cmd = app.add_subcommand("dht-get", "find a value in the DHT");
    args->flags.add(cmd, client_flags);
    cmd->add_option("key", args->key, "key")->required();
    cmd->add_flag("--latest", args->latest,
                  "ask every replica on the way for the newest value");
    cmd->add_flag("--json", args->json, "print one JSON line");
    cmd->add_option("--set", args->overrides,
                    "override a config key: section.key=value (repeatable)");
    cmd->callback([args] { exit_with(run_get(*args)); });
  }
}

} // namespace colony::apps
