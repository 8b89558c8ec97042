// A node running a run's progress tracker refuses, at store time, progress
// records that are not a bounded TrainingProgress: its own writes and those
// of peers that run no schema; it keeps taking well-formed records.

#include "actors/dht/dht_client.hpp"
#include "actors/dht/dht_messages.hpp"
#include "actors/optim/progress_record.hpp"
#include "actors/optim/progress_tracker.hpp"
#include "tests/integration/test_nodes.hpp"

#include <gtest/gtest.h>

using namespace colony;
using namespace colony::optim;
using namespace colony::testing;
using namespace std::chrono_literals;

namespace {

constexpr const char* run_id = "schema_test";

progress_tracker_options tracker_options() {
  progress_tracker_options o;
  o.run_id = run_id;
  o.target_batch_size = 100;
  o.min_refresh_period = 100ms;
  o.max_refresh_period = 300ms;
  o.default_refresh_period = 200ms;
  o.report_period = 20ms;
  o.dht_timeout = 3000ms;
  return o;
}

dht::store_request progress_request(const peer_id& owner, std::string value) {
  dht::store_request r;
  r.key = progress_key(run_id);
  r.subkey = progress_subkey(owner);
  r.has_subkey = true;
  r.value = std::move(value);
  r.expiration = dht::dht_time() + 60;
  return r;
}

/// Whether some DHT node took `r`, stored from `n`.
bool store_from(node& n, dht::store_request r) {
  dht::dht_client client{n.system(), n.dht()};
  auto stored = client.store(std::move(r), 10000ms);
  EXPECT_TRUE(stored) << describe(stored.error());
  return stored && *stored;
}

/// The progress subkeys `n` holds itself (no lookup), by owner id text.
std::map<std::string, std::string> held_by(node& n) {
  dht::dht_client client{n.system(), n.dht()};
  auto found = client.get(progress_key(run_id), false, 5000ms);
  std::map<std::string, std::string> out;
  if (!found || !found->found)
    return out;
  for (auto& [subkey, entry] : found->subkeys)
    out[subkey] = entry.value;
  return out;
}

} // namespace

TEST(progress_schema, garbage_progress_is_refused_at_store_time) {
  auto cfg = test_config();
  cfg.dht_enabled = true;
  cfg.dht.wait_timeout = 3000ms;
  auto a = start_node(cfg);
  ASSERT_TRUE(a);
  // C stores through A and holds nothing itself: what A refuses, nobody
  // takes. C runs no tracker, so no schema: only A's refuses its garbage.
  auto ccfg = cfg;
  ccfg.client_mode = true;
  ccfg.initial_peers = {a->address()};
  auto c = start_node(ccfg);
  ASSERT_TRUE(c);
  auto joined = c->join_dht();
  ASSERT_TRUE(joined) << describe(joined.error());

  auto tracker = progress_tracker::create(a->system(), a->dht(), a->shared_me(),
                                          tracker_options(), a->shared_log());
  ASSERT_TRUE(tracker) << describe(tracker.error());
  (*tracker)->report_local_progress(0, 7);
  // The tracker's first record follows its schema into A's DHT node.
  auto a_subkey = progress_subkey(a->me().peer_id());
  ASSERT_TRUE(
      wait_until(10000ms, [&] { return held_by(*a).count(a_subkey) > 0; }));

  // A's own writer: refused at once, before any replica is asked.
  EXPECT_FALSE(store_from(*a, progress_request(a->me().peer_id(), "junk")));
  // A peer without the schema, signing correctly: A refuses to store it.
  EXPECT_FALSE(store_from(*c, progress_request(c->me().peer_id(), "junk")));
  progress_record absurd;
  absurd.samples_accumulated = max_progress_samples * 2;
  EXPECT_FALSE(
      store_from(*c, progress_request(c->me().peer_id(), encode(absurd))));
  auto held = held_by(*a);
  EXPECT_EQ(held.size(), 1u);
  ASSERT_TRUE(held.count(a_subkey));
  EXPECT_TRUE(decode_progress_record(held[a_subkey]));

  // A keeps serving: C's well-formed record is stored and counted.
  progress_record fine;
  fine.samples_accumulated = 5;
  fine.time = dht::dht_time();
  EXPECT_TRUE(
      store_from(*c, progress_request(c->me().peer_id(), encode(fine))));
  EXPECT_EQ(held_by(*a).size(), 2u);
  ASSERT_TRUE(wait_until(10000ms, [&] {
    auto g = (*tracker)->global();
    return g.num_peers == 2 && g.samples_accumulated == 12;
  })) << (*tracker)->global().samples_accumulated;
}
