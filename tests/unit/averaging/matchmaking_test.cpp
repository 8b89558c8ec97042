// The matchmaking state machine: single machines fed by hand, and several
// machines against each other through an in-memory network and DHT with
// simulated time.

#include "actors/averaging/group_key.hpp"
#include "actors/averaging/matchmaking.hpp"
#include "messages/error.hpp"

#include "tests/unit/test_data.hpp"
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <numeric>
#include <random>
#include <set>

using namespace colony;
using namespace colony::averaging;

using colony::testing::random_peer;

namespace {

template <class T>
std::vector<T> all_of(const matchmaking_actions& actions) {
  std::vector<T> out;
  for (const auto& a : actions)
    if (auto x = std::get_if<T>(&a))
      out.push_back(*x);
  return out;
}

template <class T>
std::optional<T> one_of(const matchmaking_actions& actions) {
  auto xs = all_of<T>(actions);
  EXPECT_EQ(xs.size(), 1u);
  if (xs.empty())
    return std::nullopt;
  return xs.front();
}

/// Several matchmaking machines wired through a simulated network (fixed
/// latency, frozen peers drop everything) and a simulated DHT (a map with
/// expirations; newer expiration wins), on simulated time.
class swarm {
 public:
  struct member {
    std::unique_ptr<matchmaking> machine;
    /// Receives nothing, runs no timers.
    bool frozen = false;
    /// Seconds added to every message it sends.
    double extra_delay = 0;
    std::optional<group_formed> formed;
    std::optional<caf::error> failed;
    double ended_at = -1;
    /// Every action it performed, with its time.
    std::vector<std::pair<double, matchmaking_action>> log;
  };

  double now = 1000;
  double latency = 0.01;
  matchmaking_options defaults;
  std::vector<member> members;
  /// await_group actions performed (one per acceptance).
  size_t awaits = 0;

  swarm() {
    defaults.min_group_size = 2;
    defaults.request_timeout_s = 1;
    defaults.candidate_refresh_s = 0.5;
    defaults.schema_hash = "schema-1";
  }

  /// Adds a peer; `tweak` adjusts its options.
  size_t add(const std::function<void(matchmaking_options&)>& tweak = {}) {
    auto o = defaults;
    o.self.id = random_peer(rng_);
    o.self.address = "127.0.0.1:" + std::to_string(9000 + members.size());
    o.seed = rng_();
    if (tweak)
      tweak(o);
    if (o.mode == peer_mode::client)
      o.self.address.clear();
    index_[o.self.id] = members.size();
    members.emplace_back();
    members.back().machine = std::make_unique<matchmaking>(o);
    return members.size() - 1;
  }

  const peer_id& id(size_t who) const {
    return members[who].machine->options().self.id;
  }

  /// Starts a search of `who` at `at` for time T = `scheduled`.
  void start(size_t who, double at, double scheduled,
             const std::string& key = "grads.0b",
             std::optional<size_t> expected_group_size = std::nullopt) {
    schedule(at, [this, who, scheduled, key, expected_group_size] {
      auto r = members[who].machine->look_for_group(
          now, scheduled, key, "gathered-by-" + std::to_string(who),
          expected_group_size);
      ASSERT_TRUE(r) << describe(r.error());
      perform(who, *r);
    });
  }

  /// Runs `f` on `who`'s machine at `at` (unless frozen).
  void at(double when, size_t who,
          std::function<matchmaking_actions(matchmaking&)> f) {
    schedule(when, [this, who, f = std::move(f)] {
      if (!members[who].frozen)
        perform(who, f(*members[who].machine));
    });
  }

  void freeze(size_t who, double when) {
    schedule(when, [this, who] { members[who].frozen = true; });
  }

  /// Runs events until `until` (simulated) or none are left.
  void run_until(double until) {
    while (!events_.empty() && events_.begin()->first.first <= until) {
      auto it = events_.begin();
      now = it->first.first;
      auto f = std::move(it->second);
      events_.erase(it);
      f();
    }
    now = until;
  }

  /// The DHT entry of `who` under `key`: (looking, expiration).
  std::optional<std::pair<bool, double>> declaration(const std::string& key,
                                                     size_t who) const {
    auto k = dht_.find(key);
    if (k == dht_.end())
      return std::nullopt;
    auto e = k->second.find(id(who));
    if (e == k->second.end())
      return std::nullopt;
    return std::make_pair(e->second.looking, e->second.expiration);
  }

  /// Times at which `who` performed actions of type T.
  template <class T>
  std::vector<std::pair<double, T>> logged(size_t who) const {
    std::vector<std::pair<double, T>> out;
    for (const auto& [t, a] : members[who].log)
      if (auto x = std::get_if<T>(&a))
        out.emplace_back(t, *x);
    return out;
  }

