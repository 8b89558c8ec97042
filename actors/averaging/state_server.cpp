#include "actors/averaging/state_server.hpp"

#include "actors/averaging/averager.hpp"
#include "actors/averaging/averaging_atoms.hpp"
#include "actors/averaging/state_codec.hpp"
#include "actors/averaging/state_declaration.hpp"
#include "actors/dht/dht_messages.hpp"
#include "messages/envelope.hpp"
#include "messages/error.hpp"
#include "runtime/transport/transport_atoms.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>
#include <vector>

namespace colony::averaging {

namespace {

// Internal messages of the state server.

/// (declare_atom): store the declaration again (every period).
using declare_atom = caf::atom_constant<caf::atom("ss_decl")>;
/// (sweep_atom): drop idle snapshots.
using sweep_atom = caf::atom_constant<caf::atom("ss_sweep")>;

using steady_clock = std::chrono::steady_clock;

/// A withdrawal expires this long after the last declaration (seconds), so
/// that it replaces it (the later expiration wins in the DHT).
constexpr double withdrawal_margin_s = 1.0;

struct state_server_state {
  static inline const char* name = "state_server";

  state_server_config config;
  std::string service;
  std::string key;
  detail::snapshot_store snapshots;
  /// Start requests waiting for the averager's copy.
  std::vector<caf::response_promise> waiting;
  bool copying = false;
  bool sweep_armed = false;
  std::mt19937_64 rng;
  /// Expiration (DHT time) of the last declaration stored; 0: none yet.
  double declared_until = 0;
};

using server_actor = caf::stateful_actor<state_server_state>;

spdlog::logger& log(server_actor* self) {
  return *self->state.config.log;
}

/// The tag of a caller in log lines, as `peer_id::short_id` makes it.
std::string short_of(const std::string& caller) {
  return caller.substr(caller.size() -
                       std::min(caller.size(), peer_id::short_size));
}

void store(server_actor* self, const state_declaration& declaration,
           double expiration) {
  auto& st = self->state;
  dht::store_request r;
  r.key = st.key;
  r.subkey = st.config.self.id.to_string();
  r.has_subkey = true;
  r.value = encode_state_declaration(declaration);
  r.expiration = expiration;
  std::vector<dht::store_request> requests{std::move(r)};
  self->request(st.config.dht, st.config.dht_timeout, dht::store_atom::value,
                std::move(requests))
      .then(
          [self](const std::vector<bool>& stored) {
            if (stored.empty() || !stored.front())
              log(self).debug("state server {}: no DHT node took the "
                              "declaration",
                              self->state.config.prefix);
          },
          [self](const caf::error& err) {
            log(self).debug("state server {}: declaring failed: {}",
                            self->state.config.prefix, describe(err));
          });
}

/// Declares the averager with its current priority.
void declare(server_actor* self) {
  auto& st = self->state;
  self->request(st.config.averager, st.config.dht_timeout,
                get_state_priority_atom::value)
      .then(
          [self](double priority) {
            auto& st = self->state;
            auto lifetime = std::chrono::duration<double>(
                declaration_lifetime(st.config.declare_state_period));
            st.declared_until = dht::dht_time() + lifetime.count();
            store(self,
                  state_declaration{true, st.config.self.address, priority},
                  st.declared_until);
          },
          [self](const caf::error& err) {
            log(self).debug("state server {}: no priority from the "
                            "averager: {}",
                            self->state.config.prefix, describe(err));
          });
}

/// Stores a withdrawal, fire and forget: the server is stopping.
void withdraw(server_actor* self) {
  auto& st = self->state;
  if (st.declared_until == 0)
    return;
  dht::store_request r;
  r.key = st.key;
  r.subkey = st.config.self.id.to_string();
  r.has_subkey = true;
  r.value = encode_state_declaration(state_declaration{false, {}, 0});
  r.expiration =
      std::max(st.declared_until, dht::dht_time()) + withdrawal_margin_s;
  st.declared_until = 0;
  std::vector<dht::store_request> requests{std::move(r)};
  caf::anon_send(st.config.dht, dht::store_atom::value, std::move(requests));
}

void arm_sweep(server_actor* self) {
  auto& st = self->state;
  if (st.sweep_armed || st.snapshots.empty())
    return;
  st.sweep_armed = true;
  auto every = std::max(st.config.snapshot_idle_timeout / 2,
                        std::chrono::milliseconds{1});
  self->delayed_send(self, every, sweep_atom::value);
}

uint64_t fresh_id(server_actor* self) {
  auto& st = self->state;
  uint64_t id = 0;
  while (id == 0 || st.snapshots.contains(id))
    id = st.rng();
  return id;
}

void fail_waiting(server_actor* self, const caf::error& err) {
  auto& st = self->state;
  st.copying = false;
  log(self).warn("state server {}: no state to serve: {}", st.config.prefix,
                 describe(err));
  for (auto& rp : st.waiting)
    rp.deliver(err);
  st.waiting.clear();
}

/// Keeps `copy`'s snapshot (its parts encoded by the averager) and answers
/// the waiting start requests with its part 0.
void freeze(server_actor* self, uint64_t id, state_copy& copy) {
  auto& st = self->state;
  auto now = steady_clock::now();
  auto parts = copy.snapshot.part_count();
  auto dropped = st.snapshots.add(std::move(copy.snapshot), now);
  log(self).debug("state server {}: snapshot {} of {} parts for {} "
                  "downloader(s); {} older dropped",
                  st.config.prefix, id, parts, st.waiting.size(), dropped);
  arm_sweep(self);
  auto reply = st.snapshots.find(id, now)->encoded_part(0);
  if (!reply) {
    fail_waiting(self, reply.error());
    return;
  }
  st.copying = false;
  for (auto& rp : st.waiting)
    rp.deliver(*reply);
  st.waiting.clear();
}

caf::result<envelope> serve(server_actor* self, const std::string& caller,
                            const envelope& body) {
  auto& st = self->state;
  auto request = decode_state_request(body);
  if (!request) {
    log(self).info("state server {}: bad request from {}: {}", st.config.prefix,
                   short_of(caller), describe(request.error()));
    return std::move(request.error());
  }
  if (request->snapshot == 0) {
    auto rp = self->make_response_promise();
    st.waiting.push_back(rp);
    if (!st.copying) {
      st.copying = true;
      // The averager encodes the parts from its tensors: one copy of the
      // state per snapshot, shared by every download of it.
      auto id = fresh_id(self);
      self->request(st.config.averager, st.config.copy_timeout,
                    get_state_copy_atom::value, id, st.config.parts)
          .then([self, id](state_copy& copy) { freeze(self, id, copy); },
                [self](const caf::error& err) { fail_waiting(self, err); });
    }
    return rp;
  }
  const auto* snapshot =
      st.snapshots.find(request->snapshot, steady_clock::now());
  if (!snapshot) {
    log(self).debug("state server {}: {} asked for snapshot {}, not held",
                    st.config.prefix, short_of(caller), request->snapshot);
    return make_error(errc::invalid_argument,
                      "no state snapshot " + std::to_string(request->snapshot) +
                          " here (dropped or never made): start over");
  }
  auto reply = snapshot->encoded_part(request->part_index);
  if (!reply)
    return std::move(reply.error());
  return std::move(*reply);
}

caf::behavior server_behavior(server_actor* self) {
  auto& st = self->state;
  self->monitor(st.config.averager);
  self->set_down_handler([self](caf::down_msg& msg) {
    if (msg.source != self->state.config.averager.address())
      return;
    withdraw(self);
    self->quit(msg.reason);
  });
  self->set_exit_handler([self](caf::exit_msg& msg) {
    if (!msg.reason)
      return;
    withdraw(self);
    self->quit(msg.reason);
  });
  self->send(self, declare_atom::value);
  return {
      [self](serve_atom, const std::string& service, const std::string& caller,
             const envelope& body) -> caf::result<envelope> {
        if (service != self->state.service)
          return make_error(errc::unknown_service,
                            "the state server has no service '" + service +
                                "'");
        return serve(self, caller, body);
      },
      [self](declare_atom) {
        declare(self);
        self->delayed_send(self, self->state.config.declare_state_period,
                           declare_atom::value);
      },
      [self](sweep_atom) {
        auto& st = self->state;
        st.sweep_armed = false;
        auto dropped = st.snapshots.drop_idle(steady_clock::now(),
                                              st.config.snapshot_idle_timeout);
        if (dropped > 0)
          log(self).debug("state server {}: dropped {} idle snapshot(s)",
                          st.config.prefix, dropped);
        arm_sweep(self);
      },
  };
}

caf::error check(const state_server_config& c) {
  if (!c.averager || !c.transport || !c.dht)
    return make_error(errc::invalid_argument,
                      "a state server needs its averager, transport and DHT");
  if (!c.log)
    return make_error(errc::invalid_argument, "a state server needs a logger");
  if (c.self.id.is_nil() || c.self.address.empty())
    return make_error(errc::invalid_argument,
                      "a state server needs its peer id and the address its "
                      "node listens on");
  if (c.prefix.empty())
    return make_error(errc::invalid_argument, "a state server needs a prefix");
  using std::chrono::milliseconds;
  if (c.declare_state_period <= milliseconds::zero() ||
      c.snapshot_idle_timeout <= milliseconds::zero() ||
      c.copy_timeout <= milliseconds::zero() ||
      c.dht_timeout <= milliseconds::zero())
    return make_error(errc::invalid_argument,
                      "a state server's period and timeouts must be positive");
  if (c.parts.part_size_bytes == 0)
    return make_error(errc::invalid_argument, "part size must be positive");
  return {};
}

} // namespace

caf::expected<caf::actor> spawn_state_server(caf::actor_system& system,
                                             state_server_config config) {
  if (auto err = check(config))
    return err;
  if (config.seed == 0)
    config.seed =
        (uint64_t{std::random_device{}()} << 32) ^ std::random_device{}();
  auto transport = config.transport;
  auto service = state_service(config.prefix);
  auto init = [](server_actor* self, state_server_config cfg) {
    auto& st = self->state;
    st.service = state_service(cfg.prefix);
    st.key = state_declaration_key(cfg.prefix);
    st.snapshots = detail::snapshot_store{cfg.max_snapshots};
    st.rng.seed(cfg.seed);
    st.config = std::move(cfg);
    return server_behavior(self);
  };
  auto server = system.spawn(init, std::move(config));
  caf::scoped_actor self{system};
  caf::error failed;
  self->request(transport, std::chrono::seconds(10),
                register_service_atom::value, service, server)
      .receive([] {}, [&](caf::error& err) { failed = std::move(err); });
  if (failed) {
    self->send_exit(server, caf::exit_reason::user_shutdown);
    return failed;
  }
  return server;
}

} // namespace colony::averaging
