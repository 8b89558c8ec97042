// The averager's all-reduce round. As a sender, this peer streams each part
// of each reducer's span (its own span in-process) with at most
// `parts_in_flight` unanswered per reducer and applies the deltas that come
// back; as a reducer, it averages its span's parts as they arrive
// (part_reducer) and answers each sender with its delta.

#include "actors/averaging/allreduce_codec.hpp"
#include "actors/averaging/detail/averager_state.hpp"
#include "actors/averaging/partition.hpp"
#include "messages/error.hpp"
#include "runtime/transport/transport_atoms.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <mutex>

namespace colony::averaging::detail {

namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

const std::string& prefix(averager_actor* self) {
  return self->state.config.options.prefix;
}

/// The lock over the tensors, held while a part is read or written.
std::unique_lock<std::mutex> lock_tensors(averager_actor* self) {
  const auto& m = self->state.config.tensors_lock;
  return m ? std::unique_lock<std::mutex>(*m) : std::unique_lock<std::mutex>();
}

/// The current round if it is round `serial`.
round_state* current(averager_actor* self, uint64_t serial) {
  auto& r = self->state.round;
  return r && r->serial == serial ? r.get() : nullptr;
}

std::string member_name(const round_state& round, uint32_t index) {
  if (index >= round.group.members.size())
    return "member " + std::to_string(index);
  return "member " + std::to_string(index) + " (" +
         round.group.members[index].peer.id.short_id() + ")";
}

/// Answers a part; returns the bytes of the answer.
size_t deliver(caf::response_promise& rp, const part_reply& reply,
               compression_type codec) {
  auto bytes = encode_part_reply(reply, codec);
  if (!bytes) {
    rp.deliver(std::move(bytes.error()));
    return 0;
  }
  auto size = bytes->size();
  rp.deliver(std::move(*bytes));
  return size;
}

/// Answers contributor `k` of `done` with its delta; returns the bytes.
size_t deliver_delta(caf::response_promise& rp, const reduced_part& done,
                     size_t k, compression_type codec) {
  auto bytes = encode_delta_reply(done.part_index, done.average, done.sent[k],
                                  done.dtype, done.contributors, codec);
  if (!bytes) {
    rp.deliver(std::move(bytes.error()));
    return 0;
  }
  auto size = bytes->size();
  rp.deliver(std::move(*bytes));
  return size;
}

void refuse(caf::response_promise& rp, uint32_t part, exclusion_reason reason,
            std::string text) {
  deliver(rp, part_refusal{part, reason, std::move(text)},
          compression_type::none);
}

/// The time between two checks for silent senders.
milliseconds tick_interval(const round_state& round) {
  return std::clamp(round.timeouts.sender / 4, milliseconds(20),
                    milliseconds(1000));
}

// -- sender side
// ----------------------------------------------------------------

/// Marks this peer's parts of `r` that were not sent as kept; none follow.
void stop_stream(round_state& round, uint32_t r) {
  auto& s = round.streams[r];
  s.stopped = true;
  auto n = static_cast<uint32_t>(round.parts.parts(r).size());
  for (auto i = s.next; i < n; ++i)
    round.applier->keep(r, i);
  s.next = n;
}

void send_abort(averager_actor* self, round_state& round, uint32_t r,
                const std::string& reason) {
  auto bytes = encode_reducer_request(
      sender_abort{round.group_id, round.me, reason}, compression_type::none);
  if (!bytes)
    return;
  auto& st = self->state;
  self->request(st.config.transport, caf::infinite, call_atom::value,
                round.group.members[r].peer.address, st.allreduce_service,
                std::move(*bytes),
                caf::timespan{st.config.options.request_timeout})
      .then([](const envelope&) {}, [](const caf::error&) {});
}

void on_reply(averager_actor* self, uint64_t serial, uint32_t r, uint32_t i,
              const envelope& reply);
void on_call_failed(averager_actor* self, uint64_t serial, uint32_t r,
                    uint32_t i, const caf::error& err);

/// Sends this peer's next parts of span `r`, up to `parts_in_flight`.
void send_parts(averager_actor* self, round_state& round, uint32_t r) {
  auto& st = self->state;
  auto& s = round.streams[r];
  const auto& infos = round.parts.parts(r);
  while (!s.stopped && s.in_flight < parts_in_flight && s.next < infos.size()) {
    auto i = s.next++;
    caf::expected<envelope> bytes{caf::error{}};
    {
      // Encoded straight from the tensors (one copy, into the message).
      auto guard = lock_tensors(self);
      part_message part{round.group_id, round.me, i, round.weight,
                        round.parts.view(r, i)};
      // Fault-injection tests only; a hook must clone before writing values.
      if (st.config.tamper_part)
        st.config.tamper_part(part);
      bytes = encode_reducer_request(std::move(part), infos[i].codec);
    }
    if (!bytes) {
      log(self).warn("averager {}: cannot encode part {} for {}: {}",
                     prefix(self), i, member_name(round, r),
                     describe(bytes.error()));
      round.applier->keep(r, i);
      continue;
    }
    ++s.in_flight;
    ++st.status.parts_sent;
    st.status.bytes_sent += bytes->size();
    auto serial = round.serial;
    self->request(st.config.transport, caf::infinite, call_atom::value,
                  round.group.members[r].peer.address, st.allreduce_service,
                  std::move(*bytes), caf::timespan{round.timeouts.reducer})
        .then(
            [self, serial, r, i](const envelope& reply) {
              on_reply(self, serial, r, i, reply);
            },
            [self, serial, r, i](const caf::error& err) {
              on_call_failed(self, serial, r, i, err);
            });
  }
}

void check_done(averager_actor* self);

void on_reply(averager_actor* self, uint64_t serial, uint32_t r, uint32_t i,
              const envelope& reply) {
  auto* round = current(self, serial);
  if (!round)
    return;
  auto& s = round->streams[r];
  --s.in_flight;
  auto& applier = *round->applier;
  if (applier.state(r, i) != part_state::pending) {
    // Settled already (the round's deadline passed).
  } else if (auto decoded = decode_part_reply(reply); !decoded) {
    log(self).warn("averager {}: bad reply from reducer {} for part {}: {}; "
                   "it keeps its local values",
                   prefix(self), member_name(*round, r), i,
                   describe(decoded.error()));
    applier.keep(r, i);
  } else if (auto* delta = std::get_if<part_delta>(&*decoded)) {
    if (delta->part_index != i) {
      log(self).warn("averager {}: reducer {} answered part {} with part {}; "
                     "it keeps its local values",
                     prefix(self), member_name(*round, r), i,
                     delta->part_index);
      applier.keep(r, i);
    } else {
      caf::error err;
      {
        auto guard = lock_tensors(self);
        err = applier.apply(r, i, delta->values);
      }
      if (err)
        log(self).warn("averager {}: reducer {} sent a bad delta: {}",
                       prefix(self), member_name(*round, r), describe(err));
    }
  } else {
    const auto& refusal = std::get<part_refusal>(*decoded);
    applier.keep(r, i);
    if (refusal.reason != exclusion_reason::not_averaged) {
      // Excluded from this part on: later parts would be refused too.
      log(self).info("averager {}: reducer {} refused part {}: {}: {}",
                     prefix(self), member_name(*round, r), i,
                     to_string(refusal.reason), refusal.message);
      stop_stream(*round, r);
    }
  }
  send_parts(self, *round, r);
  check_done(self);
}

void on_call_failed(averager_actor* self, uint64_t serial, uint32_t r,
                    uint32_t i, const caf::error& err) {
  auto* round = current(self, serial);
  if (!round)
    return;
  auto& s = round->streams[r];
  --s.in_flight;
  round->applier->keep(r, i);
  if (!s.stopped) {
    log(self).warn("averager {}: reducer {} failed at part {}: {}; its span "
                   "keeps local values",
                   prefix(self), member_name(*round, r), i, describe(err));
    stop_stream(*round, r);
    // Should it be alive but slow, it need not wait for this peer.
    send_abort(self, *round, r, "gave up after " + describe(err));
  }
  check_done(self);
}

// -- reducer side
// -----------------------------------------------------------------

/// Refuses the parts of `sender` that came ahead of their turn.
void flush_ahead(round_state& round, uint32_t sender, exclusion_reason reason,
                 const std::string& text) {
  auto& inbox = round.inboxes[sender];
  for (auto& [index, entry] : inbox.ahead)
    refuse(entry.second, index, reason, text);
  inbox.ahead.clear();
}

/// Answers what a reducer event settled.
void handle_update(averager_actor* self, round_state& round,
                   reducer_update update) {
  auto& st = self->state;
  if (update.excluded) {
    const auto& ex = *update.excluded;
    ++st.status.senders_excluded;
    log(self).warn("averager {}: excluded {} from part {} of its span on: "
                   "{}: {}",
                   prefix(self), member_name(round, ex.sender), ex.from_part,
                   to_string(ex.reason), ex.message);
    flush_ahead(round, ex.sender, ex.reason, "excluded: " + ex.message);
  }
  auto now = steady_clock::now();
  for (auto& done : update.completed) {
    ++round.own_settled;
    auto codec = round.parts.parts(round.me)[done.part_index].codec;
    for (size_t k = 0; k < done.contributors.size(); ++k) {
      auto c = done.contributors[k];
      if (c == round.me) {
        if (!round.applier)
          continue;
        if (done.averaged) {
          caf::error err;
          {
            auto guard = lock_tensors(self);
            err =
                round.applier->apply(round.me, done.part_index, done.delta(k));
          }
          if (err)
            log(self).warn("averager {}: own part {}: {}", prefix(self),
                           done.part_index, describe(err));
        } else {
          round.applier->keep(round.me, done.part_index);
        }
        continue;
      }
      auto i = round.replies.find({c, done.part_index});
      if (i == round.replies.end())
        continue;
      if (done.averaged)
        self->state.status.bytes_sent +=
            deliver_delta(i->second, done, k, codec);
      else
        refuse(i->second, done.part_index, exclusion_reason::not_averaged,
               "no weight to average");
      round.replies.erase(i);
      auto& inbox = round.inboxes[c];
      --inbox.unanswered;
      inbox.last_heard = now;
    }
  }
}

/// Feeds a sender's part to the reducer; its promise is answered when the
/// part settles, or now if it is refused.
void feed(averager_actor* self, round_state& round, part_message message,
          caf::response_promise rp) {
  auto sender = message.sender;
  auto index = message.part_index;
  auto update = round.reducer->accept(std::move(message));
  if (update.refused) {
    refuse(rp, index, update.refused->reason, update.refused->message);
  } else {
    round.replies[{sender, index}] = std::move(rp);
    ++round.inboxes[sender].unanswered;
  }
  handle_update(self, round, std::move(update));
}

/// Feeds this peer's own parts of its span, keeping `parts_in_flight` ahead
/// of what has settled.
void pump_own(averager_actor* self, round_state& round) {
  if (!round.reducer || !round.applier)
    return;
  auto& reducer = *round.reducer;
  while (round.own_fed < reducer.num_parts() &&
         round.own_fed < round.own_settled + parts_in_flight) {
    auto i = round.own_fed++;
    at::Tensor values;
    {
      auto guard = lock_tensors(self);
      values = round.parts.read(round.me, i);
    }
    part_message part{round.group_id, round.me, i, round.weight,
                      std::move(values)};
    if (self->state.config.tamper_part) // fault-injection tests only
      self->state.config.tamper_part(part);
    auto update = reducer.accept(std::move(part));
    if (update.refused)
      round.applier->keep(round.me, i);
    handle_update(self, round, std::move(update));
  }
}

/// A part or abort of the current round from `caller`.
void process(averager_actor* self, round_state& round, const peer_id& caller,
             reducer_request request, caf::response_promise rp) {
  auto& st = self->state;
  auto* part = std::get_if<part_message>(&request);
  uint32_t claimed =
      part ? part->sender : std::get<sender_abort>(request).sender;
  uint32_t index = part ? part->part_index : 0;
  auto actual = round.group.index_of(caller);
  if (!actual) {
    log(self).warn("averager {}: refused an all-reduce call from {}, not a "
                   "member of the group",
                   prefix(self), caller.short_id());
    refuse(rp, index, exclusion_reason::not_a_sender,
           "not a member of the group");
    return;
  }
  auto caller_index = static_cast<uint32_t>(*actual);
  if (claimed != caller_index) {
    log(self).warn("averager {}: {} claimed to be member {}; it is excluded",
                   prefix(self), member_name(round, caller_index), claimed);
    if (round.reducer)
      handle_update(self, round,
                    round.reducer->exclude(caller_index,
                                           exclusion_reason::not_a_sender,
                                           "claimed another member's index"));
    refuse(rp, index, exclusion_reason::not_a_sender,
           "the sender index is not the caller's");
    return;
  }
  if (!round.reducer) {
    refuse(rp, index, exclusion_reason::failed,
           "this member reduces no span in this round");
    return;
  }
  auto& inbox = round.inboxes[caller_index];
  inbox.last_heard = steady_clock::now();
  if (!part) {
    const auto& abort = std::get<sender_abort>(request);
    handle_update(self, round,
                  round.reducer->exclude(caller_index, exclusion_reason::failed,
                                         "aborted: " + abort.reason));
    flush_ahead(round, caller_index, exclusion_reason::failed, "aborted");
    refuse(rp, 0, exclusion_reason::failed, "abort noted");
    return;
  }
  ++st.status.parts_received;
  if (index > inbox.next && index < inbox.next + 2 * parts_in_flight) {
    // Ahead of its turn: fed once the parts before it came.
    if (auto old = inbox.ahead.find(index); old != inbox.ahead.end())
      refuse(old->second.second, index, exclusion_reason::out_of_order,
             "sent twice");
    inbox.ahead.insert_or_assign(
        index, std::make_pair(std::move(*part), std::move(rp)));
    return;
  }
  // In turn, or out of order beyond repair (the reducer refuses it).
  bool in_turn = index == inbox.next;
  feed(self, round, std::move(*part), std::move(rp));
  if (!in_turn)
    return;
  ++inbox.next;
  for (auto i = inbox.ahead.find(inbox.next); i != inbox.ahead.end();
       i = inbox.ahead.find(inbox.next)) {
    auto entry = std::move(i->second);
    inbox.ahead.erase(i);
    feed(self, round, std::move(entry.first), std::move(entry.second));
    ++inbox.next;
  }
}

/// Holds a call of a round not started here yet.
void hold(averager_actor* self, const peer_id& caller, reducer_request request,
          caf::response_promise rp) {
  auto& st = self->state;
  if (st.held.size() >= max_held_calls) {
    auto& oldest = st.held.front();
    refuse(oldest.promise, 0, exclusion_reason::wrong_group,
           "too many calls for unknown rounds");
    st.held.pop_front();
  }
  st.held.push_back(held_call{caller, std::move(request), std::move(rp),
                              steady_clock::now()});
  if (!st.held_sweep_armed) {
    st.held_sweep_armed = true;
    self->delayed_send(self, milliseconds(100), held_sweep_atom::value);
  }
}

const std::string& group_of(const reducer_request& request) {
  if (auto* part = std::get_if<part_message>(&request))
    return part->group_id;
  return std::get<sender_abort>(request).group_id;
}

/// Ends the step once this peer's parts and its span are settled.
void check_done(averager_actor* self) {
  auto& st = self->state;
  auto* round = st.round.get();
  if (!round)
    return;
  bool sent = !round->applier || round->applier->finished();
  bool reduced =
      !round->reducer || (round->reducer->finished() && round->replies.empty());
  if (!sent || !reduced)
    return;
  for (uint32_t s = 0; s < round->inboxes.size(); ++s)
    flush_ahead(*round, s, exclusion_reason::failed, "the round is over");
  step_result result;
  result.group = round->group;
  result.index = round->me;
  for (const auto& m : round->group.members)
    result.gathered.push_back(m.gathered);
  if (round->applier) {
    result.averaged_parts = round->applier->averaged_parts();
    result.kept_parts = round->applier->kept_parts();
  }
  result.group_bits = st.group_bits;
  if (st.step) {
    auto now = steady_clock::now();
    result.matchmaking_time = std::chrono::duration_cast<microseconds>(
        st.step->group_formed - st.step->began);
    result.allreduce_time =
        std::chrono::duration_cast<microseconds>(now - st.step->group_formed);
    result.bytes_sent = st.status.bytes_sent - st.step->bytes_sent_before;
  }
  if (round->applier && result.averaged_parts == 0 && result.kept_parts > 0) {
    finish_step(self, make_error(errc::allreduce_failed,
                                 "none of this peer's " +
                                     std::to_string(result.kept_parts) +
                                     " parts was averaged; the tensors keep "
                                     "their values"));
    return;
  }
  log(self).debug("averager {}: round of {} done: {} parts averaged, {} kept",
                  prefix(self), round->group.members.size(),
                  result.averaged_parts, result.kept_parts);
  finish_step(self, std::move(result));
}

} // namespace