  /// Forgets every member's outcome, for another round of searches.
  void clear_outcomes() {
    for (auto& m : members) {
      m.formed.reset();
      m.failed.reset();
      m.ended_at = -1;
    }
  }

  /// The member index of a peer id.
  size_t who_is(const peer_id& id) const { return index_.at(id); }

  /// Indices of the members of `g`, in the group's order.
  std::vector<size_t> indices(const group_info& g) const {
    std::vector<size_t> out;
    for (const auto& m : g.members)
      out.push_back(who_is(m.peer.id));
    return out;
  }

 private:
  struct entry {
    bool looking = false;
    double expiration = 0;
    peer_contact peer;
  };

  void schedule(double when, std::function<void()> f) {
    events_.emplace(std::make_pair(when, seq_++), std::move(f));
  }

  /// Delivers `f` to `to` after the network delay of messages from `from`.
  void send(size_t from, size_t to,
            std::function<matchmaking_actions(matchmaking&)> f) {
    at(now + latency + members[from].extra_delay, to, std::move(f));
  }

  void perform(size_t who, const matchmaking_actions& actions) {
    for (const auto& a : actions) {
      members[who].log.emplace_back(now, a);
      std::visit([&](const auto& x) { apply(who, x); }, a);
    }
  }

  void apply(size_t who, const declare_in_dht& d) {
    auto& e = dht_[d.key][d.peer.id];
    if (d.expiration > e.expiration)
      e = entry{true, d.expiration, d.peer};
  }
  void apply(size_t who, const withdraw_from_dht& w) {
    auto& e = dht_[w.key][w.peer];
    if (w.expiration > e.expiration) {
      e.looking = false;
      e.expiration = w.expiration;
    }
  }
  void apply(size_t who, const find_candidates& f) {
    // The lookup takes a round trip; it sees the DHT as it is then.
    at(now + 2 * latency, who, [this, key = f.key](matchmaking& m) {
      std::vector<group_candidate> found;
      for (const auto& [peer, e] : dht_[key])
        if (e.looking && e.expiration > now)
          found.push_back(group_candidate{e.peer, e.expiration});
      return m.on_candidates(now, key, found);
    });
  }
  void apply(size_t who, const send_join_request& s) {
    send(who, who_is(s.to.id), [this, r = s.request](matchmaking& m) {
      return m.on_join_request(now, r);
    });
  }
  void apply(size_t who, const await_group& a) {
    // The leader's word comes as its send_begin_all_reduce or send_disband.
    ++awaits;
  }
  void apply(size_t who, const send_join_response& s) {
    send(who, who_is(s.to),
         [this, from = id(who), r = s.response](matchmaking& m) {
           return m.on_join_response(now, from, r);
         });
  }
  void apply(size_t who, const send_begin_all_reduce& s) {
    send(who, who_is(s.to.id),
         [this, from = id(who), g = s.group](matchmaking& m) {
           return m.on_begin_all_reduce(now, from, g);
         });
  }
  void apply(size_t who, const send_disband& s) {
    send(who, who_is(s.to.id),
         [this, from = id(who), sug = s.suggested_leader](matchmaking& m) {
           return m.on_disband(now, from, sug);
         });
  }
  void apply(size_t who, const send_leave& s) {
    send(who, who_is(s.to.id), [this, from = id(who)](matchmaking& m) {
      return m.on_leave(now, from);
    });
  }
  void apply(size_t who, const start_timer& t) {
    at(t.at, who,
       [this, id = t.id](matchmaking& m) { return m.on_timer(now, id); });
  }
  void apply(size_t who, const group_formed& g) {
    EXPECT_FALSE(members[who].formed || members[who].failed);
    members[who].formed = g;
    members[who].ended_at = now;
  }
  void apply(size_t who, const group_failed& f) {
    EXPECT_FALSE(members[who].formed || members[who].failed);
    members[who].failed = f.error;
    members[who].ended_at = now;
  }

  std::mt19937_64 rng_{42};
  uint64_t seq_ = 0;
  std::map<std::pair<double, uint64_t>, std::function<void()>> events_;
  std::map<peer_id, size_t> index_;
  std::map<std::string, std::map<peer_id, entry>> dht_;
};

constexpr double t0 = 1000;

} // namespace

// -- several machines --------------------------------------------------------

