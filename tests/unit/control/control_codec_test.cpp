// Control requests and node status on the wire; the log tally behind
// "errors seen".

#include "actors/control/control_codec.hpp"
#include "messages/error.hpp"
#include "runtime/log_tally.hpp"
#include "runtime/logging.hpp"
#include "runtime/process_memory.hpp"

#include <gtest/gtest.h>

#include <spdlog/sinks/null_sink.h>

#include <cmath>

using namespace colony;
using namespace colony::control;
using namespace std::chrono_literals;

TEST(control_codec, requests_round_trip) {
  control_request status;
  auto s = decode_control_request(encode_control_request(status));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->kind, control_request::kind_type::status);

  control_request faults;
  faults.kind = control_request::kind_type::set_faults;
  faults.faults.delay = 150ms;
  faults.faults.jitter = 50ms;
  faults.faults.drop_rate = 0.25;
  faults.faults.partitioned = {"127.0.0.1:1234", "12D3KooWsome"};
  faults.faults.seed = 99;
  auto f = decode_control_request(encode_control_request(faults));
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kind, control_request::kind_type::set_faults);
  EXPECT_EQ(f->faults.delay, 150ms);
  EXPECT_EQ(f->faults.jitter, 50ms);
  EXPECT_EQ(f->faults.drop_rate, 0.25);
  EXPECT_EQ(f->faults.partitioned, faults.faults.partitioned);
  EXPECT_EQ(f->faults.seed, 99u);

  control_request poison;
  poison.kind = control_request::kind_type::poison;
  poison.poison = moe::poison_mode::wrong_shape;
  poison.uids = {"ffn.0.1"};
  auto p = decode_control_request(encode_control_request(poison));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->poison, moe::poison_mode::wrong_shape);
  EXPECT_EQ(p->uids, poison.uids);
}

TEST(control_codec, bad_requests_are_typed_errors) {
  auto junk = decode_control_request(envelope{std::vector<char>(24, '\xff')});
  ASSERT_FALSE(junk);
  EXPECT_TRUE(is_error(junk.error(), errc::malformed));
  auto odd = decode_control_request(envelope{std::vector<char>(13, 0)});
  ASSERT_FALSE(odd);
  EXPECT_TRUE(is_error(odd.error(), errc::malformed));
  control_request bad;
  bad.kind = control_request::kind_type::set_faults;
  for (double rate : {1.5, -0.1, std::nan("")}) {
    bad.faults.drop_rate = rate;
    auto r = decode_control_request(encode_control_request(bad));
    ASSERT_FALSE(r) << rate;
    EXPECT_TRUE(is_error(r.error(), errc::invalid_argument));
  }
}

TEST(control_codec, status_round_trips_with_and_without_training) {
  node_status s;
  s.peer_id = "12D3KooWabc";
  s.address = "127.0.0.1:9";
  s.uptime_s = 12.5;
  s.rss_bytes = 123456789;
  s.warnings = 4;
  s.errors = 1;
  s.connections = 7;
  s.has_dht = true;
  s.dht_gets = 100;
  s.dht_gets_found = 97;
  s.dht_stores = 20;
  s.dht_stores_accepted = 19;
  s.routing_table_size = 5;
  s.experts_served = 8;
  s.experts_poisoned = 2;
  s.faults.delay = 10ms;
  s.fault_counts.messages_dropped = 3;
  s.fault_counts.frames_partitioned = 6;
  auto plain = decode_node_status(encode_node_status(s));
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->peer_id, s.peer_id);
  EXPECT_EQ(plain->rss_bytes, s.rss_bytes);
  EXPECT_EQ(plain->dht_gets_found, 97u);
  EXPECT_EQ(plain->experts_poisoned, 2u);
  EXPECT_EQ(plain->faults.delay, 10ms);
  EXPECT_EQ(plain->fault_counts.frames_partitioned, 6u);
  EXPECT_FALSE(plain->training);
  trainer::training_record t;
  t.step = 300;
  t.train_loss = 0.4;
  t.samples_per_s = 9000;
  t.live_experts = 16;
  t.failed_calls = 0.1;
  s.training = t;
  auto before_eval = decode_node_status(encode_node_status(s));
  ASSERT_TRUE(before_eval && before_eval->training);
  EXPECT_EQ(before_eval->training->step, 300u);
  EXPECT_FALSE(before_eval->training->test_accuracy);
  s.training->test_accuracy = 0.875;
  s.training_finished = true;
  auto after_eval = decode_node_status(encode_node_status(s));
  ASSERT_TRUE(after_eval && after_eval->training);
  EXPECT_EQ(after_eval->training->test_accuracy, 0.875);
  EXPECT_TRUE(after_eval->training_finished);
}

TEST(log_tally, counts_warnings_and_errors_of_node_loggers) {
  auto before = process_log_tally();
  auto log = make_node_logger("tally0", spdlog::level::info,
                              std::make_shared<spdlog::sinks::null_sink_mt>());
  log->info("not counted");
  log->warn("one");
  log->warn("two");
  log->error("three");
  log->critical("four");
  log->debug("below the level: not even written");
  auto after = process_log_tally();
  EXPECT_EQ(after.warnings - before.warnings, 2u);
  EXPECT_EQ(after.errors - before.errors, 2u);
}

TEST(process_memory, reads_a_plausible_rss) {
  auto rss = resident_set_bytes();
  EXPECT_GT(rss, 1u << 20);
  EXPECT_LT(rss, uint64_t{64} << 30);
}
