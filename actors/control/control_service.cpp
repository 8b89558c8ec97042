#include "actors/control/control_service.hpp"

#include "actors/control/control_codec.hpp"
#include "actors/dht/dht_messages.hpp"
#include "actors/trainer/trainer.hpp"
#include "messages/error.hpp"
#include "runtime/log_tally.hpp"
#include "runtime/process_memory.hpp"
#include "runtime/transport/transport_atoms.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

namespace colony::control {

namespace {

/// How long the service waits for a local actor's part of a status.
constexpr auto part_timeout = std::chrono::seconds(2);

struct control_state {
  static inline const char* name = "control";
  control_service_config config;
  std::chrono::steady_clock::time_point started;
  fault_settings faults;
  hosted_experts experts;
  /// Uids currently poisoned.
  std::vector<std::string> poisoned;
  std::optional<trainer::training_record> training;
  bool training_finished = false;
};

using control_actor = caf::stateful_actor<control_state>;

/// The parts of a status this actor knows without asking anybody.
node_status own_status(control_actor* self) {
  auto& st = self->state;
  node_status s;
  s.peer_id = st.config.peer_id;
  s.address = st.config.address;
  s.uptime_s = std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                             st.started)
                   .count();
  s.rss_bytes = resident_set_bytes();
  auto tally = process_log_tally();
  s.warnings = tally.warnings;
  s.errors = tally.errors;
  s.has_dht = static_cast<bool>(st.config.dht);
  s.experts_served = static_cast<uint32_t>(st.experts.experts.size());
  s.experts_poisoned = static_cast<uint32_t>(st.poisoned.size());
  s.faults = st.faults;
  s.training = st.training;
  s.training_finished = st.training_finished;
  return s;
}

/// Completes a status with the transport's and the DHT's parts, one after
/// the other, then hands it to `done`. A part that does not come stays zero.
template <class Done>
void gather_status(control_actor* self, Done done) {
  auto s = std::make_shared<node_status>(own_status(self));
  auto& st = self->state;
  auto transport = st.config.transport;
  auto dht = st.config.dht;
  auto with_dht = [self, s, dht, done]() mutable {
    if (!dht) {
      done(*s);
      return;
    }
    self->request(dht, part_timeout, dht::stats_atom::value)
        .then(
            [s, done](const dht::dht_stats& d) mutable {
              s->dht_gets = d.gets;
              s->dht_gets_found = d.gets_found;
              s->dht_stores = d.stores;
              s->dht_stores_accepted = d.stores_accepted;
              s->routing_table_size =
                  static_cast<uint32_t>(d.routing_table_size);
              done(*s);
            },
            [s, done](caf::error&) mutable { done(*s); });
  };
  self->request(transport, part_timeout, connections_atom::value)
      .then(
          [self, s, transport, with_dht](size_t n) mutable {
            s->connections = static_cast<uint32_t>(n);
            self->request(transport, part_timeout, fault_counters_atom::value)
                .then(
                    [s, with_dht](const fault_counters& c) mutable {
                      s->fault_counts = c;
                      with_dht();
                    },
                    [with_dht](caf::error&) mutable { with_dht(); });
          },
          [with_dht](caf::error&) mutable { with_dht(); });
}

/// Answers `rp` with the node's status, encoded.
void reply_status(control_actor* self, caf::response_promise rp) {
  gather_status(self, [rp](const node_status& s) mutable {
    rp.deliver(encode_node_status(s));
  });
}

caf::error apply_poison(control_actor* self, const control_request& req) {
  auto& st = self->state;
  const auto& all = st.experts.experts;
  for (const auto& uid : req.uids)
    if (std::none_of(all.begin(), all.end(),
                     [&](const auto& e) { return e.first == uid; }))
      return make_error(errc::invalid_argument,
                        "this node serves no expert " + uid);
  for (const auto& [uid, actor] : all) {
    bool chosen =
        req.uids.empty() ||
        std::find(req.uids.begin(), req.uids.end(), uid) != req.uids.end();
    if (!chosen)
      continue;
    self->send(actor, moe::poison_atom::value, req.poison);
    auto it = std::find(st.poisoned.begin(), st.poisoned.end(), uid);
    if (req.poison == moe::poison_mode::off && it != st.poisoned.end())
      st.poisoned.erase(it);
    else if (req.poison != moe::poison_mode::off && it == st.poisoned.end())
      st.poisoned.push_back(uid);
  }
  return caf::none;
}

caf::result<envelope> serve(control_actor* self, const std::string& caller,
                            const envelope& body) {
  auto& st = self->state;
  const auto& allowed = st.config.allowed_peers;
  if (std::find(allowed.begin(), allowed.end(), caller) == allowed.end()) {
    st.config.log->warn("control: refused peer {} (not in node.control_peers)",
                        caller);
    return make_error(errc::unknown_service,
                      "no service 'control' for this peer");
  }
  auto req = decode_control_request(body);
  if (!req)
    return std::move(req.error());
  auto rp = self->make_response_promise();
  switch (req->kind) {
  case control_request::kind_type::status:
    reply_status(self, rp);
    break;
  case control_request::kind_type::set_faults:
    st.config.log->warn("control: faults set by {}: delay {} ms +- {} ms, "
                        "drop {}, {} partitioned peers",
                        caller, req->faults.delay.count(),
                        req->faults.jitter.count(), req->faults.drop_rate,
                        req->faults.partitioned.size());
    // The control channel stays reliable under the faults it switches.
    req->faults.exempt = st.config.allowed_peers;
    self->request(st.config.transport, part_timeout, set_faults_atom::value,
                  req->faults)
        .then(
            [self, rp, faults = req->faults]() mutable {
              self->state.faults = faults;
              reply_status(self, rp);
            },
            [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
    break;
  case control_request::kind_type::poison:
    if (auto err = apply_poison(self, *req))
      rp.deliver(std::move(err));
    else
      reply_status(self, rp);
    break;
  }
  return rp;
}

/// `r` as the latest status, keeping from `before` what an evaluation
/// record does not carry anew.
trainer::training_record
merge_record(trainer::training_record r,
             const std::optional<trainer::training_record>& before) {
  if (!before)
    return r;
  if (!r.test_accuracy) {
    r.test_accuracy = before->test_accuracy;
    r.test_loss = before->test_loss;
  }
  // An evaluation record of the same step repeats its progress fields; the
  // progress record's loss and rate are the ones to keep.
  if (r.step == before->step) {
    r.train_loss = before->train_loss;
    r.samples_per_s = before->samples_per_s;
  }
  return r;
}

caf::behavior control_main(control_actor* self, control_service_config config) {
  self->state.config = std::move(config);
  self->state.started = std::chrono::steady_clock::now();
  return {
      [self](serve_atom, const std::string&, const std::string& caller,
             const envelope& body) -> caf::result<envelope> {
        return serve(self, caller, body);
      },
      [self](attach_experts_atom, hosted_experts& experts) {
        self->state.experts = std::move(experts);
      },
      [self](training_report_atom, const trainer::training_record& r,
             bool finished) {
        auto& st = self->state;
        st.training = merge_record(r, st.training);
        st.training_finished = finished;
      },
      [self](node_status_atom) -> caf::result<node_status> {
        auto rp = self->make_response_promise<node_status>();
        gather_status(self,
                      [rp](const node_status& s) mutable { rp.deliver(s); });
        return rp;
      },
  };
}

} // namespace

caf::actor spawn_control_service(caf::actor_system& system,
                                 control_service_config config) {
  return system.spawn(control_main, std::move(config));
}

} // namespace colony::control
