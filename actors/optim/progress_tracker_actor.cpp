#include "actors/optim/progress_tracker_actor.hpp"

#include "actors/dht/dht_messages.hpp"
#include "actors/dht/schema_validator.hpp"
#include "messages/error.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace colony::optim {

namespace {

// Internal timers, each with the serial of the timer it belongs to (a newer
// schedule makes older ones stale).
/// (publish_due_atom, serial): publish the record if it changed.
using publish_due_atom = caf::atom_constant<caf::atom("pt_pubdue")>;
/// (fetch_due_atom, serial): read the records.
using fetch_due_atom = caf::atom_constant<caf::atom("pt_fetdue")>;
/// (keepalive_atom): publish the record before it expires.
using keepalive_atom = caf::atom_constant<caf::atom("pt_keep")>;

using steady_clock = std::chrono::steady_clock;

struct tracker_state {
  static inline const char* name = "progress_tracker";

  progress_tracker_actor_config config;
  std::string key;
  std::string subkey;

  bool publishing = false;
  /// The model changed while a publication was under way or not yet due.
  bool changed = false;
  steady_clock::time_point published_at{};
  /// The epoch last published; a new one is published at once.
  uint64_t published_epoch = 0;
  bool published_once = false;
  uint64_t publish_timer = 0;
  bool publish_timer_armed = false;

  bool fetching = false;
  uint64_t fetch_timer = 0;
  std::vector<caf::response_promise> refreshes;
};

using tracker_actor = caf::stateful_actor<tracker_state>;

spdlog::logger& log(tracker_actor* self) {
  return *self->state.config.log;
}

double in_seconds(std::chrono::milliseconds t) {
  return std::chrono::duration<double>(t).count();
}

dht::store_request record_request(tracker_actor* self,
                                  const progress_record& record) {
  auto& st = self->state;
  dht::store_request r;
  r.key = st.key;
  r.subkey = st.subkey;
  r.has_subkey = true;
  r.value = encode(record);
  r.expiration =
      dht::dht_time() + in_seconds(st.config.options.metadata_expiration);
  return r;
}

void publish(tracker_actor* self);

/// Has the DHT node refuse ill-formed progress records of this run at
/// store time. Sent before the first publication: CAF keeps one sender's
/// messages in order, so the schema is in place for every record after.
void install_progress_schema(tracker_actor* self) {
  auto& st = self->state;
  dht::validator_ptr schema =
      std::make_shared<dht::schema_validator>(std::vector<dht::record_schema>{
          progress_schema(st.config.options.run_id)});
  self->request(st.config.dht, st.config.options.dht_timeout,
                dht::add_validator_atom::value, std::move(schema))
      .then([] {},
            [self](const caf::error& err) {
              log(self).warn("progress of {}: the DHT took no schema: {}",
                             self->state.config.options.run_id, describe(err));
            });
}

/// Publishes now if due, else arms a timer for when it is.
void publish_when_due(tracker_actor* self) {
  auto& st = self->state;
  st.changed = true;
  if (st.publishing)
    return; // published again when the one under way ends
  uint64_t epoch;
  {
    std::lock_guard<std::mutex> guard{st.config.shared->lock};
    epoch = st.config.shared->model.local_epoch();
  }
  auto due = st.published_at + st.config.options.report_period;
  auto now = steady_clock::now();
  if (!st.published_once || epoch != st.published_epoch || now >= due) {
    publish(self);
    return;
  }
  if (st.publish_timer_armed)
    return;
  st.publish_timer_armed = true;
  self->delayed_send(self, due - now, publish_due_atom::value,
                     ++st.publish_timer);
}

void publish(tracker_actor* self) {
  auto& st = self->state;
  progress_record record;
  {
    std::lock_guard<std::mutex> guard{st.config.shared->lock};
    record = st.config.shared->model.local_record();
  }
  st.publishing = true;
  st.changed = false;
  st.published_at = steady_clock::now();
  st.published_epoch = record.epoch;
  st.published_once = true;
  std::vector<dht::store_request> requests{record_request(self, record)};
  self->request(st.config.dht, st.config.options.dht_timeout,
                dht::store_atom::value, std::move(requests))
      .then(
          [self](const std::vector<bool>& stored) {
            self->state.publishing = false;
            if (stored.empty() || !stored.front())
              log(self).debug("progress of {}: no DHT node took the record",
                              self->state.config.options.run_id);
            if (self->state.changed)
              publish_when_due(self);
          },
          [self](const caf::error& err) {
            self->state.publishing = false;
            log(self).debug("progress of {}: publishing failed: {}",
                            self->state.config.options.run_id, describe(err));
            if (self->state.changed)
              publish_when_due(self);
          });
}

void schedule_fetch(tracker_actor* self, double delay_s) {
  auto& st = self->state;
  auto delay = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::duration<double>(std::max(delay_s, 0.0)));
  self->delayed_send(self, delay, fetch_due_atom::value, ++st.fetch_timer);
}

