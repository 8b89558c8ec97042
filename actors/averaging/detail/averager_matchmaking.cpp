// The averager's matchmaking: performs what the matchmaking machine asks
// (DHT stores and lookups through the dht_node, calls through the
// transport, timers) and feeds the answers back to it.

#include "actors/averaging/detail/averager_state.hpp"
#include "actors/dht/dht_messages.hpp"
#include "messages/error.hpp"
#include "runtime/transport/transport_atoms.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

namespace colony::averaging::detail {

namespace {

caf::timespan seconds(double s) {
  return std::chrono::duration_cast<caf::timespan>(
      std::chrono::duration<double>(std::max(s, 0.0)));
}

/// Calls the matchmaking service of `to`; `on_reply` or `on_error` follow.
template <class OnReply, class OnError>
void call_peer(averager_actor* self, const peer_contact& to, envelope body,
               caf::timespan timeout, OnReply on_reply, OnError on_error) {
  auto& st = self->state;
  self->request(st.config.transport, caf::infinite, call_atom::value,
                to.address, st.matchmaking_service, std::move(body), timeout)
      .then(std::move(on_reply), std::move(on_error));
}

/// Stores a declaration (`looking` or withdrawn) of this peer under `key`.
void store_declaration(averager_actor* self, const std::string& key,
                       bool looking, double expiration) {
  auto& st = self->state;
  dht::store_request r;
  r.key = key;
  r.subkey = st.config.self.id.to_string();
  r.has_subkey = true;
  r.value = encode_group_declaration(
      group_declaration{looking, st.config.self.address});
  r.expiration = expiration;
  std::vector<dht::store_request> requests{std::move(r)};
  self->request(st.config.dht, st.config.dht_timeout, dht::store_atom::value,
                std::move(requests))
      .then([](const std::vector<bool>&) {},
            [self, key, looking](const caf::error& err) {
              log(self).debug("averager: {} under {} failed: {}",
                              looking ? "declaring" : "withdrawing", key,
                              describe(err));
            });
}

/// The peers declared under `key` in `found`: looking, well-formed ones.
std::vector<group_candidate> candidates_of(const dht::get_result& found) {
  std::vector<group_candidate> out;
  if (!found.found || !found.is_dictionary)
    return out;
  for (const auto& [subkey, value] : found.subkeys) {
    auto id = peer_id::parse(subkey);
    if (!id)
      continue;
    auto decl = decode_group_declaration(value.value);
    if (!decl || !decl->looking)
      continue;
    out.push_back(
        group_candidate{peer_contact{*id, decl->address}, value.expiration});
  }
  return out;
}

void lookup(averager_actor* self, const std::string& key) {
  auto& st = self->state;
  std::vector<std::string> keys{key};
  self->request(st.config.dht, st.config.dht_timeout, dht::get_atom::value,
                std::move(keys), true)
      .then(
          [self, key](const std::vector<dht::get_result>& results) {
            std::vector<group_candidate> found;
            if (!results.empty())
              found = candidates_of(results.front());
            perform(self,
                    self->state.machine->on_candidates(now_dht(), key, found));
          },
          [self, key](const caf::error& err) {
            log(self).debug("averager: lookup of {} failed: {}", key,
                            describe(err));
            perform(self,
                    self->state.machine->on_candidates(now_dht(), key, {}));
          });
}

void send_join(averager_actor* self, const send_join_request& action) {
  auto& st = self->state;
  auto to = action.to.id;
  call_peer(
      self, action.to, encode_join_request(action.request),
      st.config.options.request_timeout,
      [self, to](const envelope& reply) {
        auto response = decode_join_response(reply);
        auto& m = *self->state.machine;
        if (!response) {
          log(self).info("averager: bad join response from {}: {}",
                         to.short_id(), describe(response.error()));
          perform(self, m.on_request_failed(now_dht(), to));
          return;
        }
        perform(self, m.on_join_response(now_dht(), to, *response));
      },
      [self, to](const caf::error& err) {
        log(self).debug("averager: join request to {} failed: {}",
                        to.short_id(), describe(err));
        perform(self, self->state.machine->on_request_failed(now_dht(), to));
      });
}

void await_leader(averager_actor* self, const await_group& action) {
  auto& st = self->state;
  if (!st.step)
    return;
  auto to = action.to.id;
  // The machine gives the leader up by its expiration + request_timeout,
  // which is at most this peer's T + request_timeout.
  auto rt =
      std::chrono::duration<double>(st.config.options.request_timeout).count();
  auto timeout = seconds(st.step->scheduled_time - now_dht() + 2 * rt);
  call_peer(
      self, action.to, encode_await_group(st.step->group_key), timeout,
      [self, to](const envelope& reply) {
        auto word = decode_leader_message(reply);
        auto& m = *self->state.machine;
        if (!word) {
          log(self).info("averager: bad word from leader {}: {}", to.short_id(),
                         describe(word.error()));
          perform(self, m.on_request_failed(now_dht(), to));
          return;
        }
        if (word->kind == leader_message::kind_type::begin_all_reduce)
          perform(self, m.on_begin_all_reduce(now_dht(), to, word->group));
        else
          perform(self, m.on_disband(now_dht(), to, word->suggested_leader));
      },
      [self, to](const caf::error& err) {
        log(self).debug("averager: waiting for leader {} failed: {}",
                        to.short_id(), describe(err));
        perform(self, self->state.machine->on_request_failed(now_dht(), to));
      });
}

/// Gives an accepted follower its leader's word, now or when it asks.
void give_word(averager_actor* self, const peer_id& to, leader_message word) {
  auto& st = self->state;
  auto i = st.followers.find(to);
  if (i == st.followers.end())
    return; // it left
  if (i->second.await) {
    i->second.await->deliver(encode_leader_message(word));
    st.followers.erase(i);
    return;
  }
  i->second.word = std::move(word);
  i->second.since = steady_clock::now();
}

void answer_join(averager_actor* self, const send_join_response& action) {
  auto& st = self->state;
  auto i = st.joins.find(action.to);
  if (i == st.joins.end())
    return;
  auto rp = i->second;
  st.joins.erase(i);
  if (action.response.accepted)
    st.followers[action.to] = follower_slot{{}, {}, steady_clock::now()};
  rp.deliver(encode_join_response(action.response));
}

struct performer {
  averager_actor* self;