TEST(matchmaking, staggered_peers_form_one_group_led_by_the_earliest) {
  swarm s;
  for (size_t i = 0; i < 4; ++i) {
    s.add();
    s.start(i, t0, t0 + 2 + 0.1 * static_cast<double>(i));
  }
  s.run_until(t0 + 10);
  const auto& lead = s.members[0];
  ASSERT_TRUE(lead.formed) << (lead.failed ? describe(*lead.failed) : "");
  EXPECT_TRUE(lead.formed->led);
  // No target size: the leader assembles at its T, not before.
  EXPECT_GE(lead.ended_at, t0 + 2);
  EXPECT_LT(lead.ended_at, t0 + 2.05);
  auto group = lead.formed->group;
  ASSERT_EQ(group.members.size(), 4u);
  std::set<size_t> who;
  for (const auto& m : group.members) {
    auto i = s.who_is(m.peer.id);
    who.insert(i);
    EXPECT_EQ(m.gathered, "gathered-by-" + std::to_string(i));
    EXPECT_EQ(m.peer.address, "127.0.0.1:" + std::to_string(9000 + i));
    EXPECT_EQ(m.mode, peer_mode::node);
  }
  EXPECT_EQ(who.size(), 4u);
  for (size_t i = 1; i < 4; ++i) {
    ASSERT_TRUE(s.members[i].formed) << i;
    EXPECT_FALSE(s.members[i].formed->led);
    // Everyone sees the same group: id and order.
    EXPECT_EQ(s.members[i].formed->group, group);
  }
  EXPECT_EQ(s.awaits, 3u);
  // Every declaration is withdrawn.
  for (size_t i = 0; i < 4; ++i) {
    auto d = s.declaration("grads.0b", i);
    ASSERT_TRUE(d);
    EXPECT_FALSE(d->first);
    EXPECT_GT(d->second, t0 + 2 + 0.1 * static_cast<double>(i));
  }
}

TEST(matchmaking, target_size_two_with_four_peers_gives_two_groups) {
  swarm s;
  s.defaults.target_group_size = 2;
  for (size_t i = 0; i < 4; ++i) {
    s.add();
    s.start(i, t0, t0 + 2 + 0.1 * static_cast<double>(i));
  }
  s.run_until(t0 + 10);
  std::set<std::set<size_t>> groups;
  for (size_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(s.members[i].formed) << i;
    // A full group assembles at once, long before T.
    EXPECT_LT(s.members[i].ended_at, t0 + 1) << i;
    auto idx = s.indices(s.members[i].formed->group);
    EXPECT_EQ(idx.size(), 2u);
    groups.insert(std::set<size_t>(idx.begin(), idx.end()));
  }
  EXPECT_EQ(groups, (std::set<std::set<size_t>>{{0, 1}, {2, 3}}));
  EXPECT_NE(s.members[0].formed->group.id, s.members[2].formed->group.id);
}

TEST(matchmaking, a_group_below_the_target_assembles_at_the_leaders_time) {
  swarm s;
  s.defaults.target_group_size = 8;
  for (size_t i = 0; i < 3; ++i) {
    s.add();
    s.start(i, t0, t0 + 1.5 + 0.2 * static_cast<double>(i));
  }
  s.run_until(t0 + 10);
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(s.members[i].formed) << i;
    EXPECT_EQ(s.members[i].formed->group.members.size(), 3u);
    EXPECT_GE(s.members[i].ended_at, t0 + 1.5);
    EXPECT_LT(s.members[i].ended_at, t0 + 1.6);
  }
}

TEST(matchmaking, an_expected_group_size_assembles_as_soon_as_all_joined) {
  // No target: without an expected size the leader would wait for its time
  // (t0 + 5); expecting 3, it assembles once the third peer joined.
  swarm s;
  for (size_t i = 0; i < 3; ++i) {
    s.add();
    s.start(i, t0 + 0.1 * static_cast<double>(i),
            t0 + 5 + 0.1 * static_cast<double>(i), "grads.0b", 3);
  }
  s.run_until(t0 + 10);
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(s.members[i].formed) << i;
    EXPECT_EQ(s.members[i].formed->group.members.size(), 3u);
    EXPECT_LT(s.members[i].ended_at, t0 + 1);
  }
}

TEST(matchmaking, too_few_peers_fail_with_group_too_small_at_their_time) {
  swarm s;
  s.defaults.min_group_size = 3;
  s.add();
  s.add();
  s.start(0, t0, t0 + 2);
  s.start(1, t0, t0 + 3);
  s.run_until(t0 + 10);
  for (size_t i = 0; i < 2; ++i) {
    ASSERT_TRUE(s.members[i].failed) << i;
    EXPECT_TRUE(is_error(*s.members[i].failed, errc::group_too_small))
        << describe(*s.members[i].failed);
  }
  // The leader gives up at its T and disbands its follower, which then
  // waits for its own T in vain.
  EXPECT_DOUBLE_EQ(s.members[0].ended_at, t0 + 2);
  EXPECT_EQ(s.logged<send_disband>(0).size(), 1u);
  EXPECT_DOUBLE_EQ(s.members[1].ended_at, t0 + 3);

  swarm alone;
  alone.add();
  alone.start(0, t0, t0 + 1);
  alone.run_until(t0 + 5);
  ASSERT_TRUE(alone.members[0].failed);
  EXPECT_TRUE(is_error(*alone.members[0].failed, errc::group_too_small));
  EXPECT_DOUBLE_EQ(alone.members[0].ended_at, t0 + 1);
}

