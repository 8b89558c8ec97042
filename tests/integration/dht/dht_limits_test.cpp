// A DHT node defends its storage against one peer (issue 18): records that
// never expire, expire too far ahead or are too large are refused with a
// reason; one peer cannot take more than its share of storage nor push out
// the records of others; a flood of stores beyond the rate is refused. The
// stores here come over the wire from other nodes, as a hostile peer's
// would, and the node keeps serving everyone else.

#include "actors/dht/dht_client.hpp"
#include "messages/dht.capnp.h"
#include "tests/integration/test_nodes.hpp"

#include <caf/all.hpp>
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using namespace colony;
using namespace colony::dht;
using namespace colony::testing;
using namespace std::chrono_literals;

namespace {

/// One store item as a peer sends it.
struct raw_item {
  std::string key;
  std::string value;
  double expiration = 0;
};

/// What the node answered for one item.
struct raw_answer {
  bool stored = false;
  std::string refusal;
};

kj::ArrayPtr<const kj::byte> limits_test_bytes(const std::string& s) {
  return {reinterpret_cast<const kj::byte*>(s.data()), s.size()};
}

/// Sends `items` to the DHT service at `address` from `from`, with a sender
/// field claiming to be `claimed_peer` (the node must not believe it).
std::vector<raw_answer> raw_store(node& from, const std::string& address,
                                  const std::vector<raw_item>& items,
                                  const std::string& claimed_peer = {}) {
  capnp::MallocMessageBuilder msg;
  auto req = msg.initRoot<wire::DhtRequest>();
  req.initSender().setPeerId(claimed_peer);
  auto list = req.initStore(static_cast<unsigned>(items.size()));
  for (unsigned i = 0; i < items.size(); ++i) {
    list[i].setKey(limits_test_bytes(items[i].key));
    list[i].setValue(limits_test_bytes(items[i].value));
    list[i].setExpiration(items[i].expiration);
  }
  auto reply = call(from, address, "dht", to_envelope(msg), 10s);
  std::vector<raw_answer> out;
  if (!reply) {
    ADD_FAILURE() << "store call failed: " << describe(reply.error());
    return out;
  }
  capnp::FlatArrayMessageReader reader(reply->words());
  auto resp = reader.getRoot<wire::DhtResponse>();
  EXPECT_TRUE(resp.isStore());
  auto reasons = resp.getStoreRefusals();
  for (unsigned i = 0; i < resp.getStore().size(); ++i)
    out.push_back(raw_answer{resp.getStore()[i],
                             i < reasons.size() ? reasons[i].cStr() : ""});
  return out;
}

/// A DHT node to attack with `opts`, and plain nodes to store from.
struct limits_fixture {
  std::unique_ptr<node> target;
  std::vector<std::unique_ptr<node>> peers;

  explicit limits_fixture(dht_options opts, size_t n_peers) {
    auto cfg = test_config();
    cfg.dht_enabled = true;
    opts.refresh_period = 0ms;
    cfg.dht = opts;
    target = start_node(cfg);
    for (size_t i = 0; i < n_peers; ++i)
      peers.push_back(start_node(test_config()));
  }

  bool ok() const {
    if (!target)
      return false;
    for (auto& p : peers)
      if (!p)
        return false;
    return true;
  }

  dht_client client() { return dht_client{target->system(), target->dht()}; }

  dht_stats stats() { return *client().stats(5s); }

  /// Whether the target holds `key` in its storage (a local get).
  bool holds(const std::string& key) {
    auto got = client().get(key, false, 5s);
    return got && got->found;
  }
};

/// The first word of a refusal.
std::string reason_word(const std::string& refusal) {
  return refusal.substr(0, refusal.find(':'));
}

} // namespace

TEST(dht_limits, refused_records_get_a_reason_and_the_node_keeps_serving) {
  limits_fixture f{dht_options{}, 2};
  ASSERT_TRUE(f.ok());
  auto& attacker = *f.peers[0];
  auto& honest = *f.peers[1];
  auto now = dht_time();
  auto inf = std::numeric_limits<double>::infinity();
  auto answers = raw_store(attacker, f.target->address(),
                           {{"forever", "x", inf},
                            {"nan", "x", std::nan("")},
                            {"far", "x", now + 1e6},
                            {"big", std::string(100 * 1024, 'v'), now + 60},
                            {std::string(2048, 'k'), "x", now + 60},
                            {"past", "x", now - 10}});
  ASSERT_EQ(answers.size(), 6u);
  const char* expected[] = {"expiration_not_finite", "expiration_not_finite",
                            "expiration_too_far",    "value_too_large",
                            "key_too_large",         "expired"};
  for (size_t i = 0; i < answers.size(); ++i) {
    EXPECT_FALSE(answers[i].stored) << i;
    EXPECT_EQ(reason_word(answers[i].refusal), expected[i])
        << answers[i].refusal;
  }
  for (auto key : {"forever", "nan", "far", "big", "past"})
    EXPECT_FALSE(f.holds(key)) << key;
  // The node keeps serving others: an honest store lands and is found.
  auto ok = raw_store(honest, f.target->address(),
                      {{"honest", "value", dht_time() + 60}});
  ASSERT_EQ(ok.size(), 1u);
  EXPECT_TRUE(ok[0].stored) << ok[0].refusal;
  EXPECT_TRUE(f.holds("honest"));
  EXPECT_EQ(f.stats().stores_refused, 6u);
  // A local store is checked the same way, and says why.
  auto local = f.client().store_checked(
      store_request{"local", {}, false, "x", inf}, 10s);
  ASSERT_TRUE(local) << describe(local.error());
  EXPECT_FALSE(local->stored);
  EXPECT_EQ(reason_word(local->refusal), "expiration_not_finite")
      << local->refusal;
  local = f.client().store_checked(
      store_request{
          "local", {}, false, std::string(9000, 'x'), dht_time() + 60},
      10s);
  ASSERT_TRUE(local);
  EXPECT_EQ(reason_word(local->refusal), "value_too_large") << local->refusal;
}

