#include "actors/dht/dht_client.hpp"
#include "actors/dht/dht_id.hpp"
#include "actors/dht/record_validator.hpp"
#include "actors/moe/expert_directory.hpp"
#include "actors/moe/expert_uid.hpp"
#include "apps/bench/dht_swarm.hpp"
#include "apps/node/node.hpp"
#include "tests/integration/test_nodes.hpp"
#include "tests/support/wait_until.hpp"

#include <caf/all.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

using namespace colony;
using namespace colony::apps;
using namespace colony::dht;
using namespace std::chrono_literals;
using colony::testing::eventually;

namespace {

dht_options fast_options() {
  dht_options opts;
  opts.wait_timeout = 3000ms; // loaded CI machines answer late
  opts.refresh_period = 0ms;
  return opts;
}

transport_options fast_transport() {
  transport_options t;
  t.heartbeat_interval = 500ms;
  t.peer_timeout = 3000ms;
  t.connect_timeout = 1000ms;
  return t;
}

/// An actor system holding a swarm of `n` DHT nodes, each joined through a
/// random earlier one.
struct swarm_fixture {
  std::unique_ptr<caf::actor_system_config> cfg = make_system_config();
  caf::actor_system system{*cfg};
  std::unique_ptr<dht_swarm> swarm;

  explicit swarm_fixture(size_t n, dht_options opts = fast_options()) {
    swarm = std::make_unique<dht_swarm>(system, opts, fast_transport(), "t");
    std::mt19937 rng{42};
    for (size_t i = 0; i < n; ++i) {
      std::vector<std::string> peers;
      if (i > 0)
        peers.push_back(swarm->at(rng() % i).transport.address);
      auto added = swarm->add(peers);
      EXPECT_TRUE(added) << describe(added.error());
    }
  }

  ~swarm_fixture() { swarm.reset(); }

  dht_client client(size_t i) { return dht_client{system, swarm->at(i).dht}; }

  size_t copies_of_key_in_storage() {
    size_t total = 0;
    for (size_t i = 0; i < swarm->size(); ++i)
      if (swarm->at(i).alive)
        total += client(i).stats(5s)->storage_size;
    return total;
  }
};

store_request plain(std::string key, std::string value, double ttl = 60) {
  return store_request{
      std::move(key), {}, false, std::move(value), dht_time() + ttl};
}

} // namespace

TEST(dht, store_on_one_node_get_from_every_other) {
  swarm_fixture f{20};
  auto c0 = f.client(0);
  ASSERT_TRUE(*c0.store(plain("answer", "42"), 10s));
  for (size_t i = 1; i < 20; ++i) {
    auto got = f.client(i).get("answer", false, 10s);
    ASSERT_TRUE(got) << describe(got.error());
    ASSERT_TRUE(got->found) << "node " << i;
    EXPECT_EQ(got->value, "42");
  }
  EXPECT_FALSE(f.client(3).get("missing", false, 10s)->found);
}

TEST(dht, each_key_lives_on_exactly_num_replicas_nodes) {
  auto opts = fast_options();
  opts.cache_locally = false;
  opts.cache_nearest = false;
  swarm_fixture f{20, opts};
  auto c = f.client(5);
  ASSERT_TRUE(*c.store(plain("replicated", "x"), 10s));
  EXPECT_EQ(f.copies_of_key_in_storage(), opts.num_replicas);
}

TEST(dht, find_nearest_matches_brute_force) {
  swarm_fixture f{20};
  std::vector<std::pair<dht_id, std::string>> all;
  for (size_t i = 0; i < f.swarm->size(); ++i) {
    auto pid = f.swarm->at(i).me->peer_id();
    all.emplace_back(dht_id::of_peer(pid), pid.to_string());
  }
  std::mt19937_64 rng{5};
  int top1 = 0, queries = 40;
  for (int q = 0; q < queries; ++q) {
    auto target = dht_id::random();
    auto truth = all;
    std::sort(truth.begin(), truth.end(), [&](auto& a, auto& b) {
      return distance(a.first, target) < distance(b.first, target);
    });
    auto found =
        f.client(rng() % f.swarm->size()).find_nearest(target.to_hex(), 5, 10s);
    ASSERT_TRUE(found);
    ASSERT_FALSE(found->empty());
    top1 += found->front() == truth.front().second;
  }
  EXPECT_GE(top1, queries * 8 / 10);
  // Looking up an existing node's own id finds exactly that node.
  for (size_t i = 0; i < 5; ++i) {
    auto found =
        f.client((i + 7) % 20).find_nearest(all[i].first.to_hex(), 1, 10s);
    ASSERT_TRUE(found && !found->empty());
    EXPECT_EQ(found->front(), all[i].second);
  }
}

