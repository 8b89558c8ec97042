#pragma once

// Helpers shared by the integration tests: in-process nodes with short
// timeouts, and `colony run` child processes.

#include "apps/node/node.hpp"
#include "apps/swarm/child_process.hpp"
#include "messages/envelope.hpp"
#include "messages/error.hpp"
#include "runtime/transport/transport_atoms.hpp"
#include "tests/support/wait_until.hpp"

#include <caf/all.hpp>
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace colony::testing {

using apps::child_process;
using apps::wait_for_file_line;

/// A node config for tests: loopback, quiet, short timeouts.
inline node_config test_config(std::string swarm = "test") {
  node_config cfg;
  cfg.listen = "127.0.0.1:0";
  cfg.swarm_id = std::move(swarm);
  cfg.log_level = "warn";
  cfg.transport.heartbeat_interval = std::chrono::milliseconds(200);
  cfg.transport.peer_timeout = std::chrono::milliseconds(1500);
  cfg.transport.connect_timeout = std::chrono::milliseconds(2000);
  cfg.transport.handshake_timeout = std::chrono::milliseconds(2000);
  return cfg;
}

/// An `[[experts]]` group for tests: explicit uids, no re-declaration
/// during a test; `optimizer` "none" keeps outputs comparable across calls.
inline expert_group_config expert_group(std::vector<std::string> uids,
                                        std::string cls, int64_t hidden,
                                        std::string optimizer = "adam") {
  expert_group_config g;
  g.expert_uids = std::move(uids);
  g.expert_cls = std::move(cls);
  g.hidden_dim = hidden;
  g.backend.optimizer = std::move(optimizer);
  g.update_period = std::chrono::hours(1);
  return g;
}

/// An `[[experts]]` group for tests whose experts never learn (optimizer
/// "none"), so outputs compare across calls.
inline expert_group_config frozen_expert_group(std::vector<std::string> uids,
                                               std::string cls,
                                               int64_t hidden) {
  return expert_group(std::move(uids), std::move(cls), hidden, "none");
}

inline std::unique_ptr<node> start_node(const node_config& cfg) {
  auto n = node::start(cfg);
  if (!n) {
    ADD_FAILURE() << "node did not start: " << describe(n.error());
    return nullptr;
  }
  return std::move(*n);
}

/// Calls `service` at `address` from `from` and waits for the outcome.
inline caf::expected<envelope>
call(node& from, const std::string& address, const std::string& service,
     envelope body,
     std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  caf::scoped_actor self{from.system()};
  caf::expected<envelope> result{caf::error{}};
  self->request(from.transport(), caf::infinite, call_atom::value, address,
                service, std::move(body), caf::timespan{timeout})
      .receive([&](envelope& reply) { result = std::move(reply); },
               [&](caf::error& err) { result = std::move(err); });
  return result;
}

/// Registers `handler` as `name` on `n`'s transport.
inline void register_service(node& n, const std::string& name,
                             const caf::actor& handler) {
  caf::scoped_actor self{n.system()};
  self->request(n.transport(), caf::infinite, register_service_atom::value,
                name, handler)
      .receive([] {}, [](caf::error&) {});
}

/// An in-process expert server (no DHT) serving `groups`, and a client-mode
/// node beside it to call from.
struct local_expert_server {
  std::unique_ptr<node> server;
  std::unique_ptr<node> client;

  explicit local_expert_server(std::vector<expert_group_config> groups) {
    auto cfg = test_config();
    cfg.experts = std::move(groups);
    server = start_node(cfg);
    if (server)
      if (auto err = server->host_experts()) {
        ADD_FAILURE() << describe(err);
        server.reset();
      }
    auto ccfg = test_config();
    ccfg.client_mode = true;
    client = start_node(ccfg);
  }

  bool ok() const { return server && client; }
  const std::string& address() const { return server->address(); }
};

/// A DHT node that is also the client, and an expert server joined to it
/// that declares `groups` (none: only the DHT node).
struct dht_expert_swarm {
  std::unique_ptr<node> client;
  std::unique_ptr<node> server;

  explicit dht_expert_swarm(std::vector<expert_group_config> groups) {
    auto ccfg = test_config();
    ccfg.dht_enabled = true;
    client = start_node(ccfg);
    if (!client)
      return;
    (void)client->join_dht();
    if (groups.empty())
      return;
    auto scfg = test_config();
    scfg.dht_enabled = true;
    scfg.initial_peers = {client->address()};
    scfg.experts = std::move(groups);
    server = start_node(scfg);
    if (!server)
      return;
    if (auto joined = server->join_dht(); !joined)
      ADD_FAILURE() << describe(joined.error());
    if (auto err = server->host_experts()) {
      ADD_FAILURE() << describe(err);
      server.reset();
    }
  }

  [[nodiscard]] bool ok(bool with_server = true) const {
    return client && (server || !with_server);
  }
};

struct temp_dir;

/// Runs `colony ARGS...` to completion in `dir`; returns (exit status,
/// output).
inline std::pair<int, std::string> run_colony(const temp_dir& dir,
                                              std::vector<std::string> args);

/// A scratch directory removed at the end of the test.
struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    path = std::filesystem::temp_directory_path() /
           ("colony-test-" + std::to_string(::getpid()) + "-" +
            std::to_string(counter()++));
    std::filesystem::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string file(const std::string& name) const {
    return (path / name).string();
  }
  static int& counter() {
    static int n = 0;
    return n;
  }
};