namespace {

/// `n` records of `prefix` expiring in `ttl` seconds.
std::vector<raw_item> records(const std::string& prefix, int n, double ttl) {
  std::vector<raw_item> out;
  for (int i = 0; i < n; ++i)
    out.push_back({prefix + "." + std::to_string(i), "v", dht_time() + ttl});
  return out;
}

} // namespace

TEST(dht_limits, one_peer_cannot_take_more_than_its_share) {
  dht_options opts;
  opts.storage_maxsize = 100; // 10 records per peer (max_storage_share 0.1)
  limits_fixture f{opts, 2};
  ASSERT_TRUE(f.ok());
  auto& honest = *f.peers[0];
  auto& flooder = *f.peers[1];
  auto honest_items = records("honest", 5, 120);
  for (auto& a : raw_store(honest, f.target->address(), honest_items))
    ASSERT_TRUE(a.stored) << a.refusal;
  // The flooder claims in the payload to be the honest peer: the node
  // counts it by the peer id its connection proved.
  auto honest_id = honest.me().peer_id().to_string();
  size_t accepted = 0, over_share = 0;
  for (int round = 0; round < 4; ++round)
    for (auto& a : raw_store(
             flooder, f.target->address(),
             records("flood." + std::to_string(round), 50, 3600), honest_id)) {
      accepted += a.stored ? 1 : 0;
      over_share += reason_word(a.refusal) == "over_share" ? 1 : 0;
    }
  EXPECT_EQ(accepted, 10u);
  EXPECT_EQ(over_share, 190u);
  EXPECT_EQ(f.stats().stores_over_share, 190u);
  EXPECT_EQ(f.stats().storage_records, 15u);
  // Refreshing its own records is still allowed; the honest peer may still
  // store.
  auto again = raw_store(flooder, f.target->address(),
                         {{"flood.0.0", "w", dht_time() + 3700}});
  ASSERT_EQ(again.size(), 1u);
  EXPECT_TRUE(again[0].stored) << again[0].refusal;
  auto more = raw_store(honest, f.target->address(),
                        {{"honest.more", "v", dht_time() + 120}});
  ASSERT_EQ(more.size(), 1u);
  EXPECT_TRUE(more[0].stored) << more[0].refusal;
  for (auto& item : honest_items)
    EXPECT_TRUE(f.holds(item.key)) << item.key;
}

TEST(dht_limits, a_full_storage_evicts_from_the_biggest_holder_not_others) {
  dht_options opts;
  opts.storage_maxsize = 20;
  opts.max_storage_share = 0.5; // 10 records per peer
  limits_fixture f{opts, 3};
  ASSERT_TRUE(f.ok());
  // The honest peer's records expire first: what an eviction of the
  // earliest-expiring records would take.
  auto honest_items = records("honest", 5, 120);
  for (auto& a : raw_store(*f.peers[0], f.target->address(), honest_items))
    ASSERT_TRUE(a.stored) << a.refusal;
  // Two flooders fill the storage and go on storing: each new record
  // evicts the earliest record of the peer holding the most (a flooder).
  for (size_t p = 1; p <= 2; ++p)
    for (int round = 0; round < 4; ++round)
      (void)raw_store(
          *f.peers[p], f.target->address(),
          records("flood." + std::to_string(p) + "." + std::to_string(round),
                  50, 3600));
  EXPECT_EQ(f.stats().storage_records, 20u);
  for (auto& item : honest_items)
    EXPECT_TRUE(f.holds(item.key)) << item.key;
  // The honest peer's next store evicts a flooder's record too.
  auto more = raw_store(*f.peers[0], f.target->address(),
                        {{"honest.more", "v", dht_time() + 120}});
  ASSERT_EQ(more.size(), 1u);
  EXPECT_TRUE(more[0].stored) << more[0].refusal;
  EXPECT_TRUE(f.holds("honest.more"));
  for (auto& item : honest_items)
    EXPECT_TRUE(f.holds(item.key)) << item.key;
}

TEST(dht_limits, a_flood_beyond_the_rate_is_refused) {
  dht_options opts;
  opts.stores_per_peer_per_minute = 30;
  limits_fixture f{opts, 2};
  ASSERT_TRUE(f.ok());
  auto& flooder = *f.peers[0];
  size_t accepted = 0, limited = 0;
  for (int round = 0; round < 4; ++round) {
    std::vector<raw_item> flood;
    for (int i = 0; i < 25; ++i)
      flood.push_back(
          {"rate." + std::to_string(round * 25 + i), "v", dht_time() + 60});
    for (auto& a : raw_store(flooder, f.target->address(), flood)) {
      accepted += a.stored ? 1 : 0;
      limited += reason_word(a.refusal) == "rate_limited" ? 1 : 0;
    }
  }
  // A minute's worth (30) and what refilled meanwhile (0.5 a second).
  EXPECT_GE(accepted, 30u);
  EXPECT_LE(accepted, 40u);
  EXPECT_EQ(limited, 100u - accepted);
  EXPECT_EQ(f.stats().stores_rate_limited, limited);
  // Another peer is not limited by the flooder's rate.
  auto ok = raw_store(*f.peers[1], f.target->address(),
                      {{"calm", "v", dht_time() + 60}});
  ASSERT_EQ(ok.size(), 1u);
  EXPECT_TRUE(ok[0].stored) << ok[0].refusal;
}