void answer_refreshes(tracker_actor* self, const caf::error& err) {
  auto waiting = std::move(self->state.refreshes);
  self->state.refreshes.clear();
  for (auto& rp : waiting) {
    if (err)
      rp.deliver(err);
    else
      rp.deliver(true);
  }
}

void fetch(tracker_actor* self) {
  auto& st = self->state;
  if (st.fetching)
    return; // the answer of the read under way serves this one too
  st.fetching = true;
  ++st.fetch_timer; // a scheduled read is replaced by this one
  std::vector<std::string> keys{st.key};
  self->request(st.config.dht, st.config.options.dht_timeout,
                dht::get_atom::value, std::move(keys), true)
      .then(
          [self](std::vector<dht::get_result>& found) {
            auto& st = self->state;
            st.fetching = false;
            double next = in_seconds(st.config.options.default_refresh_period);
            if (!found.empty()) {
              auto peers = peer_progress(found.front(), st.config.self);
              auto now = dht::dht_time();
              std::lock_guard<std::mutex> guard{st.config.shared->lock};
              st.config.shared->model.set_peers(std::move(peers));
              auto g = st.config.shared->model.aggregate(now);
              if (g.eta_next_epoch)
                next = g.next_fetch_time - now;
            }
            schedule_fetch(self, next);
            answer_refreshes(self, caf::error{});
          },
          [self](const caf::error& err) {
            auto& st = self->state;
            st.fetching = false;
            log(self).debug("progress of {}: reading failed: {}",
                            st.config.options.run_id, describe(err));
            schedule_fetch(self,
                           in_seconds(st.config.options.min_refresh_period));
            answer_refreshes(self, err);
          });
}

caf::behavior tracker(tracker_actor* self,
                      progress_tracker_actor_config config) {
  auto& st = self->state;
  st.config = std::move(config);
  st.key = progress_key(st.config.options.run_id);
  st.subkey = progress_subkey(st.config.self);
  install_progress_schema(self);
  publish(self);
  fetch(self);
  self->delayed_send(self, st.config.options.metadata_expiration / 3,
                     keepalive_atom::value);
  return {
      [self](progress_changed_atom) { publish_when_due(self); },
      [self](progress_epoch_atom) {
        publish_when_due(self);
        fetch(self);
      },
      [self](progress_refresh_atom) -> caf::result<bool> {
        auto rp = self->make_response_promise();
        self->state.refreshes.push_back(rp);
        fetch(self);
        return rp;
      },
      [self](publish_due_atom, uint64_t serial) {
        auto& st = self->state;
        if (serial != st.publish_timer)
          return;
        st.publish_timer_armed = false;
        if (st.changed)
          publish_when_due(self);
      },
      [self](fetch_due_atom, uint64_t serial) {
        if (serial == self->state.fetch_timer)
          fetch(self);
      },
      [self](keepalive_atom) {
        auto& st = self->state;
        if (!st.publishing)
          publish(self);
        self->delayed_send(self, st.config.options.metadata_expiration / 3,
                           keepalive_atom::value);
      },
      [self](progress_leave_atom) -> caf::result<bool> {
        auto& st = self->state;
        progress_record record;
        {
          std::lock_guard<std::mutex> guard{st.config.shared->lock};
          record = st.config.shared->model.local_record();
        }
        record.left = true;
        record.samples_accumulated = 0;
        record.samples_per_second = 0;
        std::vector<dht::store_request> requests{record_request(self, record)};
        auto rp = self->make_response_promise();
        self->request(st.config.dht, st.config.options.dht_timeout,
                      dht::store_atom::value, std::move(requests))
            .then(
                [rp](const std::vector<bool>& stored) mutable {
                  rp.deliver(!stored.empty() && stored.front());
                },
                [rp](const caf::error& err) mutable { rp.deliver(err); });
        return rp;
      },
  };
}

} // namespace

caf::actor spawn_progress_tracker_actor(caf::actor_system& system,
                                        progress_tracker_actor_config config) {
  return system.spawn(tracker, std::move(config));
}

} // namespace colony::optim
