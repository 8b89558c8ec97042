// Progress trackers on one DHT: each sees the others' signed records, so
// the swarm's epoch and samples add up; a peer that leaves stops counting
// at once; forged, garbage and absurd records do not move the epoch.

#include "actors/dht/dht_messages.hpp"
#include "actors/dht/record_validator.hpp"
#include "actors/optim/progress_record.hpp"
#include "actors/optim/progress_tracker.hpp"
#include "tests/integration/test_nodes.hpp"

#include <gtest/gtest.h>

using namespace colony;
using namespace colony::optim;
using namespace colony::testing;
using namespace std::chrono_literals;

namespace {

progress_tracker_options tracker_options(uint64_t target) {
  progress_tracker_options o;
  o.run_id = "progress_test";
  o.target_batch_size = target;
  o.min_refresh_period = 100ms;
  o.max_refresh_period = 300ms;
  o.default_refresh_period = 200ms;
  o.report_period = 20ms;
  o.dht_timeout = 3000ms;
  return o;
}

struct dht_pair {
  std::unique_ptr<node> a, b;
  bool start() {
    auto cfg = test_config();
    cfg.dht_enabled = true;
    cfg.dht.wait_timeout = 3000ms;
    a = start_node(cfg);
    if (!a)
      return false;
    cfg.initial_peers = {a->address()};
    b = start_node(cfg);
    return b && b->join_dht();
  }
};

std::unique_ptr<progress_tracker> make_tracker(node& n, uint64_t target) {
  auto t = progress_tracker::create(n.system(), n.dht(), n.shared_me(),
                                    tracker_options(target), n.shared_log());
  if (!t) {
    ADD_FAILURE() << describe(t.error());
    return nullptr;
  }
  return std::move(*t);
}

/// Stores `value` under the run's progress key and `subkey` from `n`;
/// whether a DHT node took it.
bool store_progress(node& n, const std::string& subkey,
                    const std::string& value) {
  dht::store_request r;
  r.key = progress_key("progress_test");
  r.subkey = subkey;
  r.has_subkey = true;
  r.value = value;
  r.expiration = dht::dht_time() + 60;
  caf::scoped_actor self{n.system()};
  bool stored = false;
  self->request(n.dht(), caf::infinite, dht::store_atom::value,
                std::vector<dht::store_request>{r})
      .receive(
          [&](const std::vector<bool>& ok) {
            stored = !ok.empty() && ok.front();
          },
          [](const caf::error&) {});
  return stored;
}

} // namespace

TEST(progress_tracker, peers_see_each_others_epoch_and_samples) {
  dht_pair s;
  ASSERT_TRUE(s.start());
  auto ta = make_tracker(*s.a, 100);
  auto tb = make_tracker(*s.b, 100);
  ASSERT_TRUE(ta && tb);
  ta->report_local_progress(0, 30);
  tb->report_local_progress(0, 50);
  ASSERT_TRUE(wait_until(10000ms, [&] {
    auto g = ta->global();
    return g.num_peers == 2 && g.samples_accumulated == 80;
  })) << ta->global().samples_accumulated;
  // B moves on: A's view of the swarm's epoch follows, with B's samples of
  // the new epoch only.
  tb->update_epoch(1);
  tb->report_local_progress(1, 10);
  ASSERT_TRUE(wait_until(10000ms, [&] {
    auto g = ta->global();
    return g.epoch == 1 && g.samples_accumulated == 10;
  }));
  // A refresh answers with what it read.
  auto g = tb->refresh(3000ms);
  ASSERT_TRUE(g) << describe(g.error());
  EXPECT_EQ(g->num_peers, 2u);
  // B leaves: A stops counting it without waiting for its record to expire.
  tb.reset();
  ASSERT_TRUE(wait_until(10000ms, [&] { return ta->global().num_peers == 1; }));
  EXPECT_EQ(ta->global().epoch, 0u);
}

TEST(progress_tracker, forged_garbage_and_absurd_records_do_not_count) {
  dht_pair s;
  ASSERT_TRUE(s.start());
  auto ta = make_tracker(*s.a, 100);
  ASSERT_TRUE(ta);
  ta->report_local_progress(0, 5);
  progress_record far_ahead;
  far_ahead.epoch = 1000;
  far_ahead.samples_accumulated = 10;
  far_ahead.time = dht::dht_time();
  // B writes under A's owner marker: no DHT node may take it (B cannot
  // sign for A).
  EXPECT_FALSE(store_progress(*s.b, progress_subkey(s.a->me().peer_id()),
                              encode(far_ahead)));
  // Under B's own marker: garbage, a NaN throughput, absurd samples.
  auto mine = progress_subkey(s.b->me().peer_id());
  ASSERT_TRUE(store_progress(*s.b, mine, "not a progress record"));
  auto refresh_epoch = [&] {
    auto g = ta->refresh(3000ms);
    EXPECT_TRUE(g) << describe(g.error());
    return g ? g->epoch : 0;
  };
  EXPECT_EQ(refresh_epoch(), 0u);
  auto nan = far_ahead;
  nan.samples_per_second = std::numeric_limits<double>::quiet_NaN();
  ASSERT_TRUE(store_progress(*s.b, mine, encode(nan)));
  EXPECT_EQ(refresh_epoch(), 0u);
  auto absurd = far_ahead;
  absurd.samples_accumulated = max_progress_samples * 2;
  ASSERT_TRUE(store_progress(*s.b, mine, encode(absurd)));
  EXPECT_EQ(refresh_epoch(), 0u);
  EXPECT_EQ(ta->global().num_peers, 1u);
  // A well-formed record of B does count: the refusals above were not
  // because B's records never arrive.
  ASSERT_TRUE(store_progress(*s.b, mine, encode(far_ahead)));
  EXPECT_EQ(refresh_epoch(), 1000u);
}
