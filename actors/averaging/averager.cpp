#include "actors/averaging/averager.hpp"

#include "actors/averaging/detail/averager_state.hpp"
#include "actors/averaging/group_key.hpp"
#include "actors/averaging/state_loader.hpp"
#include "actors/averaging/state_server.hpp"
#include "actors/averaging/tensor_schema.hpp"
#include "actors/dht/dht_messages.hpp"
#include "messages/error.hpp"
#include "runtime/transport/transport_atoms.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <random>

namespace colony::averaging {

using namespace detail;

std::string matchmaking_service(const std::string& prefix) {
  return "averager/" + prefix + "/matchmaking";
}

std::string allreduce_service(const std::string& prefix) {
  return "averager/" + prefix + "/allreduce";
}

std::string state_service(const std::string& prefix) {
  return "averager/" + prefix + "/state";
}

namespace detail {

double now_dht() {
  return dht::dht_time();
}

std::string who(const averager_actor* self) {
  return self->state.config.self.id.short_id();
}

} // namespace detail

namespace {

/// Least time a retried search looks for peers (seconds): below this a
/// step's remaining time is not worth another search.
constexpr double min_retry_search_s = 0.05;

peer_mode mode_of(const averager_options& o) {
  if (o.client_mode)
    return peer_mode::client;
  if (o.auxiliary)
    return peer_mode::auxiliary;
  return peer_mode::node;
}

/// Starts a search for a group under the current group bits.
void start_search(averager_actor* self) {
  auto& st = self->state;
  auto& step = *st.step;
  auto now = now_dht();
  auto mmt =
      std::chrono::duration<double>(st.config.options.min_matchmaking_time)
          .count();
  step.scheduled_time = std::min(now + mmt, step.deadline);
  auto key = make_group_key(st.config.options.prefix, st.group_bits);
  if (!key) {
    finish_step(self, std::move(key.error()));
    return;
  }
  step.group_key = *key;
  // Accepted followers of an earlier search have had their word.
  auto stale = steady_clock::now() - 2 * st.config.options.request_timeout;
  for (auto i = st.followers.begin(); i != st.followers.end();)
    if (!i->second.await && i->second.since < stale)
      i = st.followers.erase(i);
    else
      ++i;
  st.status.stage = averager_stage::matchmaking;
  auto actions = st.machine->look_for_group(now, step.scheduled_time, *key,
                                            step.request.gathered,
                                            step.request.expected_group_size);
  if (!actions) {
    finish_step(self, std::move(actions.error()));
    return;
  }
  perform(self, *actions);
}

/// Answers the state copies asked for during a round.
void answer_deferred_copies(averager_actor* self);

/// The state as snapshot `id`, its parts encoded straight from the
/// tensors under their lock: the one copy a download needs.
caf::expected<state_copy> take_state_snapshot(averager_actor* self, uint64_t id,
                                              const part_options& plan) {
  auto& st = self->state;
  state_copy copy;
  copy.metadata = st.state_metadata;
  copy.priority = st.state_priority;
  std::unique_lock<std::mutex> guard;
  if (st.config.tensors_lock)
    guard = std::unique_lock<std::mutex>(*st.config.tensors_lock);
  std::vector<at::Tensor> live;
  live.reserve(st.config.tensors.size());
  for (const auto& t : st.config.tensors)
    live.push_back(t.detach());
  auto snapshot = state_snapshot::make(id, st.state_metadata, live, plan);
  if (!snapshot)
    return std::move(snapshot.error());
  if (auto err = snapshot->encode_all())
    return err;
  copy.snapshot = std::move(*snapshot);
  return copy;
}

void answer_deferred_copies(averager_actor* self) {
  auto& st = self->state;
  auto deferred = std::move(st.deferred_snapshots);
  st.deferred_snapshots.clear();
  for (auto& [rp, id, plan] : deferred) {
    auto copy = take_state_snapshot(self, id, plan);
    if (copy)
      rp.deliver(std::move(*copy));
    else
      rp.deliver(std::move(copy.error()));
  }
}

caf::result<step_result> begin_step(averager_actor* self,
                                    step_request& request) {
  auto& st = self->state;
  if (st.step)
    return make_error(errc::invalid_argument, "a step of averager '" +
                                                  st.config.options.prefix +
                                                  "' is under way already");
  if (!std::isfinite(request.weight) || request.weight < 0)
    return make_error(errc::invalid_argument,
                      "step weight must be finite and not negative, got " +
                          std::to_string(request.weight));
  if (request.gathered.size() > max_gathered_bytes)
    return make_error(
        errc::invalid_argument,
        "gathered bytes (" + std::to_string(request.gathered.size()) +
            ") exceed the bound of " + std::to_string(max_gathered_bytes));
  if (request.timeout && request.timeout->count() < 0)
    return make_error(errc::invalid_argument, "negative step timeout");
  step_task task;
  task.serial = st.next_step_serial++;
  task.promise = self->make_response_promise();
  task.began = steady_clock::now();
  task.request = std::move(request);
  if (task.request.timeout) {
    task.deadline =
        now_dht() +
        std::chrono::duration<double>(*task.request.timeout).count();
    // A follower may wait for its leader up to request_timeout past the
    // deadline; after that the search is cancelled.
    self->delayed_send(
        self, *task.request.timeout + st.config.options.request_timeout,
        step_deadline_atom::value, task.serial);
  }
  auto rp = task.promise;
  st.step = std::move(task);
  start_search(self);
  return rp;
}

/// Downloads the state from the peers through a loader of its own; the
/// averager stays free meanwhile.
caf::result<downloaded_state> load_state(averager_actor* self,
                                         caf::timespan timeout) {
  const auto& config = self->state.config;
  state_loader_config lc;
  lc.transport = config.transport;
  lc.dht = config.dht;
  lc.self = config.self.id;
  lc.prefix = config.options.prefix;
  lc.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(timeout);
  lc.request_timeout =
      config.options.next_chunk_timeout.value_or(default_chunk_timeout);
  lc.dht_timeout = config.dht_timeout;
  lc.expected = state_tensor_infos(config.tensors);
  lc.log = config.log;
  auto loader = spawn_state_loader(self->system(), std::move(lc));
  if (!loader)
    return std::move(loader.error());
  auto rp = self->make_response_promise();
  // The loader answers by its own deadline; this one only guards against a
  // loader that vanished.
  self->request(*loader, timeout + std::chrono::seconds(5),
                load_state_atom::value)
      .then(
          [rp](downloaded_state& state) mutable {
            rp.deliver(std::move(state));
          },
          [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

} // namespace

namespace detail {

void on_group_formed(averager_actor* self, const group_info& group, bool led) {
  auto& st = self->state;
  if (!st.step)
    return;
  // The Moshpit update: the next step looks under the next key (hivemind
  // updates the key once the group is assembled).
  auto bits = next_group_bits(st.group_bits, group, st.config.self.id,
                              st.config.options.target_group_size);
  if (bits)
    st.group_bits = std::move(*bits);
  else
    log(self).warn("averager {}: keeps its group bits: {}",
                   st.config.options.prefix, describe(bits.error()));
  log(self).debug("averager {}: {} a group of {} (next bits '{}')",
                  st.config.options.prefix, led ? "leads" : "joined",
                  group.members.size(), st.group_bits);
  st.status.stage = averager_stage::allreduce;
  st.step->group_formed = steady_clock::now();
  st.step->bytes_sent_before = st.status.bytes_sent;
  if (auto err = start_round(self, group))
    finish_step(self, std::move(err));
}

void on_group_failed(averager_actor* self, caf::error error) {
  auto& st = self->state;
  if (!st.step)
    return;
  auto& step = *st.step;
  if (std::isfinite(step.deadline) &&
      now_dht() + min_retry_search_s < step.deadline &&
      !is_error(error, errc::no_group_found)) {
    log(self).debug("averager {}: no group yet ({}); looking again",
                    st.config.options.prefix, describe(error));
    // From a message of its own: the machine's actions are all performed
    // before the next search starts.
    self->send(self, retry_atom::value, step.serial);
    return;
  }
  finish_step(self, std::move(error));
}

void finish_step(averager_actor* self, caf::expected<step_result> result) {
  auto& st = self->state;
  if (st.round) {
    st.finished_rounds.push_back(st.round->group_id);
    if (st.finished_rounds.size() > finished_rounds_kept)
      st.finished_rounds.pop_front();
    st.round.reset();
  }
  st.status.stage = averager_stage::idle;
  st.status.group_bits = st.group_bits;
  if (st.step) {
    auto rp = st.step->promise;
    st.step.reset();
    if (result) {
      ++st.status.steps_succeeded;
      rp.deliver(std::move(*result));
    } else {
      ++st.status.steps_failed;
      log(self).info("averager {}: step failed: {}", st.config.options.prefix,
                     describe(result.error()));
      rp.deliver(std::move(result.error()));
    }
  }
  answer_deferred_copies(self);
}

} // namespace detail

namespace {

caf::behavior averager_behavior(averager_actor* self) {
  return {
      [self](serve_atom, const std::string& service, const std::string& caller,
             const envelope& body) -> caf::result<envelope> {
        auto& st = self->state;
        auto id = peer_id::parse(caller);
        if (!id)
          return make_error(errc::invalid_argument, "unknown caller");
        if (service == st.allreduce_service)
          return serve_allreduce(self, *id, body);
        if (service == st.matchmaking_service)
          return serve_matchmaking(self, *id, body);
        return make_error(errc::unknown_service,
                          "averager has no service '" + service + "'");
      },
      [self](step_atom, step_request& request) -> caf::result<step_result> {
        return begin_step(self, request);
      },
      [self](get_group_bits_atom) { return self->state.group_bits; },
      [self](set_group_bits_atom,
             const std::string& bits) -> caf::result<void> {
        auto& st = self->state;
        if (auto err = validate_group_bits(bits))
          return err;
        if (st.step)
          return make_error(errc::invalid_argument,
                            "group bits cannot change during a step");
        st.group_bits = bits;
        st.status.group_bits = bits;
        return caf::unit;
      },
      [self](get_state_copy_atom, uint64_t id,
             const part_options& plan) -> caf::result<state_copy> {
        auto& st = self->state;
        if (st.round) {
          // Not while the round writes the tensors: after it.
          auto rp = self->make_response_promise();
          st.deferred_snapshots.emplace_back(rp, id, plan);
          return rp;
        }
        auto copy = take_state_snapshot(self, id, plan);
        if (!copy)
          return std::move(copy.error());
        return std::move(*copy);
      },
      [self](set_state_metadata_atom, std::string& metadata) {
        self->state.state_metadata = std::move(metadata);
      },
      [self](set_state_priority_atom, double priority) {
        self->state.state_priority = priority;
      },
      [self](get_state_priority_atom) { return self->state.state_priority; },
      [self](load_state_atom,
             caf::timespan timeout) -> caf::result<downloaded_state> {
        return load_state(self, timeout);
      },
      [self](averager_status_atom) { return self->state.status; },
      // -- internal ----------------------------------------------------------
      [self](mm_timer_atom, uint64_t id) {
        auto& st = self->state;
        perform(self, st.machine->on_timer(now_dht(), id));
      },
      [self](retry_atom, uint64_t serial) {
        auto& st = self->state;
        if (st.step && st.step->serial == serial && !st.round &&
            !st.machine->looking())
          start_search(self);
      },
      [self](step_deadline_atom, uint64_t serial) {
        auto& st = self->state;
        if (!st.step || st.step->serial != serial || st.round)
          return;
        auto reason = make_error(errc::no_group_found,
                                 "no group found within the step's timeout");
        if (st.machine->looking())
          perform(self, st.machine->cancel(now_dht(), reason));
        else
          finish_step(self, std::move(reason));
      },
      [self](round_tick_atom, uint64_t serial) { on_round_tick(self, serial); },
      [self](round_deadline_atom, uint64_t serial) {
        on_round_deadline(self, serial);
      },
      [self](held_sweep_atom) { sweep_held(self); },
  };
}

caf::error check_config(averager_config& config) {
  if (auto err = validate(config.options))
    return err;
  if (!config.transport || !config.dht)
    return make_error(errc::invalid_argument,
                      "an averager needs its node's transport and DHT");
  if (!config.log)
    return make_error(errc::invalid_argument, "an averager needs a logger");
  if (config.self.id.is_nil())
    return make_error(errc::invalid_argument, "an averager needs its peer id");
  if (config.options.client_mode)
    config.self.address.clear();
  else if (config.self.address.empty())
    return make_error(errc::invalid_argument,
                      "an averager that is not in client mode needs the "
                      "address its node listens on");
  if (config.tensors.empty())
    return make_error(errc::invalid_argument, "an averager needs tensors");
  // The same checks a round makes, now rather than at the first step.
  part_options parts{config.options.part_size_bytes, config.options.compression,
                     config.options.tensor_compression};
  int64_t total = 0;
  for (const auto& t : config.tensors)
    if (t.defined())
      total += t.numel();
  auto probe = tensor_parts::make(config.tensors, {total}, parts);
  if (!probe)
    return std::move(probe.error());
  return {};
}

} // namespace

caf::expected<caf::actor> spawn_averager(caf::actor_system& system,
                                         averager_config config) {
  if (auto err = check_config(config))
    return err;
  if (config.seed == 0)
    config.seed =
        (uint64_t{std::random_device{}()} << 32) ^ std::random_device{}();
  auto transport = config.transport;
  auto prefix = config.options.prefix;
  std::optional<state_server_config> server_config;
  if (shares_state(config.options)) {
    state_server_config sc;
    sc.transport = config.transport;
    sc.dht = config.dht;
    sc.self = config.self;
    sc.prefix = prefix;
    sc.declare_state_period = config.options.declare_state_period;
    sc.parts =
        part_options{config.options.part_size_bytes,
                     averaging_compression{config.options.state_compression},
                     {}};
    sc.dht_timeout = config.dht_timeout;
    sc.log = config.log;
    sc.seed = config.seed ^ 0x5ea7'5e4e'0000'0001ull;
    server_config = std::move(sc);
  }
  auto init = [](averager_actor* self, averager_config cfg) {
    auto& st = self->state;
    st.part_opts =
        part_options{cfg.options.part_size_bytes, cfg.options.compression,
                     cfg.options.tensor_compression};
    st.schema_hash = schema_hash(cfg.tensors, st.part_opts);
    st.matchmaking_service = matchmaking_service(cfg.options.prefix);
    st.allreduce_service = allreduce_service(cfg.options.prefix);
    st.group_bits = cfg.options.initial_group_bits;
    st.status.group_bits = st.group_bits;
    matchmaking_options mo;
    mo.self = cfg.self;
    mo.mode = mode_of(cfg.options);
    mo.bandwidth = cfg.options.bandwidth;
    mo.schema_hash = st.schema_hash;
    mo.target_group_size = cfg.options.target_group_size;
    mo.min_group_size = cfg.options.min_group_size;
    mo.request_timeout_s =
        std::chrono::duration<double>(cfg.options.request_timeout).count();
    // Several lookups per search, so that peers whose declarations were not
    // visible at the first one are still found (at most one a second).
    mo.candidate_refresh_s = std::clamp(
        std::chrono::duration<double>(cfg.options.min_matchmaking_time)
                .count() /
            8,
        0.05, 1.0);
    mo.seed = cfg.seed;
    st.machine = std::make_unique<matchmaking>(std::move(mo));
    st.config = std::move(cfg);
    return averager_behavior(self);
  };
  auto averager = system.spawn(init, std::move(config));
  caf::scoped_actor self{system};
  caf::error failed;
  for (const auto& name :
       {matchmaking_service(prefix), allreduce_service(prefix)}) {
    self->request(transport, std::chrono::seconds(10),
                  register_service_atom::value, name, averager)
        .receive([] {}, [&](caf::error& err) { failed = std::move(err); });
    if (failed)
      break;
  }
  if (!failed && server_config) {
    // The server watches the averager and stops with it.
    server_config->averager = averager;
    auto server = spawn_state_server(system, std::move(*server_config));
    if (!server)
      failed = std::move(server.error());
  }
  if (failed) {
    self->send_exit(averager, caf::exit_reason::user_shutdown);
    return failed;
  }
  return averager;
}

} // namespace colony::averaging