TEST(matchmaking, a_silent_leader_costs_a_follower_one_request_timeout) {
  swarm s; // request_timeout 1 s
  for (size_t i = 0; i < 3; ++i)
    s.add();
  s.start(0, t0, t0 + 5);
  s.freeze(0, t0 + 0.001); // declared, then silent
  s.start(1, t0 + 0.002, t0 + 6);
  s.start(2, t0 + 0.002, t0 + 7);
  s.run_until(t0 + 12);
  // Peer 2 asked peer 0 first, gave up after the request timeout and then
  // asked peer 1, which leads.
  auto asks = s.logged<send_join_request>(2);
  ASSERT_GE(asks.size(), 2u);
  EXPECT_EQ(asks[0].second.to.id, s.id(0));
  EXPECT_EQ(asks[1].second.to.id, s.id(1));
  EXPECT_NEAR(asks[1].first - asks[0].first, 1.0, 1e-9);
  ASSERT_TRUE(s.members[1].formed);
  ASSERT_TRUE(s.members[2].formed);
  EXPECT_TRUE(s.members[1].formed->led);
  EXPECT_EQ(s.members[2].formed->group, s.members[1].formed->group);
  EXPECT_EQ(s.members[1].formed->group.members.size(), 2u);
}

TEST(matchmaking, a_leader_dying_after_accepting_costs_its_time_plus_timeout) {
  swarm s;
  for (size_t i = 0; i < 3; ++i)
    s.add();
  s.start(0, t0, t0 + 2);
  s.start(1, t0, t0 + 5);
  s.start(2, t0, t0 + 6);
  s.freeze(0, t0 + 0.5); // accepted both, then silent
  s.run_until(t0 + 10);
  // Both followers give up on it at its T + request_timeout, leave it, and
  // the next earliest leads them.
  for (size_t i : {1, 2}) {
    auto leaves = s.logged<send_leave>(i);
    ASSERT_EQ(leaves.size(), 1u) << i;
    EXPECT_EQ(leaves[0].second.to.id, s.id(0));
    EXPECT_NEAR(leaves[0].first, t0 + 2 + 1, 1e-9);
    ASSERT_TRUE(s.members[i].formed) << i;
    EXPECT_EQ(s.indices(s.members[i].formed->group).size(), 2u);
  }
  EXPECT_TRUE(s.members[1].formed->led);
  EXPECT_FALSE(s.members[0].formed || s.members[0].failed);
}

TEST(matchmaking, a_late_acceptance_is_answered_with_a_leave) {
  swarm s;
  s.add();
  s.add();
  s.members[0].extra_delay = 1.5; // answers after the request timeout
  s.start(0, t0, t0 + 3);
  s.start(1, t0, t0 + 4);
  s.run_until(t0 + 10);
  auto leaves = s.logged<send_leave>(1);
  ASSERT_EQ(leaves.size(), 1u);
  EXPECT_EQ(leaves[0].second.to.id, s.id(0));
  EXPECT_GT(leaves[0].first, t0 + 1.5);
  // The leader forgot it: alone at its T, it fails rather than assemble a
  // group with a peer that stopped waiting.
  ASSERT_TRUE(s.members[0].failed);
  EXPECT_TRUE(is_error(*s.members[0].failed, errc::group_too_small));
  ASSERT_TRUE(s.members[1].failed);
  EXPECT_TRUE(s.logged<send_begin_all_reduce>(0).empty());
}

TEST(matchmaking, an_accepted_peer_sends_its_followers_to_its_leader) {
  swarm s;
  for (size_t i = 0; i < 3; ++i)
    s.add();
  // Peer 0 expires first but declares late: peer 2 first finds only peer 1
  // and follows it; then peer 1 finds peer 0.
  s.start(1, t0, t0 + 4);
  s.start(2, t0, t0 + 5);
  s.start(0, t0 + 0.2, t0 + 3);
  s.run_until(t0 + 10);
  auto disbands = s.logged<send_disband>(1);
  ASSERT_EQ(disbands.size(), 1u);
  EXPECT_EQ(disbands[0].second.to.id, s.id(2));
  ASSERT_TRUE(disbands[0].second.suggested_leader);
  EXPECT_EQ(disbands[0].second.suggested_leader->id, s.id(0));
  auto asks = s.logged<send_join_request>(2);
  ASSERT_EQ(asks.size(), 2u);
  EXPECT_EQ(asks[0].second.to.id, s.id(1));
  EXPECT_EQ(asks[1].second.to.id, s.id(0));
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(s.members[i].formed) << i;
    EXPECT_EQ(s.members[i].formed->group.members.size(), 3u);
    EXPECT_EQ(s.members[i].formed->led, i == 0);
  }
}