  void operator()(const declare_in_dht& a) const {
    store_declaration(self, a.key, true, a.expiration);
  }
  void operator()(const withdraw_from_dht& a) const {
    // A declaration past its expiration is gone everywhere; the DHT would
    // refuse the withdrawal as expired.
    if (a.expiration <= dht::dht_time())
      return;
    store_declaration(self, a.key, false, a.expiration);
  }
  void operator()(const find_candidates& a) const { lookup(self, a.key); }
  void operator()(const send_join_request& a) const { send_join(self, a); }
  void operator()(const await_group& a) const { await_leader(self, a); }
  void operator()(const send_join_response& a) const { answer_join(self, a); }
  void operator()(const send_begin_all_reduce& a) const {
    leader_message word;
    word.kind = leader_message::kind_type::begin_all_reduce;
    word.group = a.group;
    give_word(self, a.to.id, std::move(word));
  }
  void operator()(const send_disband& a) const {
    leader_message word;
    word.kind = leader_message::kind_type::disbanded;
    word.suggested_leader = a.suggested_leader;
    give_word(self, a.to.id, std::move(word));
  }
  void operator()(const send_leave& a) const {
    auto& st = self->state;
    if (!st.step)
      return;
    call_peer(
        self, a.to, encode_leave(st.step->group_key),
        st.config.options.request_timeout, [](const envelope&) {},
        [](const caf::error&) {});
  }
  void operator()(const start_timer& a) const {
    self->delayed_send(self, seconds(a.at - now_dht()), mm_timer_atom::value,
                       a.id);
  }
  void operator()(const group_formed& a) const {
    on_group_formed(self, a.group, a.led);
  }
  void operator()(const group_failed& a) const {
    on_group_failed(self, a.error);
  }
};

} // namespace

void perform(averager_actor* self, const matchmaking_actions& actions) {
  for (const auto& action : actions)
    std::visit(performer{self}, action);
}

caf::result<envelope> serve_matchmaking(averager_actor* self,
                                        const peer_id& caller,
                                        const envelope& body) {
  auto& st = self->state;
  auto request = decode_matchmaking_request(body, caller);
  if (!request) {
    log(self).info("averager: bad matchmaking request from {}: {}",
                   caller.short_id(), describe(request.error()));
    return std::move(request.error());
  }
  switch (request->kind) {
  case matchmaking_request::kind_type::join: {
    auto rp = self->make_response_promise();
    if (auto old = st.joins.find(caller); old != st.joins.end())
      old->second.deliver(encode_join_response(
          join_response::refuse(refusal_reason::duplicate_peer)));
    st.joins[caller] = rp;
    perform(self, st.machine->on_join_request(now_dht(), request->join));
    // The machine answers every request at once; should it not, refuse.
    if (auto left = st.joins.find(caller); left != st.joins.end()) {
      left->second.deliver(encode_join_response(
          join_response::refuse(refusal_reason::not_looking_for_group)));
      st.joins.erase(left);
    }
    return rp;
  }
  case matchmaking_request::kind_type::await_group: {
    auto i = st.followers.find(caller);
    if (i == st.followers.end()) {
      // Not (or no longer) this peer's follower.
      leader_message word;
      word.kind = leader_message::kind_type::disbanded;
      return encode_leader_message(word);
    }
    if (i->second.word) {
      auto reply = encode_leader_message(*i->second.word);
      st.followers.erase(i);
      return reply;
    }
    auto rp = self->make_response_promise();
    if (i->second.await) // a repeated call replaces the first
      i->second.await->deliver(
          make_error(errc::cancelled, "replaced by a later awaitGroup"));
    i->second.await = rp;
    return rp;
  }
  case matchmaking_request::kind_type::leave: {
    perform(self, st.machine->on_leave(now_dht(), caller));
    if (auto i = st.followers.find(caller); i != st.followers.end()) {
      if (i->second.await) {
        leader_message word;
        word.kind = leader_message::kind_type::disbanded;
        i->second.await->deliver(encode_leader_message(word));
      }
      st.followers.erase(i);
    }
    return encode_matchmaking_ack();
  }
  }
  return make_error(errc::malformed, "unknown matchmaking request");
}

} // namespace colony::averaging::detail
