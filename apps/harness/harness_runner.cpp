#include "apps/harness/harness_runner.hpp"

#include "actors/control/control_client.hpp"
#include "apps/harness/garbage_sender.hpp"
#include "apps/node/node.hpp"
#include "apps/node/node_config.hpp"
#include "apps/output/metrics_csv.hpp"
#include "apps/swarm/swarm_launcher.hpp"
#include "messages/error.hpp"
#include "runtime/signals.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

namespace colony::apps {

namespace {

using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;

/// Deadline of a control call that changes something.
constexpr milliseconds control_timeout{3000};
/// Garbage connections open at once, and how long each waits for the node
/// to close it.
constexpr size_t garbage_parallel = 16;
constexpr milliseconds garbage_wait{1000};
/// How long trainers get to finish their final evaluation once stopped.
constexpr milliseconds trainer_stop_grace{180000};

double unix_now() {
  return std::chrono::duration<double>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string format_seconds(double t) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f s", t);
  return buf;
}

/// The round settings of the swarm's collaborative trainers (the largest
/// of each), or nullopt if none trains collaboratively. Configs were
/// checked before the run.
std::optional<collaboration_settings>
collaboration_of(const swarm_spec& swarm) {
  std::optional<collaboration_settings> out;
  for (const auto& n : swarm.nodes) {
    if (n.role != swarm_role::trainer)
      continue;
    auto cfg = load_node_config(n.config, n.overrides);
    if (!cfg || !cfg->trainer.collaborative)
      continue;
    const auto& o = cfg->trainer.collaboration;
    auto seconds = [](std::chrono::milliseconds ms) {
      return static_cast<double>(ms.count()) / 1000;
    };
    if (!out)
      out.emplace();
    out->matchmaking_s =
        std::max(out->matchmaking_s, seconds(o.matchmaking_time));
    out->averaging_timeout_s =
        std::max(out->averaging_timeout_s,
                 seconds(o.allreduce_timeout.value_or(o.averaging_timeout)));
  }
  return out;
}

/// One run's moving parts.
class harness_session {
 public:
  harness_session(const harness_scenario& scenario,
                  const harness_options& options, harness_run& run)
      : scenario_(scenario), options_(options), run_(run),
        launcher_(options.colony_binary, options.out_dir) {}

  /// Starts the harness's own node and the swarm. False on failure.
  bool start();

  /// Samples, fires faults, until the scenario's time is up, every trainer
  /// ended, or a shutdown signal arrived.
  void run_timeline();

  /// Stops everything: trainers first (they evaluate), then the rest.
  void finish();

 private:
  void say(const std::string& text) const {
    if (options_.say)
      options_.say(text);
  }
  [[nodiscard]] double now_s() const {
    return std::chrono::duration<double>(clock_type::now() - t0_).count();
  }
  [[nodiscard]] bool running(size_t i) {
    const auto& m = launcher_.members()[i];
    return !m.held && !m.exit_status;
  }
  void sample(double t, milliseconds timeout);
  void check_exits(double t);
  [[nodiscard]] uint64_t leading_step() const;
  [[nodiscard]] std::vector<size_t> pick(const node_selector& selector,
                                         const std::vector<size_t>& eligible,
                                         std::mt19937_64& rng) const;
  applied_fault apply(const fault_spec& fault, size_t index);
  void apply_to(const fault_spec& fault, size_t member, std::mt19937_64& rng,
                applied_fault& out);
  void record_exit(size_t i, int status, bool expected, double t);