TEST(matchmaking, client_mode_peers_never_declare_and_join_any_leader) {
  swarm s;
  auto node = s.add();
  auto client = s.add([](matchmaking_options& o) {
    o.mode = peer_mode::client;
    o.bandwidth = 5;
  });
  // The client's T is earlier, yet it cannot lead: it joins the node.
  s.start(node, t0, t0 + 2);
  s.start(client, t0, t0 + 1);
  s.run_until(t0 + 10);
  EXPECT_TRUE(s.logged<declare_in_dht>(client).empty());
  EXPECT_TRUE(s.logged<withdraw_from_dht>(client).empty());
  EXPECT_FALSE(s.declaration("grads.0b", client));
  ASSERT_TRUE(s.members[node].formed);
  ASSERT_TRUE(s.members[client].formed);
  auto group = s.members[node].formed->group;
  EXPECT_EQ(s.members[client].formed->group, group);
  auto i = group.index_of(s.id(client));
  ASSERT_TRUE(i);
  EXPECT_EQ(group.members[*i].mode, peer_mode::client);
  EXPECT_EQ(group.members[*i].bandwidth, 5);
  EXPECT_TRUE(group.members[*i].peer.address.empty());

  // Two clients alone find no leader.
  swarm clients;
  for (int i = 0; i < 2; ++i) {
    clients.add([](matchmaking_options& o) { o.mode = peer_mode::client; });
    clients.start(static_cast<size_t>(i), t0, t0 + 1);
  }
  clients.run_until(t0 + 5);
  for (const auto& m : clients.members) {
    ASSERT_TRUE(m.failed);
    EXPECT_TRUE(is_error(*m.failed, errc::group_too_small));
  }
}

TEST(matchmaking, different_keys_never_mix) {
  swarm s;
  for (size_t i = 0; i < 4; ++i) {
    s.add();
    s.start(i, t0, t0 + 1 + 0.1 * static_cast<double>(i),
            i % 2 ? "grads.0b1" : "grads.0b0");
  }
  s.run_until(t0 + 5);
  for (size_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(s.members[i].formed) << i;
    auto idx = s.indices(s.members[i].formed->group);
    EXPECT_EQ(std::set<size_t>(idx.begin(), idx.end()),
              (i % 2 ? std::set<size_t>{1, 3} : std::set<size_t>{0, 2}));
  }
}

TEST(matchmaking, many_peers_with_one_target_all_find_groups) {
  swarm s;
  s.defaults.target_group_size = 4;
  std::mt19937_64 rng{9};
  std::uniform_real_distribution<double> jitter{0, 0.5};
  for (size_t i = 0; i < 16; ++i) {
    s.add();
    s.start(i, t0 + jitter(rng), t0 + 2 + jitter(rng));
  }
  s.run_until(t0 + 10);
  std::map<group_id, std::set<size_t>> groups;
  for (size_t i = 0; i < 16; ++i) {
    ASSERT_TRUE(s.members[i].formed)
        << i << ": " << describe(*s.members[i].failed);
    auto idx = s.indices(s.members[i].formed->group);
    groups[s.members[i].formed->group.id].insert(i);
    EXPECT_LE(idx.size(), 4u);
  }
  // Each peer is in exactly one group, and groups agree on their members.
  for (const auto& [id, who] : groups)
    for (auto i : who)
      EXPECT_EQ(s.indices(s.members[i].formed->group).size(), who.size());
}

TEST(matchmaking, moshpit_rounds_through_matchmaking_reach_the_mean) {
  // 16 peers on a 4x4 grid (2-bit keys, groups of 4) find their groups by
  // matchmaking under their keys, average, and take their next bits from
  // the group: after 2 rounds every peer holds the global mean.
  swarm s;
  s.defaults.target_group_size = 4;
  std::mt19937_64 rng{12};
  std::normal_distribution<double> draw{1.0, 5.0};
  std::uniform_real_distribution<double> jitter{0, 0.5};
  std::vector<double> value;
  std::vector<std::string> bits;
  for (size_t i = 0; i < 16; ++i) {
    s.add();
    value.push_back(draw(rng));
    bits.push_back(std::string{i % 4 < 2 ? "0" : "1"} + (i % 2 ? "1" : "0"));
  }
  double mean = std::accumulate(value.begin(), value.end(), 0.0) / 16;
  for (int round = 0; round < 2; ++round) {
    double start = t0 + 10 * round;
    s.clear_outcomes();
    for (size_t i = 0; i < 16; ++i)
      s.start(i, start + jitter(rng), start + 1 + jitter(rng),
              *make_group_key("grads", bits[i]));
    s.run_until(start + 9);
    std::vector<double> next = value;
    std::vector<std::string> next_bits = bits;
    for (size_t i = 0; i < 16; ++i) {
      ASSERT_TRUE(s.members[i].formed) << "round " << round << " peer " << i;
      const auto& group = s.members[i].formed->group;
      ASSERT_EQ(group.members.size(), 4u);
      double sum = 0;
      for (const auto& m : group.members) {
        auto j = s.who_is(m.peer.id);
        EXPECT_EQ(bits[j], bits[i]); // one key per group
        sum += value[j];
      }
      next[i] = sum / 4;
      auto b = next_group_bits(bits[i], group, s.id(i), 4);
      ASSERT_TRUE(b);
      next_bits[i] = *b;
    }
    value = next;
    bits = next_bits;
  }
  for (size_t i = 0; i < 16; ++i)
    EXPECT_NEAR(value[i], mean, 1e-12) << i;
}