TEST(dht, edge_case_keys_and_subkeys_round_trip) {
  swarm_fixture f{8};
  auto c = f.client(1);
  std::vector<std::string> keys{"0",
                                "",
                                "false",
                                "true",
                                "\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87 \xe2\x9c\x93",
                                std::string("bin\0ary", 7)};
  for (auto& k : keys)
    ASSERT_TRUE(*c.store(plain(k, "v:" + k), 10s)) << k;
  for (auto& k : keys) {
    auto got = f.client(6).get(k, false, 10s);
    ASSERT_TRUE(got && got->found) << k;
    EXPECT_EQ(got->value, "v:" + k);
  }
  for (auto& sk : keys)
    ASSERT_TRUE(*c.store(
        store_request{"dict", sk, true, "s:" + sk, dht_time() + 60}, 10s));
  auto dict = f.client(4).get("dict", true, 10s);
  ASSERT_TRUE(dict && dict->found && dict->is_dictionary);
  ASSERT_EQ(dict->subkeys.size(), keys.size());
  for (auto& sk : keys)
    EXPECT_EQ(dict->subkeys[sk].value, "s:" + sk);
}

TEST(dht, newer_expiration_wins_and_latest_finds_it) {
  swarm_fixture f{10};
  auto now = dht_time();
  ASSERT_TRUE(
      *f.client(0).store(store_request{"k", {}, false, "old", now + 30}, 10s));
  ASSERT_TRUE(
      *f.client(3).store(store_request{"k", {}, false, "new", now + 60}, 10s));
  EXPECT_FALSE(*f.client(5).store(
      store_request{"k", {}, false, "older", now + 10}, 10s));
  auto got = f.client(8).get("k", true, 10s);
  ASSERT_TRUE(got && got->found);
  EXPECT_EQ(got->value, "new");
}

TEST(dht, values_vanish_after_expiration) {
  swarm_fixture f{6};
  ASSERT_TRUE(*f.client(0).store(plain("brief", "x", 1.0), 10s));
  EXPECT_TRUE(f.client(2).get("brief", false, 10s)->found);
  EXPECT_TRUE(eventually(
      "no node finds the value any more", 10s,
      [&] { return !f.client(4).get("brief", true, 10s)->found; }, 100ms));
}

TEST(dht, signed_records_owner_updates_forger_is_refused) {
  swarm_fixture f{8};
  auto& owner = f.swarm->at(2);
  auto key =
      "profile" + signed_record_validator::owner_marker(owner.me->peer_id());
  auto now = dht_time();
  ASSERT_TRUE(
      *f.client(2).store(store_request{key, {}, false, "v1", now + 30}, 10s));
  ASSERT_TRUE(
      *f.client(2).store(store_request{key, {}, false, "v2", now + 40}, 10s));
  // Node 5 is not the owner: its newer write is refused everywhere.
  EXPECT_FALSE(*f.client(5).store(
      store_request{key, {}, false, "forged", now + 50}, 10s));
  auto got = f.client(6).get(key, true, 10s);
  ASSERT_TRUE(got && got->found);
  EXPECT_EQ(got->value, "v2");
  // Also after the owner has left.
  f.swarm->kill(2);
  EXPECT_FALSE(*f.client(5).store(
      store_request{key, {}, false, "forged", now + 55}, 10s));
  got = f.client(7).get(key, true, 10s);
  ASSERT_TRUE(got && got->found);
  EXPECT_EQ(got->value, "v2");
}

TEST(dht, concurrent_gets_of_one_key_share_one_lookup) {
  swarm_fixture f{10};
  ASSERT_TRUE(*f.client(0).store(plain("shared", "v"), 10s));
  auto& node = f.swarm->at(9).dht;
  auto before = f.client(9).stats(5s)->lookups;
  caf::scoped_actor self{f.system};
  for (int i = 0; i < 5; ++i)
    self->send(node, get_atom::value, std::vector<std::string>{"shared"}, true);
  int answered = 0;
  for (int i = 0; i < 5; ++i)
    self->receive(
        [&](std::vector<get_result>& r) { answered += r.front().found; },
        caf::after(10s) >> [] {});
  EXPECT_EQ(answered, 5);
  EXPECT_EQ(f.client(9).stats(5s)->lookups - before, 1u);
}

TEST(dht, client_mode_node_is_in_no_routing_table) {
  swarm_fixture f{6};
  std::vector<size_t> sizes;
  for (size_t i = 0; i < 6; ++i)
    sizes.push_back(f.client(i).stats(5s)->routing_table_size);
  auto c = f.swarm->add({f.swarm->at(0).transport.address}, true);
  ASSERT_TRUE(c) << describe(c.error());
  auto client = f.client(*c);
  ASSERT_TRUE(*client.store(plain("from-client", "hi"), 10s));
  EXPECT_EQ(client.get("from-client", false, 10s)->value, "hi");
  for (size_t i = 0; i < 6; ++i)
    EXPECT_EQ(f.client(i).stats(5s)->routing_table_size, sizes[i]);
}