namespace {

/// The index of `caller` in `round` if this peer's reducer still waits for
/// its parts.
std::optional<uint32_t> waited_member(const round_state& round,
                                      const peer_id& caller) {
  auto index = round.group.index_of(caller);
  if (!index || *index == round.me || !round.reducer)
    return std::nullopt;
  auto waiting = round.reducer->waiting_for();
  auto s = static_cast<uint32_t>(*index);
  if (std::find(waiting.begin(), waiting.end(), s) == waiting.end())
    return std::nullopt;
  return s;
}

/// Excludes member `s` of `round`, which sent another group's id while this
/// peer waits for its parts (it cannot be in another round before it
/// finishes this one), and refuses its call.
void exclude_wrong_group(averager_actor* self, round_state& round, uint32_t s,
                         caf::response_promise& rp) {
  log(self).warn("averager {}: {} sent a part of another group; it is "
                 "excluded",
                 prefix(self), member_name(round, s));
  handle_update(self, round,
                round.reducer->exclude(s, exclusion_reason::wrong_group,
                                       "sent another group's id"));
  refuse(rp, 0, exclusion_reason::wrong_group,
         "not the group id of this round");
}

} // namespace

caf::error start_round(averager_actor* self, const group_info& group) {
  auto& st = self->state;
  auto me = group.index_of(st.config.self.id);
  if (!me)
    return make_error(errc::allreduce_failed, "not a member of the group");
  int64_t total = 0;
  for (const auto& t : st.config.tensors)
    total += t.numel();
  auto spans =
      partition_vector(static_cast<uint64_t>(total), capacities_of(group),
                       st.config.options.min_vector_size);
  if (!spans)
    return make_error(errc::allreduce_failed,
                      "cannot partition: " + describe(spans.error()));
  std::vector<int64_t> sizes;
  for (const auto& span : *spans)
    sizes.push_back(static_cast<int64_t>(span.size()));
  auto parts = tensor_parts::make(st.config.tensors, sizes, st.part_opts);
  if (!parts)
    return make_error(errc::allreduce_failed, describe(parts.error()));
  auto round = std::make_unique<round_state>(std::move(*parts));
  round->serial = st.next_round_serial++;
  round->group = group;
  round->group_id.assign(reinterpret_cast<const char*>(group.id.data()),
                         group.id.size());
  round->me = static_cast<uint32_t>(*me);
  round->contributes = !st.config.options.auxiliary;
  round->weight = st.step ? st.step->request.weight : 1.0;
  round->timeouts = resolve_timeouts(st.config.options);
  std::vector<bool> contributes;
  for (const auto& m : group.members)
    contributes.push_back(m.mode != peer_mode::auxiliary);
  if (round->contributes)
    round->applier.emplace(round->parts, st.config.options.averaging_alpha);
  if (!round->parts.parts(round->me).empty())
    round->reducer.emplace(round->group_id, round->parts.parts(round->me),
                           contributes);
  auto now = steady_clock::now();
  round->inboxes.resize(group.members.size());
  for (auto& inbox : round->inboxes)
    inbox.last_heard = now;
  round->streams.resize(group.members.size());
  st.round = std::move(round);
  auto& r = *st.round;
  if (r.reducer)
    self->delayed_send(self, tick_interval(r), round_tick_atom::value,
                       r.serial);
  if (r.timeouts.allreduce)
    self->delayed_send(self, *r.timeouts.allreduce, round_deadline_atom::value,
                       r.serial);
  if (r.applier)
    for (uint32_t m = 0; m < group.members.size(); ++m)
      if (m != r.me)
        send_parts(self, r, m);
  pump_own(self, r);
  // Calls that came before this peer knew the group.
  std::deque<held_call> mine;
  for (auto i = st.held.begin(); i != st.held.end();)
    if (group_of(i->request) == r.group_id) {
      mine.push_back(std::move(*i));
      i = st.held.erase(i);
    } else {
      ++i;
    }
  for (auto& call : mine)
    process(self, r, call.caller, std::move(call.request),
            std::move(call.promise));
  // Held calls of a member of this round under another group id: wrong.
  for (auto i = st.held.begin(); i != st.held.end();) {
    auto s = waited_member(r, i->caller);
    if (!s) {
      ++i;
      continue;
    }
    exclude_wrong_group(self, r, *s, i->promise);
    i = st.held.erase(i);
  }
  pump_own(self, r);
  check_done(self);
  return {};
}