inline std::pair<int, std::string> run_colony(const temp_dir& dir,
                                              std::vector<std::string> args) {
  args.insert(args.begin(), COLONY_BINARY);
  auto log = dir.file("colony-cli.log");
  auto proc = child_process::spawn(args, log);
  if (!proc)
    return {-1, describe(proc.error())};
  auto rc = proc->wait_for(std::chrono::seconds(60));
  std::ifstream in(log);
  return {rc, std::string(std::istreambuf_iterator<char>(in), {})};
}

/// A `colony run` child process with its address; stopped on destruction.
struct node_process {
  child_process proc;
  std::string address;
  std::string log_path;

  static std::optional<node_process>
  start(const temp_dir& dir, const std::string& name,
        const std::string& toml = "",
        const std::vector<std::string>& extra = {}) {
    auto cfg = dir.file(name + ".toml");
    std::ofstream(cfg) << toml;
    auto addr_file = dir.file(name + ".addr");
    std::filesystem::remove(addr_file); // never read a previous run's
    std::vector<std::string> argv{COLONY_BINARY, "run", cfg, "--address-file",
                                  addr_file};
    argv.insert(argv.end(), extra.begin(), extra.end());
    node_process result;
    result.log_path = dir.file(name + ".log");
    auto proc = child_process::spawn(argv, result.log_path);
    if (!proc) {
      ADD_FAILURE() << describe(proc.error());
      return std::nullopt;
    }
    result.proc = std::move(*proc);
    auto addr = wait_for_file_line(addr_file, std::chrono::seconds(20));
    if (!addr) {
      ADD_FAILURE() << "node " << name << " did not start";
      return std::nullopt;
    }
    result.address = *addr;
    return result;
  }

  /// Sends SIGSTOP and waits until every thread of the process is stopped
  /// (group stop is asynchronous: a fast request could still be answered).
  bool freeze() {
    proc.signal(SIGSTOP);
    auto stopped = [](const std::filesystem::path& stat_file) {
      std::ifstream in(stat_file);
      std::string stat((std::istreambuf_iterator<char>(in)), {});
      auto pos = stat.rfind(')');
      return pos != std::string::npos && pos + 2 < stat.size() &&
             stat[pos + 2] == 'T';
    };
    auto tasks = "/proc/" + std::to_string(proc.pid()) + "/task";
    auto all_stopped = [&] {
      bool all = true;
      std::error_code ec;
      for (auto& task : std::filesystem::directory_iterator(tasks, ec))
        all = all && stopped(task.path() / "stat");
      return all && !ec;
    };
    return wait_until(std::chrono::seconds(5), all_stopped,
                      std::chrono::milliseconds(2));
  }

  /// Resident set size of the process in KiB (from /proc).
  long rss_kib() const {
    std::ifstream in("/proc/" + std::to_string(proc.pid()) + "/status");
    std::string line;
    while (std::getline(in, line))
      if (line.rfind("VmRSS:", 0) == 0)
        return std::stol(line.substr(6));
    return -1;
  }

  std::string log() const {
    std::ifstream in(log_path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
};

} // namespace colony::testing