TEST(dht, bootstrap_without_answering_peers_fails_clearly) {
  auto cfg = make_system_config();
  caf::actor_system system{*cfg};
  dht_swarm swarm{system, fast_options(), fast_transport(), "t"};
  auto res = swarm.add({"127.0.0.1:1"});
  ASSERT_FALSE(res);
  EXPECT_NE(describe(res.error()).find("initial peers answered"),
            std::string::npos)
      << describe(res.error());
  auto lenient = fast_options();
  lenient.ensure_bootstrap_success = false;
  dht_swarm alone{system, lenient, fast_transport(), "t"};
  EXPECT_TRUE(alone.add({"127.0.0.1:1"}));
}

TEST(dht, new_neighbour_receives_the_keys_it_should_hold) {
  auto opts = fast_options();
  opts.cache_locally = false;
  opts.cache_nearest = false;
  swarm_fixture f{6, opts};
  for (int i = 0; i < 30; ++i)
    ASSERT_TRUE(
        *f.client(i % 6).store(plain("key" + std::to_string(i), "v"), 10s));
  auto added = f.swarm->add({f.swarm->at(0).transport.address});
  ASSERT_TRUE(added);
  // With 7 nodes and 5 replicas, the newcomer should hold most keys.
  size_t held = 0;
  EXPECT_TRUE(eventually("the newcomer holds more than 10 keys", 10s,
                         [&] {
                           held = f.client(*added).stats(5s)->storage_size;
                           return held > 10;
                         }))
      << "it holds " << held;
}

TEST(dht, declared_experts_are_listed_found_and_beam_searched) {
  swarm_fixture f{8};
  auto server = f.client(3);
  std::vector<std::string> uids;
  std::mt19937 rng{9};
  std::set<std::string> taken;
  while (uids.size() < 120) {
    auto uid = "ffn." + std::to_string(rng() % 8) + "." +
               std::to_string(rng() % 8) + "." + std::to_string(rng() % 8);
    if (taken.insert(uid).second)
      uids.push_back(uid);
  }
  auto declared = moe::declare_experts(server, uids, "12D3KooWServer",
                                       "127.0.0.1:4000", dht_time() + 60, 30s);
  ASSERT_TRUE(declared) << describe(declared.error());
  auto reader = f.client(6);
  auto listed = moe::list_experts(reader, "ffn.", 30s);
  ASSERT_TRUE(listed);
  std::set<std::string> listed_uids;
  for (auto& e : *listed)
    listed_uids.insert(e.uid);
  EXPECT_EQ(listed_uids, taken);
  auto got = moe::get_experts(reader, {uids[0], "ffn.9.9.9"}, 10s);
  ASSERT_TRUE(got);
  ASSERT_TRUE((*got)[0]);
  EXPECT_EQ((*got)[0]->address, "127.0.0.1:4000");
  EXPECT_FALSE((*got)[1]);
  // Beam search through the DHT equals exhaustive search when the beam
  // covers every active prefix.
  moe::beam_searcher search{
      "ffn.", {8, 8, 8}, moe::dht_successor_lookup(reader, 10s)};
  std::normal_distribution<float> gauss;
  std::vector<std::vector<float>> scores(3, std::vector<float>(8));
  for (auto& dim : scores)
    for (auto& x : dim)
      x = gauss(rng);
  auto best = search.find_best_experts(scores, 64);
  ASSERT_TRUE(best);
  ASSERT_GE(best->size(), 4u);
  std::vector<std::pair<double, std::string>> truth;
  for (auto& uid : uids) {
    auto parsed = moe::parse_uid(uid);
    truth.emplace_back(moe::expert_score(scores, parsed->coordinates), uid);
  }
  std::sort(truth.rbegin(), truth.rend());
  for (size_t i = 0; i < 4; ++i)
    EXPECT_EQ((*best)[i].uid, truth[i].second) << i;
}

TEST(dht, cached_values_are_refreshed_before_they_expire) {
  auto opts = fast_options();
  opts.cache_refresh_before_expiry = 2.5;
  swarm_fixture f{12, opts};
  auto now = dht_time();
  ASSERT_TRUE(*f.client(0).store(
      store_request{"news", {}, false, "old", now + 3.0}, 10s));
  // A reader that holds no replica: it answers from its cache.
  size_t reader = 0;
  for (size_t i = 1; i < 12 && reader == 0; ++i)
    if (f.client(i).stats(5s)->storage_size == 0)
      reader = i;
  ASSERT_NE(reader, 0u);
  EXPECT_EQ(f.client(reader).get("news", false, 10s)->value, "old");
  ASSERT_TRUE(*f.client(0).store(
      store_request{"news", {}, false, "new", now + 30.0}, 10s));
  // Served from the cache, which schedules a refresh at expiry - 2.5 s.
  EXPECT_EQ(f.client(reader).get("news", false, 10s)->value, "old");
  // Only a read that starts before the old copy expires (now + 3 s) proves
  // the refresh: after that, any read looks the key up anew.
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::duration<double>(now + 3.0 - dht_time()));
  EXPECT_TRUE(eventually(
      "the reader's cache holds the new value before the old one expired", left,
      [&] {
        auto asked = dht_time();
        auto got = f.client(reader).get("news", false, 10s);
        return got->value == "new" && asked < now + 3.0;
      }));
}
