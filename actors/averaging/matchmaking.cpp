#include "actors/averaging/matchmaking.hpp"

#include "messages/error.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>

namespace colony::averaging {

const char* to_string(refusal_reason reason) noexcept {
  switch (reason) {
  case refusal_reason::not_looking_for_group:
    return "not_looking_for_group";
  case refusal_reason::not_declared:
    return "not_declared";
  case refusal_reason::bad_schema_hash:
    return "bad_schema_hash";
  case refusal_reason::bad_group_key:
    return "bad_group_key";
  case refusal_reason::later_expiration:
    return "later_expiration";
  case refusal_reason::not_a_leader:
    return "not_a_leader";
  case refusal_reason::duplicate_peer:
    return "duplicate_peer";
  case refusal_reason::group_full:
    return "group_full";
  }
  return "unknown";
}

matchmaking::matchmaking(matchmaking_options options)
    : options_(std::move(options)), rng_(options_.seed) {}

std::optional<peer_id> matchmaking::leader() const {
  if (leader_ && leader_->accepted)
    return leader_->peer.id;
  return std::nullopt;
}

caf::expected<matchmaking_actions>
matchmaking::look_for_group(double now, double scheduled_time,
                            std::string group_key, std::string gathered,
                            std::optional<size_t> expected_group_size) {
  if (looking_)
    return make_error(errc::invalid_argument,
                      "a search for a group is under way already");
  if (group_key.empty())
    return make_error(errc::invalid_argument, "empty group key");
  if (!std::isfinite(scheduled_time))
    return make_error(errc::invalid_argument, "scheduled time not finite");
  looking_ = true;
  scheduled_time_ = scheduled_time;
  group_key_ = std::move(group_key);
  gathered_ = std::move(gathered);
  expected_group_size_ = expected_group_size;
  queue_.clear();
  attempted_.clear();
  asked_.clear();
  leader_.reset();
  followers_.clear();
  refresh_timer_ = 0;
  matchmaking_actions out;
  if (options_.mode != peer_mode::client)
    out.emplace_back(
        declare_in_dht{group_key_, options_.self, scheduled_time_});
  out.emplace_back(find_candidates{group_key_});
  lookup_pending_ = true;
  last_lookup_ = now;
  deadline_timer_ = timer(scheduled_time_, out);
  return out;
}

matchmaking_actions
matchmaking::on_candidates(double now, const std::string& group_key,
                           const std::vector<group_candidate>& candidates) {
  matchmaking_actions out;
  if (!looking_ || group_key != group_key_)
    return out;
  lookup_pending_ = false;
  queue_.clear();
  for (const auto& c : candidates) {
    // Peers past their T have assembled or disbanded already.
    if (c.peer.id == options_.self.id || c.peer.address.empty() ||
        !(c.expiration > now) ||
        attempted_.count({c.peer.id, c.expiration}) > 0)
      continue;
    // A client-mode peer never leads, so it may ask anyone.
    if (options_.mode != peer_mode::client &&
        !precedes_self(c.expiration, c.peer.id))
      continue;
    auto same = [&](const group_candidate& q) {
      return q.peer.id == c.peer.id;
    };
    if (std::any_of(queue_.begin(), queue_.end(), same))
      continue;
    queue_.push_back(c);
  }
  std::sort(queue_.begin(), queue_.end(),
            [](const group_candidate& a, const group_candidate& b) {
              return std::tie(a.expiration, a.peer.id) <
                     std::tie(b.expiration, b.peer.id);
            });
  advance(now, out);
  return out;
}

matchmaking_actions matchmaking::on_join_request(double now,
                                                 const join_request& request) {
  matchmaking_actions out;
  if (auto refusal = check_request(request)) {
    out.emplace_back(send_join_response{request.peer.id, std::move(*refusal)});
    return out;
  }
  followers_.push_back(request);
  out.emplace_back(
      send_join_response{request.peer.id, join_response::accept()});
  auto members = followers_.size() + 1;
  if ((options_.target_group_size && members >= *options_.target_group_size) ||
      (expected_group_size_ && members >= *expected_group_size_))
    assemble(out);
  return out;
}

matchmaking_actions
matchmaking::on_join_response(double now, const peer_id& from,
                              const join_response& response) {
  matchmaking_actions out;
  bool awaited =
      looking_ && leader_ && !leader_->accepted && leader_->peer.id == from;
  if (!awaited) {
    // A leader that answered after we gave it up counts us as its follower.
    if (response.accepted)
      if (auto it = asked_.find(from); it != asked_.end())
        out.emplace_back(send_leave{it->second});
    return out;
  }
  if (response.accepted) {
    leader_->accepted = true;
    // It assembles by its expiration (ours, if unknown: it precedes us).
    double until = leader_->expiration.value_or(scheduled_time_) +
                   options_.request_timeout_s;
    out.emplace_back(await_group{leader_->peer});
    leader_->timer = timer(std::max(until, now), out);
    disband(leader_->peer, out);
    return out;
  }
  leader_.reset();
  if (response.reason == refusal_reason::not_a_leader &&
      response.suggested_leader)
    redirect(now, *response.suggested_leader, out);
  else
    advance(now, out);
  return out;
}

matchmaking_actions matchmaking::on_request_failed(double now,
                                                   const peer_id& to) {
  matchmaking_actions out;
  if (!looking_ || !leader_ || leader_->peer.id != to)
    return out;
  leader_.reset();
  advance(now, out);
  return out;
}

matchmaking_actions matchmaking::on_begin_all_reduce(double now,
                                                     const peer_id& from,
                                                     const group_info& group) {
  matchmaking_actions out;
  if (!looking_ || !leader_ || !leader_->accepted || leader_->peer.id != from)
    return out;
  leader_.reset();
  if (!group.index_of(options_.self.id)) {
    // Assembled without us: as good as disbanded.
    advance(now, out);
    return out;
  }
  finish(out);
  out.emplace_back(group_formed{group, false});
  return out;
}

matchmaking_actions
matchmaking::on_disband(double now, const peer_id& from,
                        const std::optional<peer_contact>& suggested_leader) {
  matchmaking_actions out;
  if (!looking_ || !leader_ || leader_->peer.id != from)
    return out;
  leader_.reset();
  if (suggested_leader)
    redirect(now, *suggested_leader, out);
  else
    advance(now, out);
  return out;
}

matchmaking_actions matchmaking::on_leave(double now, const peer_id& from) {
  auto gone = [&](const join_request& r) {
    return r.peer.id == from;
  };
  followers_.erase(std::remove_if(followers_.begin(), followers_.end(), gone),
                   followers_.end());
  return {};
}

matchmaking_actions matchmaking::on_timer(double now, uint64_t id) {
  matchmaking_actions out;
  if (!looking_ || id == 0)
    return out;
  if (id == deadline_timer_) {
    conclude(now, out);
  } else if (leader_ && id == leader_->timer) {
    // Silent past its time: give it up (and tell it, should it be alive).
    if (leader_->accepted)
      out.emplace_back(send_leave{leader_->peer});
    leader_.reset();
    advance(now, out);
  } else if (id == refresh_timer_) {
    refresh_timer_ = 0;
    if (!leader_ && !lookup_pending_ && now < scheduled_time_)
      lookup(now, out);
  }
  return out;
}

matchmaking_actions matchmaking::cancel(double now, caf::error reason) {
  matchmaking_actions out;
  if (!looking_)
    return out;
  disband(std::nullopt, out);
  if (leader_)
    out.emplace_back(send_leave{leader_->peer});
  leader_.reset();
  finish(out);
  out.emplace_back(group_failed{std::move(reason)});
  return out;
}

std::optional<join_response>
matchmaking::check_request(const join_request& request) const {
  if (!looking_)
    return join_response::refuse(refusal_reason::not_looking_for_group);
  if (request.schema_hash != options_.schema_hash)
    return join_response::refuse(refusal_reason::bad_schema_hash);
  if (request.group_key != group_key_)
    return join_response::refuse(refusal_reason::bad_group_key);
  if (options_.mode == peer_mode::client)
    return join_response::refuse(refusal_reason::not_declared);
  // The earlier of two node peers leads; a client-mode requester cannot.
  if (request.mode != peer_mode::client &&
      precedes_self(request.expiration, request.peer.id))
    return join_response::refuse(refusal_reason::later_expiration);
  if (leader_ && leader_->accepted)
    return join_response::refuse(refusal_reason::not_a_leader, leader_->peer);
  auto same = [&](const join_request& r) {
    return r.peer.id == request.peer.id;
  };
  if (request.peer.id == options_.self.id ||
      std::any_of(followers_.begin(), followers_.end(), same))
    return join_response::refuse(refusal_reason::duplicate_peer);
  auto limit = options_.target_group_size.value_or(max_group_members);
  if (followers_.size() + 1 >= std::min(limit, max_group_members))
    return join_response::refuse(refusal_reason::group_full);
  return std::nullopt;
}

void matchmaking::advance(double now, matchmaking_actions& out) {
  if (!looking_ || leader_)
    return;
  if (now >= scheduled_time_) {
    conclude(now, out);
    return;
  }
  if (!queue_.empty()) {
    auto next = queue_.front();
    queue_.erase(queue_.begin());
    attempted_.insert({next.peer.id, next.expiration});
    ask(now, next.peer, next.expiration, out);
    return;
  }
  if (lookup_pending_ || refresh_timer_ != 0)
    return;
  if (now - last_lookup_ >= options_.candidate_refresh_s)
    lookup(now, out);
  else
    refresh_timer_ = timer(last_lookup_ + options_.candidate_refresh_s, out);
}

void matchmaking::redirect(double now, const peer_contact& suggested,
                           matchmaking_actions& out) {
  // Only peers not asked yet in this search: no loops between leaders.
  if (suggested.id == options_.self.id || suggested.address.empty() ||
      now >= scheduled_time_ || asked_.count(suggested.id) > 0) {
    advance(now, out);
    return;
  }
  auto same = [&](const group_candidate& q) {
    return q.peer.id == suggested.id;
  };
  std::optional<double> expiration;
  if (auto it = std::find_if(queue_.begin(), queue_.end(), same);
      it != queue_.end()) {
    expiration = it->expiration;
    attempted_.insert({it->peer.id, it->expiration});
    queue_.erase(it);
  }
  ask(now, suggested, expiration, out);
}

void matchmaking::ask(double now, const peer_contact& leader,
                      std::optional<double> expiration,
                      matchmaking_actions& out) {
  asked_[leader.id] = leader;
  join_request request;
  request.peer = options_.self;
  request.schema_hash = options_.schema_hash;
  request.group_key = group_key_;
  request.expiration = scheduled_time_;
  request.mode = options_.mode;
  request.bandwidth = options_.bandwidth;
  request.gathered = gathered_;
  out.emplace_back(send_join_request{leader, std::move(request)});
  leader_ = asked_leader{leader, expiration, 0, false};
  leader_->timer = timer(now + options_.request_timeout_s, out);
}

void matchmaking::lookup(double now, matchmaking_actions& out) {
  out.emplace_back(find_candidates{group_key_});
  lookup_pending_ = true;
  last_lookup_ = now;
}

void matchmaking::conclude(double now, matchmaking_actions& out) {
  if (!looking_)
    return;
  bool following = leader_ && leader_->accepted;
  if (options_.mode != peer_mode::client && !following &&
      followers_.size() + 1 >= options_.min_group_size) {
    // A pending request is dropped; a late acceptance gets a leave.
    leader_.reset();
    assemble(out);
    return;
  }
  if (leader_)
    return; // its answer, or its timer, brings us back here
  auto found = followers_.size() + 1;
  disband(std::nullopt, out);
  finish(out);
  out.emplace_back(group_failed{make_error(
      errc::group_too_small,
      "found " + std::to_string(found) + " of at least " +
          std::to_string(options_.min_group_size) + " peers by the deadline")});
}

void matchmaking::assemble(matchmaking_actions& out) {
  group_info group;
  for (size_t i = 0; i < group.id.size(); i += 8) {
    auto r = rng_();
    for (size_t b = 0; b < 8 && i + b < group.id.size(); ++b)
      group.id[i + b] = static_cast<uint8_t>(r >> (8 * b));
  }
  group.members.reserve(followers_.size() + 1);
  group.members.push_back(
      member_info{options_.self, gathered_, options_.bandwidth, options_.mode});
  for (auto& f : followers_)
    group.members.push_back(
        member_info{f.peer, std::move(f.gathered), f.bandwidth, f.mode});
  for (size_t i = group.members.size(); i > 1; --i) {
    std::uniform_int_distribution<size_t> pick{0, i - 1};
    std::swap(group.members[i - 1], group.members[pick(rng_)]);
  }
  for (const auto& f : followers_)
    out.emplace_back(send_begin_all_reduce{f.peer, group});
  followers_.clear();
  leader_.reset();
  finish(out);
  out.emplace_back(group_formed{std::move(group), true});
}

void matchmaking::disband(const std::optional<peer_contact>& suggested_leader,
                          matchmaking_actions& out) {
  for (const auto& f : followers_)
    out.emplace_back(send_disband{f.peer, suggested_leader});
  followers_.clear();
}

void matchmaking::finish(matchmaking_actions& out) {
  if (options_.mode != peer_mode::client)
    out.emplace_back(withdraw_from_dht{
        group_key_, options_.self.id,
        std::nextafter(scheduled_time_,
                       std::numeric_limits<double>::infinity())});
  looking_ = false;
  lookup_pending_ = false;
  queue_.clear();
  leader_.reset();
  followers_.clear();
  // asked_ stays: a late acceptance still gets its leave.
}

uint64_t matchmaking::timer(double at, matchmaking_actions& out) {
  auto id = next_timer_++;
  out.emplace_back(start_timer{id, at});
  return id;
}

bool matchmaking::precedes_self(double expiration,
                                const peer_id& id) const noexcept {
  return expiration < scheduled_time_ ||
         (expiration == scheduled_time_ && id < options_.self.id);
}

} // namespace colony::averaging