caf::result<envelope> serve_allreduce(averager_actor* self,
                                      const peer_id& caller,
                                      const envelope& body) {
  auto& st = self->state;
  auto request = decode_reducer_request(body);
  if (!request) {
    log(self).warn("averager {}: bad all-reduce call from {}: {}", prefix(self),
                   caller.short_id(), describe(request.error()));
    return std::move(request.error());
  }
  auto rp = self->make_response_promise();
  const auto& group = group_of(*request);
  if (!st.round || st.round->group_id != group) {
    auto over = std::find(st.finished_rounds.begin(), st.finished_rounds.end(),
                          group) != st.finished_rounds.end();
    if (over) {
      refuse(rp, 0, exclusion_reason::wrong_group, "the round is over");
    } else if (auto s =
                   st.round ? waited_member(*st.round, caller) : std::nullopt) {
      // A member this peer still waits for cannot be in another round (it
      // would have to finish this one first): its group id is wrong.
      auto& round = *st.round;
      exclude_wrong_group(self, round, *s, rp);
      pump_own(self, round);
      check_done(self);
    } else {
      hold(self, caller, std::move(*request), rp);
    }
    return rp;
  }
  auto& round = *st.round;
  process(self, round, caller, std::move(*request), rp);
  pump_own(self, round);
  check_done(self);
  return rp;
}