// -- one machine by hand -----------------------------------------------------

namespace {

struct by_hand : ::testing::Test {
  std::mt19937_64 rng{77};
  matchmaking_options options;
  double T = t0 + 5;

  by_hand() {
    options.self = {random_peer(rng), "127.0.0.1:1"};
    options.schema_hash = "s";
  }

  join_request request(double expiration, peer_mode mode = peer_mode::node) {
    join_request r;
    r.peer = {random_peer(rng), "127.0.0.1:2"};
    r.schema_hash = "s";
    r.group_key = "k.0b";
    r.expiration = expiration;
    r.mode = mode;
    return r;
  }

  join_response answer(matchmaking& m, const join_request& r) {
    auto acts = m.on_join_request(t0 + 1, r);
    auto resp = one_of<send_join_response>(acts);
    EXPECT_TRUE(resp);
    if (!resp)
      return {};
    EXPECT_EQ(resp->to, r.peer.id);
    return resp->response;
  }
};

} // namespace

TEST_F(by_hand, refusals_carry_their_reasons) {
  matchmaking idle{options};
  EXPECT_EQ(answer(idle, request(T + 1)).reason,
            refusal_reason::not_looking_for_group);

  matchmaking m{options};
  ASSERT_TRUE(m.look_for_group(t0, T, "k.0b", "mine"));
  auto bad_schema = request(T + 1);
  bad_schema.schema_hash = "other";
  EXPECT_EQ(answer(m, bad_schema).reason, refusal_reason::bad_schema_hash);
  auto bad_key = request(T + 1);
  bad_key.group_key = "k.0b1";
  EXPECT_EQ(answer(m, bad_key).reason, refusal_reason::bad_group_key);
  EXPECT_EQ(answer(m, request(T - 1)).reason, refusal_reason::later_expiration);
  // A client-mode requester cannot lead, so its time does not matter.
  EXPECT_TRUE(answer(m, request(T - 1, peer_mode::client)).accepted);
  auto twice = request(T + 1);
  EXPECT_TRUE(answer(m, twice).accepted);
  auto again = answer(m, twice);
  EXPECT_FALSE(again.accepted);
  EXPECT_EQ(again.reason, refusal_reason::duplicate_peer);
  auto self = request(T);
  self.peer = options.self;
  EXPECT_EQ(answer(m, self).reason, refusal_reason::duplicate_peer);
  EXPECT_EQ(m.follower_count(), 2u);

  auto full_options = options;
  full_options.target_group_size = 1;
  matchmaking full{full_options};
  ASSERT_TRUE(full.look_for_group(t0, T, "k.0b", ""));
  EXPECT_EQ(answer(full, request(T + 1)).reason, refusal_reason::group_full);

  auto client_options = options;
  client_options.mode = peer_mode::client;
  matchmaking client{client_options};
  ASSERT_TRUE(client.look_for_group(t0, T, "k.0b", ""));
  EXPECT_EQ(answer(client, request(T + 1)).reason,
            refusal_reason::not_declared);
}

TEST_F(by_hand, equal_times_are_ordered_by_peer_id) {
  matchmaking m{options};
  ASSERT_TRUE(m.look_for_group(t0, T, "k.0b", ""));
  // A requester of the same T leads if its id is smaller.
  for (int i = 0; i < 20; ++i) {
    auto r = request(T);
    auto resp = answer(m, r);
    if (r.peer.id < options.self.id) {
      EXPECT_EQ(resp.reason, refusal_reason::later_expiration);
    } else {
      EXPECT_TRUE(resp.accepted);
    }
  }
  // And it asks only candidates before it in that order.
  matchmaking asker{options};
  ASSERT_TRUE(asker.look_for_group(t0, T, "k.0b", ""));
  std::vector<group_candidate> found;
  for (int i = 0; i < 20; ++i)
    found.push_back({{random_peer(rng), "h:1"}, T});
  auto acts = asker.on_candidates(t0, "k.0b", found);
  auto ask = one_of<send_join_request>(acts);
  ASSERT_TRUE(ask);
  EXPECT_LT(ask->to.id, options.self.id);
  peer_id smallest = found[0].peer.id;
  for (const auto& c : found)
    smallest = std::min(smallest, c.peer.id);
  EXPECT_EQ(ask->to.id, smallest);
}

