// The swarm's progress as a tracker aggregates it: samples of the latest
// epoch only, throughput of everyone, an estimate of when the target is
// reached, and records that readers must ignore.

#include "actors/optim/progress_model.hpp"
#include "actors/optim/progress_record.hpp"
#include "actors/optim/throughput_ema.hpp"
#include "messages/error.hpp"
#include "runtime/identity.hpp"

#include <gtest/gtest.h>

#include <limits>

using namespace colony;
using namespace colony::optim;

namespace {

progress_record record(uint64_t epoch, uint64_t samples, double sps,
                       double time, bool client = false) {
  progress_record r;
  r.epoch = epoch;
  r.samples_accumulated = samples;
  r.samples_per_second = sps;
  r.time = time;
  r.client_mode = client;
  return r;
}

progress_model_options target(uint64_t n) {
  progress_model_options o;
  o.target_batch_size = n;
  return o;
}

} // namespace

TEST(throughput_ema, measures_samples_per_second_with_bias_correction) {
  throughput_ema ema;
  EXPECT_EQ(ema.samples_per_second(), 0);
  ema.restart(100);
  ema.update(50, 101); // 50 samples in 1 s
  EXPECT_NEAR(ema.samples_per_second(), 50, 1e-9);
  ema.update(100, 102); // then 100 in 1 s
  EXPECT_GT(ema.samples_per_second(), 50);
  EXPECT_LT(ema.samples_per_second(), 100);
  ema.restart(500); // a pause does not count as slow training
  ema.update(100, 501);
  EXPECT_GT(ema.samples_per_second(), 60);
}

TEST(progress_model, counts_samples_of_the_latest_epoch_and_everyones_speed) {
  progress_model m{target(1000), 9};
  m.update_epoch(3, 10);
  m.report(3, 100, 11); // 100 samples in 1 s
  m.set_peers({{"a", record(3, 200, 100, 11)},
               {"b", record(2, 900, 50, 11)},         // behind: speed only
               {"c", record(7, 999, 80, 11, true)}}); // client: never leads
  auto g = m.aggregate(11);
  EXPECT_EQ(g.epoch, 3u);
  EXPECT_EQ(g.samples_accumulated, 300u);
  EXPECT_EQ(g.num_peers, 4u);
  EXPECT_EQ(g.num_clients, 1u);
  EXPECT_EQ(g.num_peers_at_epoch, 2u); // this one and a
  EXPECT_EQ(g.peer_epochs, (std::vector<uint64_t>{3, 3, 2, 7}));
  EXPECT_NEAR(g.samples_per_second, 100 + 100 + 50 + 80, 1e-6);
  ASSERT_TRUE(g.eta_next_epoch);
  // 700 samples left at 330 samples/s.
  EXPECT_NEAR(*g.eta_next_epoch, 11 + 700.0 / 330, 1e-6);
  EXPECT_GE(g.next_fetch_time, 11.5);
  EXPECT_LE(g.next_fetch_time, 21);
}

TEST(progress_model, a_peer_ahead_sets_the_epoch_and_only_its_samples_count) {
  progress_model m{target(100), 0};
  m.report(1, 40, 1);
  m.set_peers({{"a", record(2, 10, 5, 1)}});
  auto g = m.aggregate(1);
  EXPECT_EQ(g.epoch, 2u);
  EXPECT_EQ(g.samples_accumulated, 10u);
}

TEST(progress_model, estimates_samples_since_each_report) {
  progress_model m{target(100), 0};
  m.set_peers({{"a", record(0, 50, 10, 0)}});
  // At t=5 the peer has about 50 + 5 * 10 samples: the target is reached.
  auto g = m.aggregate(5);
  EXPECT_EQ(g.samples_accumulated, 50u); // reported, not estimated
  ASSERT_TRUE(g.eta_next_epoch);
  EXPECT_NEAR(*g.eta_next_epoch, 5, 1e-9);
}

TEST(progress_model, no_throughput_means_no_estimate) {
  progress_model m{target(100), 0};
  auto g = m.aggregate(0);
  EXPECT_EQ(g.num_peers, 1u);
  EXPECT_FALSE(g.eta_next_epoch);
  EXPECT_NEAR(g.next_fetch_time, 10, 1e-9); // the longest refresh period
}