void on_round_tick(averager_actor* self, uint64_t serial) {
  auto* round = current(self, serial);
  if (!round || !round->reducer || round->reducer->finished())
    return;
  auto now = steady_clock::now();
  for (auto s : round->reducer->waiting_for()) {
    if (s == round->me)
      continue;
    const auto& inbox = round->inboxes[s];
    auto silent = now - inbox.last_heard;
    if (inbox.unanswered > 0 || silent < round->timeouts.sender)
      continue;
    auto ms = std::chrono::duration_cast<milliseconds>(silent).count();
    handle_update(
        self, *round,
        round->reducer->exclude(s, exclusion_reason::timeout,
                                "silent for " + std::to_string(ms) + " ms"));
  }
  pump_own(self, *round);
  if (!round->reducer->finished())
    self->delayed_send(self, tick_interval(*round), round_tick_atom::value,
                       serial);
  check_done(self);
}

void on_round_deadline(averager_actor* self, uint64_t serial) {
  auto* round = current(self, serial);
  if (!round)
    return;
  log(self).info("averager {}: allreduce_timeout passed; unsettled parts "
                 "keep their local values",
                 prefix(self));
  if (round->reducer) {
    for (auto s : round->reducer->waiting_for())
      if (s != round->me)
        handle_update(self, *round,
                      round->reducer->exclude(s, exclusion_reason::timeout,
                                              "allreduce_timeout passed"));
    pump_own(self, *round);
  }
  for (auto& [key, rp] : round->replies)
    refuse(rp, key.second, exclusion_reason::timeout,
           "allreduce_timeout passed");
  round->replies.clear();
  if (round->applier) {
    for (uint32_t r = 0; r < round->streams.size(); ++r)
      round->streams[r].stopped = true;
    round->applier->keep_pending();
  }
  check_done(self);
}

void sweep_held(averager_actor* self) {
  auto& st = self->state;
  st.held_sweep_armed = false;
  auto limit = steady_clock::now() - st.config.options.request_timeout;
  while (!st.held.empty() && st.held.front().arrived <= limit) {
    auto& call = st.held.front();
    refuse(call.promise, 0, exclusion_reason::wrong_group,
           "no round with this group id here");
    st.held.pop_front();
  }
  if (!st.held.empty()) {
    st.held_sweep_armed = true;
    self->delayed_send(self, milliseconds(100), held_sweep_atom::value);
  }
}

} // namespace colony::averaging::detail