  const harness_scenario& scenario_;
  const harness_options& options_;
  harness_run& run_;
  std::unique_ptr<node> node_;
  std::unique_ptr<control::control_client> client_;
  swarm_launcher launcher_;
  clock_type::time_point t0_;
  /// Per member: the transport faults it has now.
  std::vector<fault_settings> faults_;
};

bool harness_session::start() {
  node_config cfg;
  cfg.client_mode = true;
  cfg.log_level = "error";
  cfg.compute_threads = 1;
  cfg.identity_path =
      (std::filesystem::path{options_.out_dir} / "harness.key").string();
  std::error_code ec;
  std::filesystem::create_directories(options_.out_dir, ec);
  auto started = node::start(cfg);
  if (!started) {
    run_.failure =
        "cannot start the harness's node: " + describe(started.error());
    return false;
  }
  node_ = std::move(*started);
  client_ = std::make_unique<control::control_client>(node_->system(),
                                                      node_->transport());
  auto me = node_->me().peer_id().to_string();
  std::vector<std::pair<swarm_role, std::string>> extra;
  for (auto role : {swarm_role::dht, swarm_role::server, swarm_role::trainer})
    extra.emplace_back(role, "node.control_peers=" + me);
  launcher_.keep_member_state(true);
  launcher_.hold_back(scenario_.held_back());
  auto timeout =
      milliseconds(static_cast<int64_t>(scenario_.start_timeout_s * 1000));
  auto err = launcher_.start(
      scenario_.swarm, extra,
      [this](const swarm_member& m, size_t done, size_t total) {
        say((m.held ? "held back " : "started ") + m.name + " (" +
            std::to_string(done) + "/" + std::to_string(total) + ")" +
            (m.address.empty() ? "" : " at " + m.address));
      },
      timeout);
  if (!err)
    for (auto& m : launcher_.members())
      if (m.role == swarm_role::trainer && m.address.empty() && !m.held)
        if ((err = launcher_.await_address(m, timeout)))
          err = make_error(errc::io_error, m.name + " " + error_reason(err));
  for (auto& m : launcher_.members()) {
    harness_node n;
    n.name = m.name;
    n.role = m.role;
    n.address = m.address;
    n.log_path = m.log_path;
    n.metrics_csv = m.metrics_csv;
    run_.nodes.push_back(std::move(n));
  }
  faults_.resize(launcher_.members().size());
  run_.collaboration = collaboration_of(scenario_.swarm);
  if (err) {
    run_.failure = "the swarm did not start: " + error_reason(err);
    return false;
  }
  t0_ = clock_type::now();
  run_.training_started_at = unix_now();
  say("swarm up: " + std::to_string(run_.nodes.size()) + " nodes");
  return true;
}

void harness_session::record_exit(size_t i, int status, bool expected,
                                  double t) {
  auto& n = run_.nodes[i];
  n.exits.push_back(status);
  if (expected) {
    n.expected_exits.push_back(status);
  } else {
    n.crashes.emplace_back(status, t);
    say(n.name + " exited unexpectedly with status " + std::to_string(status) +
        "; log: " + launcher_.members()[i].log_path);
  }
}

void harness_session::check_exits(double t) {
  auto& members = launcher_.members();
  for (size_t i = 0; i < members.size(); ++i) {
    if (!running(i))
      continue;
    auto status = members[i].process.wait_for(milliseconds(0));
    if (status < 0)
      continue;
    members[i].exit_status = status;
    // A trainer ends by itself at its max_time or max_steps.
    bool expected = members[i].role == swarm_role::trainer && status == 0;
    if (expected)
      say(members[i].name + " finished training");
    record_exit(i, status, expected, t);
  }
}

void harness_session::sample(double t, milliseconds timeout) {
  std::vector<std::string> addresses;
  std::vector<size_t> who;
  for (size_t i = 0; i < run_.nodes.size(); ++i)
    if (running(i) && !run_.nodes[i].address.empty()) {
      addresses.push_back(run_.nodes[i].address);
      who.push_back(i);
    }
  auto statuses = client_->status_all(addresses, timeout);
  for (size_t k = 0; k < who.size(); ++k) {
    node_sample s;
    s.t = t;
    if (statuses[k]) {
      s.answered = true;
      s.status = std::move(*statuses[k]);
    } else {
      s.error = error_reason(statuses[k].error());
    }
    run_.nodes[who[k]].samples.push_back(std::move(s));
  }
}

uint64_t harness_session::leading_step() const {
  uint64_t step = 0;
  for (const auto& n : run_.nodes)
    for (auto it = n.samples.rbegin(); it != n.samples.rend(); ++it)
      if (it->answered && it->status.training) {
        step = std::max(step, it->status.training->step);
        break;
      }
  return step;
}

std::vector<size_t> harness_session::pick(const node_selector& selector,
                                          const std::vector<size_t>& eligible,
                                          std::mt19937_64& rng) const {
  std::vector<size_t> chosen;
  if (!selector.names.empty()) {
    for (auto i : eligible)
      if (std::find(selector.names.begin(), selector.names.end(),
                    run_.nodes[i].name) != selector.names.end())
        chosen.push_back(i);
    return chosen;
  }
  if (!selector.role)
    return chosen;
  std::vector<size_t> pool;
  for (auto i : eligible)
    if (run_.nodes[i].role == *selector.role)
      pool.push_back(i);
  auto wanted = pool.size();
  if (selector.count)
    wanted = std::min(*selector.count, pool.size());
  else if (selector.fraction)
    wanted = std::min(
        pool.size(),
        static_cast<size_t>(std::ceil(
            *selector.fraction * static_cast<double>(pool.size()) - 1e-9)));
  // The bootstrap node stays unless named or needed: restarted nodes and
  // late joiners come in through it.
  if (*selector.role == swarm_role::dht && pool.size() > wanted)
    pool.erase(
        std::remove_if(pool.begin(), pool.end(),
                       [&](size_t i) { return run_.nodes[i].name == "dht-1"; }),
        pool.end());
  std::shuffle(pool.begin(), pool.end(), rng);
  pool.resize(std::min(wanted, pool.size()));
  std::sort(pool.begin(), pool.end());
  return pool;
}

control::control_request faults_request(const fault_settings& f) {
  control::control_request r;
  r.kind = control::control_request::kind_type::set_faults;
  r.faults = f;
  return r;
}

void harness_session::apply_to(const fault_spec& fault, size_t i,
                               std::mt19937_64& rng, applied_fault& out) {
  auto& m = launcher_.members()[i];
  auto& n = run_.nodes[i];
  auto fail = [&](const std::string& why) {
    out.ok = false;
    out.error += (out.error.empty() ? "" : "; ") + n.name + ": " + why;
  };
  switch (fault.action) {
  case fault_action::kill: {
    m.process.signal(SIGKILL);
    auto status = m.process.wait_for(milliseconds(5000));
    m.exit_status = status;
    n.killed = true;
    n.frozen = false;
    record_exit(i, status, true, now_s());
    return;
  }
  case fault_action::freeze:
    m.process.signal(SIGSTOP);
    n.frozen = true;
    return;
  case fault_action::thaw:
    m.process.signal(SIGCONT);
    n.frozen = false;
    return;
  case fault_action::start: {
    auto timeout =
        milliseconds(static_cast<int64_t>(scenario_.start_timeout_s * 1000));
    if (auto err = launcher_.start_held(m, timeout)) {
      fail(error_reason(err));
      return;
    }
    n.address = m.address;
    return;
  }
  case fault_action::restart: {
    auto timeout =
        milliseconds(static_cast<int64_t>(scenario_.start_timeout_s * 1000));
    if (auto err = launcher_.restart(m, timeout)) {
      fail(error_reason(err));
      return;
    }
    n.killed = false;
    n.past_logs.push_back(n.log_path);
    n.log_path = m.log_path;
    faults_[i] = {};
    return;
  }
  case fault_action::garbage: {
    // Connections go out side by side, a bounded number at a time: a
    // truncated frame keeps its connection open until the node's
    // handshake deadline, and one after another would stall the timeline.
    std::vector<std::pair<garbage_kind, uint64_t>> jobs;
    for (const auto& name : fault.garbage_kinds) {
      auto kind = parse_garbage_kind(name);
      if (!kind) {
        fail(error_reason(kind.error()));
        continue;
      }
      for (size_t r = 0; r < fault.repeat; ++r)
        jobs.emplace_back(*kind, rng());
    }
    std::vector<caf::expected<garbage_outcome>> outcomes(
        jobs.size(), caf::expected<garbage_outcome>{garbage_outcome{}});
    for (size_t first = 0; first < jobs.size(); first += garbage_parallel) {
      std::vector<std::thread> threads;
      auto last = std::min(jobs.size(), first + garbage_parallel);
      for (size_t j = first; j < last; ++j)
        threads.emplace_back([&, j] {
          outcomes[j] = send_garbage(n.address, jobs[j].first, jobs[j].second,
                                     garbage_wait);
        });
      for (auto& t : threads)
        t.join();
    }
    size_t sent = 0;
    size_t closed = 0;
    for (size_t j = 0; j < jobs.size(); ++j) {
      if (!outcomes[j]) {
        fail(std::string{to_string(jobs[j].first)} + ": " +
             error_reason(outcomes[j].error()));
        continue;
      }
      ++sent;
      closed += outcomes[j]->closed_by_peer ? 1 : 0;
    }
    auto after = client_->status(n.address, control_timeout);
    out.detail += n.name + ": " + std::to_string(sent) +
                  " malformed connections, " + std::to_string(closed) +
                  " closed by the node, " +
                  (after ? "still answering" : "NOT answering") + "; ";
    if (!after)
      fail("stopped answering after garbage: " + error_reason(after.error()));
    return;
  }
  case fault_action::poison: {
    control::control_request r;
    r.kind = control::control_request::kind_type::poison;
    auto mode = moe::parse_poison_mode(fault.poison_mode);
    r.poison = mode ? *mode : moe::poison_mode::nan;
    r.uids = fault.poison_experts;
    auto reply = client_->call(n.address, r, control_timeout);
    if (!reply)
      fail(error_reason(reply.error()));
    else
      out.detail += n.name + ": " + std::to_string(reply->experts_poisoned) +
                    " experts poisoned; ";
    return;
  }
  default:
    break;
  }
  // The transport faults: delay, drop, partition, heal.
  auto& f = faults_[i];
  f.seed = scenario_.seed + i;
  switch (fault.action) {
  case fault_action::delay:
    f.delay = fault.delay;
    f.jitter = fault.jitter;
    break;
  case fault_action::drop:
    f.drop_rate = fault.drop_rate;
    break;
  case fault_action::partition: {
    std::vector<size_t> alive;
    for (size_t k = 0; k < run_.nodes.size(); ++k)
      if (k != i && running(k))
        alive.push_back(k);
    f.partitioned.clear();
    for (auto k : pick(fault.peers, alive, rng))
      f.partitioned.push_back(run_.nodes[k].address);
    std::string peers;
    for (const auto& a : f.partitioned)
      peers += (peers.empty() ? "" : ", ") + a;
    out.detail += n.name + " cut off from " + peers + "; ";
    break;
  }
  case fault_action::heal:
    f = {};
    break;
  default:
    break;
  }
  auto reply = client_->call(n.address, faults_request(f), control_timeout);
  if (!reply)
    fail(error_reason(reply.error()));
}

applied_fault harness_session::apply(const fault_spec& fault, size_t index) {
  applied_fault out;
  out.t = now_s();
  out.action = fault.action;
  std::mt19937_64 rng{scenario_.seed * 1000003 + index};
  std::vector<size_t> eligible;
  for (size_t i = 0; i < run_.nodes.size(); ++i) {
    const auto& n = run_.nodes[i];
    bool ok = false;
    switch (fault.action) {
    case fault_action::restart:
      ok = n.killed;
      break;
    case fault_action::start:
      ok = launcher_.members()[i].held;
      break;
    case fault_action::freeze:
      ok = running(i) && !n.frozen;
      break;
    case fault_action::thaw:
      ok = running(i) && n.frozen;
      break;
    default:
      ok = running(i);
    }
    if (ok)
      eligible.push_back(i);
  }
  auto targets = pick(fault.targets, eligible, rng);
  for (auto i : targets) {
    out.targets.push_back(run_.nodes[i].name);
    apply_to(fault, i, rng, out);
  }
  if (targets.empty()) {
    out.ok = false;
    out.error = "no eligible node for " + fault.targets.describe();
  }
  if (out.detail.size() >= 2)
    out.detail.resize(out.detail.size() - 2);
  std::string names;
  for (const auto& t : out.targets)
    names += (names.empty() ? "" : ", ") + t;
  say(format_seconds(out.t) + ": " + to_string(fault.action) + " " + names +
      (out.detail.empty() ? "" : " (" + out.detail + ")") +
      (out.ok ? "" : " FAILED: " + out.error));
  return out;
}

void harness_session::run_timeline() {
  const auto& faults = scenario_.faults;
  std::vector<bool> fired(faults.size(), false);
  auto period = scenario_.sample_period_s;
  auto sample_timeout =
      milliseconds(static_cast<int64_t>(std::min(1.0, period * 0.8) * 1000));
  double next_sample = 0;
  double next_note = 10;
  for (;;) {
    auto t = now_s();
    if (t >= scenario_.duration_s)
      break;
    if (wait_for_shutdown_signal(0) != 0) {
      run_.interrupted = true;
      say("interrupted: stopping the swarm");
      break;
    }
    check_exits(t);
    // A swarm without trainers (averaging nodes) runs its full duration.
    bool trainers = false;
    bool trainers_left = false;
    for (size_t i = 0; i < run_.nodes.size(); ++i) {
      bool trainer = run_.nodes[i].role == swarm_role::trainer;
      trainers = trainers || trainer;
      trainers_left = trainers_left || (trainer && running(i));
    }
    if (trainers && !trainers_left) {
      say("every trainer ended");
      break;
    }
    if (t >= next_sample) {
      sample(t, sample_timeout);
      next_sample += period;
      if (next_sample < now_s())
        next_sample = now_s() + period / 2;
    }
    if (options_.inject_faults) {
      auto step = leading_step();
      for (size_t k = 0; k < faults.size(); ++k) {
        if (fired[k])
          continue;
        bool due = (faults[k].at_s && t >= *faults[k].at_s) ||
                   (faults[k].at_step && step >= *faults[k].at_step);
        if (!due)
          continue;
        fired[k] = true;
        run_.faults.push_back(apply(faults[k], k));
      }
    }
    if (t >= next_note) {
      say(format_seconds(t) + " of " + format_seconds(scenario_.duration_s) +
          (trainers
               ? ", leading trainer at step " + std::to_string(leading_step())
               : std::string{}));
      next_note += 10;
    }
    if (wait_for_shutdown_signal(50) != 0) {
      run_.interrupted = true;
      say("interrupted: stopping the swarm");
      break;
    }
  }
  run_.training_s = now_s();
}

void harness_session::finish() {
  auto& members = launcher_.members();
  if (!run_.failure.empty()) {
    launcher_.stop_all(milliseconds(5000));
    return;
  }
  // Frozen nodes must run to stop cleanly.
  for (size_t i = 0; i < members.size(); ++i)
    if (running(i) && run_.nodes[i].frozen) {
      members[i].process.signal(SIGCONT);
      run_.nodes[i].frozen = false;
    }
  // Who is still alive and answering, before anything is stopped.
  check_exits(now_s());
  sample(now_s(), control_timeout);
  for (size_t i = 0; i < members.size(); ++i)
    if (running(i) && !run_.nodes[i].samples.empty())
      run_.nodes[i].answered_at_end = run_.nodes[i].samples.back().answered;
  // Trainers first: each stops after its step and evaluates on the whole
  // test split, against servers that still run.
  say("stopping trainers (final evaluation)");
  for (size_t i = 0; i < members.size(); ++i)
    if (members[i].role == swarm_role::trainer && running(i))
      members[i].process.signal(SIGTERM);
  for (size_t i = 0; i < members.size(); ++i)
    if (members[i].role == swarm_role::trainer && running(i)) {
      auto status = members[i].process.wait_for(trainer_stop_grace);
      if (status < 0)
        status = members[i].process.stop(milliseconds(1000));
      members[i].exit_status = status;
      record_exit(i, status, status == 0, now_s());
    }
  for (auto role : {swarm_role::server, swarm_role::dht}) {
    for (size_t i = 0; i < members.size(); ++i)
      if (members[i].role == role && running(i))
        members[i].process.signal(SIGTERM);
    for (size_t i = 0; i < members.size(); ++i)
      if (members[i].role == role && running(i)) {
        auto status = members[i].process.stop(milliseconds(15000));
        members[i].exit_status = status;
        record_exit(i, status, status == 0, now_s());
      }
  }
  for (auto& n : run_.nodes) {
    auto logs = n.past_logs;
    logs.push_back(n.log_path);
    for (const auto& path : logs) {
      std::ifstream in(path);
      for (std::string line; std::getline(in, line);) {
        if (auto record = parse_round_line(line))
          n.rounds.push_back(std::move(*record));
        else if (auto digest = trainer::parse_digest_line(line))
          n.epochs.push_back(std::move(*digest));
      }
    }
  }
  for (size_t i = 0; i < members.size(); ++i) {
    auto& n = run_.nodes[i];
    if (n.role != swarm_role::trainer || n.metrics_csv.empty())
      continue;
    auto records = read_metrics_csv(n.metrics_csv);
    if (!records)
      continue;
    for (const auto& r : *records) {
      n.final_step = std::max(n.final_step, r.step);
      if (r.test_accuracy)
        n.final_accuracy = r.test_accuracy;
    }
  }
}

} // namespace

harness_run run_harness(const harness_scenario& scenario,
                        const harness_options& options) {
  harness_run run;
  run.scenario = scenario.name;
  run.source_path = scenario.source_path;
  run.started_at = std::chrono::duration<double>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  harness_session session{scenario, options, run};
  if (session.start())
    session.run_timeline();
  session.finish();
  return run;
}

} // namespace colony::apps