TEST_F(by_hand, a_follower_refuses_as_not_a_leader_and_suggests_its_own) {
  matchmaking m{options};
  ASSERT_TRUE(m.look_for_group(t0, T, "k.0b", ""));
  peer_contact leader{random_peer(rng), "127.0.0.1:3"};
  auto acts = m.on_candidates(t0, "k.0b", {{leader, T - 1}});
  ASSERT_TRUE(one_of<send_join_request>(acts));
  auto accepted =
      m.on_join_response(t0 + 0.1, leader.id, join_response::accept());
  auto await = one_of<await_group>(accepted);
  ASSERT_TRUE(await);
  EXPECT_EQ(await->to, leader);
  ASSERT_EQ(m.leader(), leader.id);
  auto resp = answer(m, request(T + 1));
  EXPECT_EQ(resp.reason, refusal_reason::not_a_leader);
  ASSERT_TRUE(resp.suggested_leader);
  EXPECT_EQ(*resp.suggested_leader, leader);
}

TEST_F(by_hand, a_refused_peer_asks_the_suggested_leader_once) {
  matchmaking m{options};
  ASSERT_TRUE(m.look_for_group(t0, T, "k.0b", ""));
  peer_contact first{random_peer(rng), "127.0.0.1:3"};
  peer_contact suggested{random_peer(rng), "127.0.0.1:4"};
  auto acts = m.on_candidates(t0, "k.0b", {{first, T - 1}});
  ASSERT_TRUE(one_of<send_join_request>(acts));
  acts = m.on_join_response(
      t0 + 0.1, first.id,
      join_response::refuse(refusal_reason::not_a_leader, suggested));
  auto ask = one_of<send_join_request>(acts);
  ASSERT_TRUE(ask);
  EXPECT_EQ(ask->to, suggested);
  EXPECT_EQ(ask->request.peer, options.self);
  EXPECT_EQ(ask->request.expiration, T);
  // The suggested leader suggests the first back: no loop.
  acts = m.on_join_response(
      t0 + 0.2, suggested.id,
      join_response::refuse(refusal_reason::not_a_leader, first));
  EXPECT_TRUE(all_of<send_join_request>(acts).empty());
  acts = m.on_disband(t0 + 0.3, suggested.id, first);
  EXPECT_TRUE(acts.empty()); // not its follower: ignored
}

TEST_F(by_hand, begin_all_reduce_only_from_the_leader_counts) {
  matchmaking m{options};
  ASSERT_TRUE(m.look_for_group(t0, T, "k.0b", ""));
  peer_contact leader{random_peer(rng), "127.0.0.1:3"};
  auto acts = m.on_candidates(t0, "k.0b", {{leader, T - 1}});
  (void)m.on_join_response(t0 + 0.1, leader.id, join_response::accept());
  group_info group;
  group.id[0] = 7;
  group.members.push_back(member_info{leader, {}, {}, {}});
  group.members.push_back(member_info{options.self, {}, {}, {}});
  // From someone else: ignored.
  EXPECT_TRUE(m.on_begin_all_reduce(t0 + 1, random_peer(rng), group).empty());
  EXPECT_TRUE(m.looking());
  acts = m.on_begin_all_reduce(t0 + 1, leader.id, group);
  auto formed = one_of<group_formed>(acts);
  ASSERT_TRUE(formed);
  EXPECT_EQ(formed->group, group);
  EXPECT_FALSE(formed->led);
  EXPECT_EQ(all_of<withdraw_from_dht>(acts).size(), 1u);
  EXPECT_FALSE(m.looking());
}

TEST_F(by_hand, a_group_without_this_peer_counts_as_disbanded) {
  matchmaking m{options};
  ASSERT_TRUE(m.look_for_group(t0, T, "k.0b", ""));
  peer_contact leader{random_peer(rng), "127.0.0.1:3"};
  peer_contact next{random_peer(rng), "127.0.0.1:4"};
  (void)m.on_candidates(t0, "k.0b", {{leader, T - 2}, {next, T - 1}});
  (void)m.on_join_response(t0 + 0.1, leader.id, join_response::accept());
  group_info group;
  group.members.push_back(member_info{leader, {}, {}, {}});
  auto acts = m.on_begin_all_reduce(t0 + 1, leader.id, group);
  EXPECT_TRUE(all_of<group_formed>(acts).empty());
  auto ask = one_of<send_join_request>(acts);
  ASSERT_TRUE(ask);
  EXPECT_EQ(ask->to, next);
}

