#include "actors/averaging/state_loader.hpp"

#include "actors/averaging/averager.hpp"
#include "actors/averaging/state_declaration.hpp"
#include "actors/dht/dht_messages.hpp"
#include "messages/envelope.hpp"
#include "messages/error.hpp"
#include "runtime/transport/transport_atoms.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>

namespace colony::averaging {

namespace {

/// (deadline_atom): the download's time is up.
using deadline_atom = caf::atom_constant<caf::atom("sl_dead")>;

using steady_clock = std::chrono::steady_clock;

/// How much longer than the loader's own deadline the blocking helper
/// waits for its answer before it gives the loader up.
constexpr std::chrono::seconds answer_margin{5};

struct loader_state {
  static inline const char* name = "state_loader";

  state_loader_config config;
  std::string service;
  std::string key;
  std::optional<caf::response_promise> promise;
  steady_clock::time_point deadline;
  bool done = false;
  /// The peers to ask, in order, and the next one.
  std::vector<state_source> sources;
  size_t next_source = 0;
  /// Why each peer asked so far failed, for the final error.
  std::vector<std::string> failures;
  std::mt19937_64 rng;

  // -- the download from the current peer -----------------------------------
  /// Counts peers asked; replies of an earlier peer are ignored.
  uint64_t attempt = 0;
  peer_contact peer;
  std::optional<state_assembler> assembler;
  /// The next part to request, and requests unanswered.
  uint32_t next_part = 0;
  uint32_t in_flight = 0;
};

using loader_actor = caf::stateful_actor<loader_state>;

spdlog::logger& log(loader_actor* self) {
  return *self->state.config.log;
}

std::string failures_of(const loader_state& st) {
  std::string out;
  for (const auto& f : st.failures)
    out += (out.empty() ? "" : "; ") + f;
  return out;
}

void finish(loader_actor* self, caf::expected<downloaded_state> result) {
  auto& st = self->state;
  if (st.done)
    return;
  st.done = true;
  if (st.promise) {
    if (result)
      st.promise->deliver(std::move(*result));
    else
      st.promise->deliver(std::move(result.error()));
  }
  self->quit();
}

caf::timespan left_of(const loader_state& st, std::chrono::milliseconds bound) {
  auto left = st.deadline - steady_clock::now();
  auto t = std::min<caf::timespan>(bound, left);
  return std::max<caf::timespan>(t, std::chrono::milliseconds{1});
}

void try_next(loader_actor* self);

/// The current peer failed with `err`: on to the next.
void give_up_peer(loader_actor* self, uint64_t attempt, const caf::error& err) {
  auto& st = self->state;
  if (st.done || attempt != st.attempt)
    return;
  log(self).info("state loader {}: peer {} did not serve the state: {}",
                 st.config.prefix, st.peer.id.short_id(), describe(err));
  st.failures.push_back(st.peer.id.short_id() + " at " + st.peer.address +
                        ": " + describe(err));
  try_next(self);
}

void on_part(loader_actor* self, uint64_t attempt, const envelope& reply);

void request_part(loader_actor* self, uint64_t snapshot, uint32_t index) {
  auto& st = self->state;
  auto attempt = st.attempt;
  ++st.in_flight;
  self->request(st.config.transport, caf::infinite, call_atom::value,
                st.peer.address, st.service,
                encode_state_request(state_request{snapshot, index}),
                left_of(st, st.config.request_timeout))
      .then([self,
             attempt](const envelope& reply) { on_part(self, attempt, reply); },
            [self, attempt](const caf::error& err) {
              give_up_peer(self, attempt, err);
            });
}

void on_part(loader_actor* self, uint64_t attempt, const envelope& reply) {
  auto& st = self->state;
  if (st.done || attempt != st.attempt)
    return;
  --st.in_flight;
  auto part = decode_state_part(reply, st.config.limits);
  if (!part) {
    give_up_peer(self, attempt, part.error());
    return;
  }
  auto& assembler = *st.assembler;
  if (auto err = assembler.add(std::move(*part))) {
    give_up_peer(self, attempt, err);
    return;
  }
  while (st.in_flight < st.config.parts_in_flight &&
         st.next_part < assembler.part_count())
    request_part(self, assembler.snapshot(), st.next_part++);
  if (st.in_flight > 0)
    return;
  // Every part arrived: a state, or a server that left elements out.
  auto state = assembler.take();
  if (!state) {
    give_up_peer(self, attempt, state.error());
    return;
  }
  log(self).info("state loader {}: downloaded the state of {} ({} parts)",
                 st.config.prefix, st.peer.id.short_id(),
                 assembler.part_count());
  finish(self, std::move(*state));
}

void try_next(loader_actor* self) {
  auto& st = self->state;
  if (st.next_source >= st.sources.size()) {
    finish(self, make_error(errc::unreachable,
                            "none of the " + std::to_string(st.sources.size()) +
                                " peers sharing the state of averager '" +
                                st.config.prefix +
                                "' served it: " + failures_of(st)));
    return;
  }
  ++st.attempt;
  st.peer = st.sources[st.next_source++].peer;
  st.assembler.emplace(st.config.limits, st.config.expected);
  st.next_part = 1; // part 0 names the snapshot and comes first
  st.in_flight = 0;
  log(self).debug("state loader {}: asking {} at {}", st.config.prefix,
                  st.peer.id.short_id(), st.peer.address);
  request_part(self, 0, 0);
}

void look_up(loader_actor* self) {
  auto& st = self->state;
  std::vector<std::string> keys{st.key};
  self->request(st.config.dht, left_of(st, st.config.dht_timeout),
                dht::get_atom::value, std::move(keys), true)
      .then(
          [self](const std::vector<dht::get_result>& results) {
            auto& st = self->state;
            if (!results.empty())
              st.sources =
                  sharing_peers(results.front(), st.config.self, st.rng);
            if (st.sources.empty()) {
              finish(self, make_error(errc::unreachable,
                                      "no peer shares the state of averager '" +
                                          st.config.prefix +
                                          "' (none declared "
                                          "under '" +
                                          st.key + "')"));
              return;
            }
            log(self).debug("state loader {}: {} peer(s) share the state",
                            st.config.prefix, st.sources.size());
            try_next(self);
          },
          [self](const caf::error& err) {
            auto& st = self->state;
            finish(self,
                   make_error(errc::unreachable,
                              "looking up the peers that share the state of "
                              "averager '" +
                                  st.config.prefix +
                                  "' failed: " + describe(err)));
          });
}

caf::behavior loader_behavior(loader_actor* self) {
  auto& st = self->state;
  st.deadline = steady_clock::now() + st.config.timeout;
  self->delayed_send(self, st.config.timeout, deadline_atom::value);
  return {
      [self](load_state_atom) -> caf::result<downloaded_state> {
        auto& st = self->state;
        if (st.promise)
          return make_error(errc::invalid_argument,
                            "a state loader loads once");
        auto rp = self->make_response_promise();
        st.promise = rp;
        look_up(self);
        return rp;
      },
      [self](deadline_atom) {
        auto& st = self->state;
        std::string what = "no state of averager '" + st.config.prefix +
                           "' downloaded within " +
                           std::to_string(st.config.timeout.count()) + " ms";
        if (st.assembler && st.assembler->started())
          what += " (" + std::to_string(st.assembler->missing_parts().size()) +
                  " of " + std::to_string(st.assembler->part_count()) +
                  " parts from " + st.peer.id.short_id() + " missing)";
        if (!st.failures.empty())
          what += "; failed before: " + failures_of(st);
        finish(self, make_error(errc::timeout, std::move(what)));
      },
  };
}

caf::error check(const state_loader_config& c) {
  if (!c.transport || !c.dht)
    return make_error(errc::invalid_argument,
                      "a state loader needs its node's transport and DHT");
  if (!c.log)
    return make_error(errc::invalid_argument, "a state loader needs a logger");
  if (c.prefix.empty())
    return make_error(errc::invalid_argument, "a state loader needs a prefix");
  using std::chrono::milliseconds;
  if (c.timeout <= milliseconds::zero() ||
      c.request_timeout <= milliseconds::zero() ||
      c.dht_timeout <= milliseconds::zero())
    return make_error(errc::invalid_argument,
                      "a state loader's timeouts must be positive");
  if (c.parts_in_flight == 0)
    return make_error(errc::invalid_argument,
                      "a state loader needs at least one part in flight");
  return {};
}

} // namespace

std::vector<state_tensor_info>
state_tensor_infos(const std::vector<at::Tensor>& tensors) {
  std::vector<state_tensor_info> out;
  out.reserve(tensors.size());
  for (const auto& t : tensors)
    out.push_back({t.scalar_type(),
                   std::vector<int64_t>(t.sizes().begin(), t.sizes().end())});
  return out;
}

caf::expected<caf::actor> spawn_state_loader(caf::actor_system& system,
                                             state_loader_config config) {
  if (auto err = check(config))
    return err;
  if (config.seed == 0)
    config.seed =
        (uint64_t{std::random_device{}()} << 32) ^ std::random_device{}();
  auto init = [](loader_actor* self, state_loader_config cfg) {
    auto& st = self->state;
    st.service = state_service(cfg.prefix);
    st.key = state_declaration_key(cfg.prefix);
    st.rng.seed(cfg.seed);
    st.config = std::move(cfg);
    return loader_behavior(self);
  };
  return system.spawn(init, std::move(config));
}

caf::expected<downloaded_state>
load_state_from_peers(caf::actor_system& system, state_loader_config config) {
  auto wait = config.timeout + answer_margin;
  auto loader = spawn_state_loader(system, std::move(config));
  if (!loader)
    return std::move(loader.error());
  caf::scoped_actor self{system};
  caf::expected<downloaded_state> out{caf::error{}};
  self->request(*loader, wait, load_state_atom::value)
      .receive([&](downloaded_state& state) { out = std::move(state); },
               [&](caf::error& err) { out = std::move(err); });
  if (!out && out.error() == caf::sec::request_timeout) {
    self->send_exit(*loader, caf::exit_reason::user_shutdown);
    return make_error(errc::timeout, "the state loader did not answer");
  }
  return out;
}

} // namespace colony::averaging