TEST(progress_model, round_members_count_at_the_new_epoch_until_they_say) {
  progress_model m{target(100), 0};
  m.set_peers({{"a", record(3, 50, 10, 1)}, {"b", record(3, 50, 10, 1)}});
  m.update_epoch(4, 2);
  // a averaged with this peer, b did not; c has no record yet.
  m.assume_moved_on({"a", "c"}, 4, 2);
  auto g = m.aggregate(6);
  EXPECT_EQ(g.epoch, 4u);
  EXPECT_EQ(g.num_peers_at_epoch, 2u); // this one and a
  EXPECT_EQ(g.samples_accumulated, 0u);
  ASSERT_TRUE(g.eta_next_epoch);
  // a trained 4 s at 10 samples/s since the round: 60 left at the
  // swarm's 20/s (a's and b's; this peer has not trained yet).
  EXPECT_NEAR(*g.eta_next_epoch, 6 + 60.0 / 20, 1e-9);
  // A read that still holds a's old record does not undo the assumption...
  m.set_peers({{"a", record(3, 70, 10, 3)}, {"b", record(3, 50, 10, 1)}});
  EXPECT_EQ(m.aggregate(6).num_peers_at_epoch, 2u);
  // ...a's own record of the new epoch replaces it...
  m.set_peers({{"a", record(4, 30, 10, 5)}, {"b", record(3, 50, 10, 1)}});
  EXPECT_EQ(m.aggregate(6).samples_accumulated, 30u);
  // ...and is not overwritten by it afterwards, also not once a is gone.
  m.set_peers({{"a", record(4, 35, 10, 5.5)}});
  EXPECT_EQ(m.aggregate(6).samples_accumulated, 35u);
  m.set_peers({});
  m.set_peers({{"a", record(3, 5, 10, 7)}});
  EXPECT_EQ(m.aggregate(8).epoch, 4u); // this peer's
  EXPECT_EQ(m.aggregate(8).num_peers_at_epoch, 1u);
}

TEST(progress_model, a_new_epoch_starts_from_zero_and_never_goes_back) {
  progress_model m{target(100), 0};
  m.report(0, 60, 1);
  m.update_epoch(1, 2);
  EXPECT_EQ(m.local_record().epoch, 1u);
  EXPECT_EQ(m.local_record().samples_accumulated, 0u);
  m.report(0, 80, 3); // late report of the old epoch: ignored
  EXPECT_EQ(m.local_record().epoch, 1u);
  EXPECT_EQ(m.local_record().samples_accumulated, 0u);
  m.update_epoch(0, 4);
  EXPECT_EQ(m.local_epoch(), 1u);
}

TEST(progress_record, round_trips_and_refuses_bad_values) {
  auto r = record(9, 123, 45.5, 1000.25, true);
  auto back = decode_progress_record(encode(r));
  ASSERT_TRUE(back) << describe(back.error());
  EXPECT_EQ(back->epoch, 9u);
  EXPECT_EQ(back->samples_accumulated, 123u);
  EXPECT_EQ(back->samples_per_second, 45.5);
  EXPECT_EQ(back->time, 1000.25);
  EXPECT_TRUE(back->client_mode);
  EXPECT_FALSE(back->left);
  EXPECT_FALSE(decode_progress_record("garbage bytes"));
  EXPECT_FALSE(decode_progress_record(std::string(max_progress_bytes + 1, 0)));
  auto bad = r;
  bad.samples_per_second = -1;
  EXPECT_FALSE(decode_progress_record(encode(bad)));
  bad.samples_per_second = std::numeric_limits<double>::quiet_NaN();
  EXPECT_FALSE(decode_progress_record(encode(bad)));
  bad = r;
  bad.samples_accumulated = max_progress_samples + 1;
  EXPECT_FALSE(decode_progress_record(encode(bad)));
  bad = r;
  bad.samples_per_second = 1e12;
  EXPECT_FALSE(decode_progress_record(encode(bad)));
  bad = r;
  bad.time = std::numeric_limits<double>::infinity();
  EXPECT_FALSE(decode_progress_record(encode(bad)));
}

TEST(progress_record, readers_skip_self_withdrawn_foreign_and_garbage) {
  auto me = identity::generate();
  auto other = identity::generate();
  auto third = identity::generate();
  ASSERT_TRUE(me && other && third);
  dht::get_result found;
  found.found = true;
  found.is_dictionary = true;
  auto left = record(1, 0, 0, 1);
  left.left = true;
  found.subkeys[progress_subkey(me->peer_id())] = {encode(record(1, 5, 1, 1)),
                                                   9};
  found.subkeys[progress_subkey(other->peer_id())] = {
      encode(record(2, 7, 1, 1)), 9};
  found.subkeys[progress_subkey(third->peer_id())] = {encode(left), 9};
  found.subkeys["not-a-marker"] = {encode(record(5, 5, 1, 1)), 9};
  found.subkeys["[owner:nonsense]"] = {encode(record(5, 5, 1, 1)), 9};
  auto garbage = identity::generate();
  found.subkeys[progress_subkey(garbage->peer_id())] = {"xx", 9};
  auto peers = peer_progress(found, me->peer_id());
  ASSERT_EQ(peers.size(), 1u);
  EXPECT_EQ(peers.begin()->first, other->peer_id().to_string());
  EXPECT_EQ(peers.begin()->second.epoch, 2u);
}