TEST_F(by_hand, cancel_disbands_leaves_and_withdraws) {
  matchmaking m{options};
  ASSERT_TRUE(m.look_for_group(t0, T, "k.0b", ""));
  auto follower = request(T + 1);
  ASSERT_TRUE(answer(m, follower).accepted);
  auto acts = m.cancel(t0 + 2, make_error(errc::timeout, "step timeout"));
  auto disband = one_of<send_disband>(acts);
  ASSERT_TRUE(disband);
  EXPECT_EQ(disband->to, follower.peer);
  EXPECT_FALSE(disband->suggested_leader);
  auto withdraw = one_of<withdraw_from_dht>(acts);
  ASSERT_TRUE(withdraw);
  EXPECT_EQ(withdraw->key, "k.0b");
  EXPECT_GT(withdraw->expiration, T);
  auto failed = one_of<group_failed>(acts);
  ASSERT_TRUE(failed);
  EXPECT_TRUE(is_error(failed->error, errc::timeout));
  EXPECT_FALSE(m.looking());
  EXPECT_TRUE(m.cancel(t0 + 3, make_error(errc::timeout)).empty());
}

TEST_F(by_hand, one_search_at_a_time_and_stale_timers_do_nothing) {
  matchmaking m{options};
  auto first = m.look_for_group(t0, T, "k.0b", "");
  ASSERT_TRUE(first);
  auto declared = one_of<declare_in_dht>(*first);
  ASSERT_TRUE(declared);
  EXPECT_EQ(declared->key, "k.0b");
  EXPECT_EQ(declared->peer, options.self);
  EXPECT_EQ(declared->expiration, T);
  EXPECT_TRUE(one_of<find_candidates>(*first));
  auto deadline = one_of<start_timer>(*first);
  ASSERT_TRUE(deadline);
  EXPECT_EQ(deadline->at, T);
  auto busy = m.look_for_group(t0, T, "k.0b", "");
  ASSERT_FALSE(busy);
  EXPECT_TRUE(is_error(busy.error(), errc::invalid_argument));
  EXPECT_TRUE(m.on_timer(t0 + 1, 999).empty());
  // The deadline ends the search; a new search ignores the old timer.
  auto acts = m.on_timer(T, deadline->id);
  ASSERT_TRUE(one_of<group_failed>(acts));
  ASSERT_TRUE(m.look_for_group(T, T + 5, "k.0b", ""));
  EXPECT_TRUE(m.on_timer(T + 0.1, deadline->id).empty());
  EXPECT_TRUE(m.looking());
}

TEST_F(by_hand, at_its_time_a_leader_with_enough_followers_stops_asking) {
  options.target_group_size = 4;
  matchmaking m{options};
  auto started = m.look_for_group(t0, T, "k.0b", "mine");
  ASSERT_TRUE(started);
  auto deadline = one_of<start_timer>(*started);
  ASSERT_TRUE(deadline);
  peer_contact leader{random_peer(rng), "127.0.0.1:3"};
  auto acts = m.on_candidates(t0, "k.0b", {{leader, T - 1}});
  ASSERT_TRUE(one_of<send_join_request>(acts));
  auto follower = request(T + 1);
  ASSERT_TRUE(answer(m, follower).accepted);
  // T passes while its own request is unanswered: it assembles.
  acts = m.on_timer(T, deadline->id);
  auto formed = one_of<group_formed>(acts);
  ASSERT_TRUE(formed);
  EXPECT_TRUE(formed->led);
  EXPECT_EQ(formed->group.members.size(), 2u);
  EXPECT_EQ(all_of<send_begin_all_reduce>(acts).size(), 1u);
  // Its would-be leader accepts too late and is told so.
  acts = m.on_join_response(T + 0.1, leader.id, join_response::accept());
  auto leave = one_of<send_leave>(acts);
  ASSERT_TRUE(leave);
  EXPECT_EQ(leave->to, leader);
}

TEST_F(by_hand, the_group_order_and_id_come_from_the_seed) {
  auto assemble = [&](uint64_t seed) {
    std::mt19937_64 peers{1};
    auto o = options;
    o.seed = seed;
    o.target_group_size = 6;
    matchmaking m{o};
    EXPECT_TRUE(m.look_for_group(t0, T, "k.0b", ""));
    matchmaking_actions acts;
    for (int i = 0; i < 5; ++i) {
      auto r = request(T + 1);
      r.peer.id = random_peer(peers);
      acts = m.on_join_request(t0 + 1, r);
    }
    auto formed = one_of<group_formed>(acts);
    EXPECT_TRUE(formed);
    return formed ? formed->group : group_info{};
  };
  auto a = assemble(1);
  EXPECT_EQ(a.members.size(), 6u);
  EXPECT_EQ(a, assemble(1));
  auto b = assemble(2);
  EXPECT_NE(a.id, b.id);
  EXPECT_NE(a.members, b.members); // 1 in 720 to coincide; fixed seeds
}
