#include "apps/swarm/swarm_launcher.hpp"

#include "apps/node/node_config.hpp"

#include "messages/error.hpp"

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>

namespace colony::apps {

swarm_launcher::swarm_launcher(std::string colony_binary, std::string work_dir)
    : binary_(std::move(colony_binary)), work_dir_(std::move(work_dir)) {
  std::error_code ec;
  std::filesystem::create_directories(work_dir_, ec);
}

swarm_launcher::~swarm_launcher() {
  stop_all(std::chrono::seconds(5));
}

caf::error swarm_launcher::start(
    const swarm_spec& spec,
    const std::vector<std::pair<swarm_role, std::string>>& extra,
    const std::function<void(const swarm_member&, size_t, size_t)>& on_started,
    std::chrono::milliseconds start_timeout) {
  size_t total = 0;
  for (const auto& n : spec.nodes)
    total += n.count;
  size_t started = 0;
  for (auto role : {swarm_role::dht, swarm_role::server, swarm_role::trainer}) {
    size_t index = 0;
    for (const auto& n : spec.nodes) {
      if (n.role != role)
        continue;
      auto overrides = n.overrides;
      for (const auto& [r, o] : extra)
        if (r == role)
          overrides.push_back(o);
      for (size_t i = 0; i < n.count; ++i) {
        // Trainers start together: nothing waits on them.
        if (auto err = start_one(role, ++index, n.config, overrides,
                                 role != swarm_role::trainer, start_timeout))
          return err;
        if (on_started)
          on_started(members_.back(), ++started, total);
      }
    }
  }
  return {};
}

namespace {

/// Whether the node config at `path` (with `overrides`) has `[[experts]]`.
bool hosts_experts(const std::string& path,
                   const std::vector<std::string>& overrides) {
  auto cfg = load_node_config(path, overrides);
  return !cfg || !cfg->experts.empty();
}

} // namespace

caf::error swarm_launcher::start_one(swarm_role role, size_t index,
                                     const std::string& config,
                                     std::vector<std::string> overrides,
                                     bool wait,
                                     std::chrono::milliseconds timeout) {
  swarm_member m;
  m.name = std::string{to_string(role)} + "-" + std::to_string(index);
  m.role = role;
  auto base = (std::filesystem::path{work_dir_} / m.name).string();
  m.log_path = base + ".log";
  auto address_file = base + ".addr";
  std::error_code ec;
  std::filesystem::remove(address_file, ec);
  std::vector<std::string> argv{binary_,
                                role == swarm_role::trainer ? "train" : "run",
                                config, "--address-file", address_file};
  if (!bootstrap_.empty())
    argv.push_back("--set=node.initial_peers=" + bootstrap_);
  if (role == swarm_role::dht)
    argv.push_back("--set=dht.enabled=true");
  if (role == swarm_role::trainer) {
    m.metrics_csv = base + ".csv";
    argv.insert(argv.end(), {"--metrics-csv", m.metrics_csv, "--label", m.name,
                             "--no-progress"});
    // Kept for comparing the trainers of a collaborative run at the end.
    m.final_parameters = base + ".params";
    argv.push_back("--set=trainer.final_parameters=" + m.final_parameters);
  }
  if (keep_member_state_) {
    argv.push_back("--set=node.identity_path=" + base + ".key");
    // Only a server of experts keeps checkpoints (a `--set` of an experts
    // key would give an averaging-only node an expert group).
    if (role == swarm_role::server && hosts_experts(config, overrides))
      argv.push_back("--set=experts.checkpoint_dir=" + base + "-checkpoints");
  }
  for (const auto& o : overrides)
    argv.push_back("--set=" + o);
  m.argv = argv;
  m.address_file = address_file;
  if (std::find(held_back_.begin(), held_back_.end(), m.name) !=
      held_back_.end()) {
    m.held = true;
    members_.push_back(std::move(m));
    return {};
  }
  auto proc = child_process::spawn(argv, m.log_path);
  if (!proc)
    return proc.error();
  m.process = std::move(*proc);
  if (wait) {
    if (auto err = await_address(m, timeout))
      return make_error(errc::io_error,
                        m.name + " (" + config + ") " + error_reason(err));
    if (bootstrap_.empty() && role == swarm_role::dht)
      bootstrap_ = m.address;
  }
  members_.push_back(std::move(m));
  return {};
}

caf::error swarm_launcher::await_address(swarm_member& m,
                                         std::chrono::milliseconds timeout) {
  // In slices, so that a process that dies at start fails at once.
  auto end = std::chrono::steady_clock::now() + timeout;
  caf::expected<std::string> address{std::string{}};
  int status = -1;
  do {
    address =
        wait_for_file_line(m.address_file, std::chrono::milliseconds(200));
    status = address ? -1 : m.process.wait_for(std::chrono::milliseconds(0));
  } while (!address && status < 0 && std::chrono::steady_clock::now() < end);
  if (!address) {
    if (status >= 0)
      m.exit_status = status;
    auto why = status >= 0 ? "exited with status " + std::to_string(status)
                           : std::string{"did not announce its address"};
    return make_error(errc::io_error, why + "; its log " + m.log_path +
                                          " ends with:\n" +
                                          tail_of_file(m.log_path));
  }
  m.address = *address;
  return {};
}

caf::error swarm_launcher::restart(swarm_member& m,
                                   std::chrono::milliseconds timeout) {
  if (!m.exit_status)
    return make_error(errc::invalid_argument,
                      m.name + " is still running; only an exited node can "
                               "be restarted");
  auto argv = m.argv;
  // The same port: peers that knew the node find it where it was.
  if (!m.address.empty())
    argv.push_back("--set=node.listen=" + m.address);
  ++m.restarts;
  m.log_path = (std::filesystem::path{work_dir_} /
                (m.name + "-r" + std::to_string(m.restarts) + ".log"))
                   .string();
  std::error_code ec;
  std::filesystem::remove(m.address_file, ec);
  auto proc = child_process::spawn(argv, m.log_path);
  if (!proc)
    return proc.error();
  m.process = std::move(*proc);
  m.exit_status.reset();
  return await_address(m, timeout);
}

caf::error swarm_launcher::start_held(swarm_member& m,
                                      std::chrono::milliseconds timeout) {
  if (!m.held)
    return make_error(errc::invalid_argument,
                      m.name + " was not held back at launch");
  auto proc = child_process::spawn(m.argv, m.log_path);
  if (!proc)
    return proc.error();
  m.process = std::move(*proc);
  m.held = false;
  return await_address(m, timeout);
}

std::vector<swarm_member*> swarm_launcher::poll_exited() {
  std::vector<swarm_member*> result;
  for (auto& m : members_) {
    if (m.held)
      continue;
    if (!m.exit_status) {
      auto status = m.process.wait_for(std::chrono::milliseconds(0));
      if (status >= 0)
        m.exit_status = status;
    }
    if (m.exit_status)
      result.push_back(&m);
  }
  return result;
}

void swarm_launcher::stop_all(std::chrono::milliseconds grace) {
  for (auto role : {swarm_role::trainer, swarm_role::server, swarm_role::dht}) {
    // Signal a whole role first, then wait: they shut down in parallel.
    for (auto& m : members_)
      if (m.role == role && !m.exit_status && !m.held)
        m.process.signal(SIGTERM);
    for (auto& m : members_)
      if (m.role == role && !m.exit_status && !m.held)
        m.exit_status = m.process.stop(grace);
  }
}

} // namespace colony::apps
