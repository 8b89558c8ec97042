// Averager actors on in-process nodes joined through one DHT: groups form,
// tensors reach the (weighted) mean, group bits follow Moshpit, a peer that
// vanishes costs only its own parts, and bad calls leave the averager
// serving.

#include "actors/averaging/state_codec.hpp"
#include "runtime/transport/transport_atoms.hpp"
#include "tests/integration/averaging/averager_fixture.hpp"

#include <future>
#include <set>
#include <vector>

using namespace colony;
using namespace colony::averaging;
using namespace colony::testing;
using namespace std::chrono_literals;

TEST(averager, four_peers_reach_the_mean_and_share_what_they_gathered) {
  averaging_swarm swarm(4, quick_options());
  ASSERT_TRUE(swarm.ok(4));
  std::vector<step_request> requests;
  for (int i = 0; i < 4; ++i)
    requests.push_back(request(1, "peer-" + std::to_string(i)));
  auto results = swarm.step_all(requests);
  std::set<std::string> ids;
  for (size_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(results[i]) << i << ": " << describe(results[i].error());
    const auto& r = *results[i];
    EXPECT_EQ(r.group.members.size(), 4u);
    EXPECT_EQ(r.kept_parts, 0u);
    EXPECT_GT(r.averaged_parts, 0u);
    ASSERT_EQ(r.gathered.size(), 4u);
    std::set<std::string> gathered(r.gathered.begin(), r.gathered.end());
    EXPECT_EQ(gathered,
              (std::set<std::string>{"peer-0", "peer-1", "peer-2", "peer-3"}));
    EXPECT_EQ(r.gathered[r.index], "peer-" + std::to_string(i));
    ids.insert(std::string(r.group.id.begin(), r.group.id.end()));
    // (1 + 2 + 3 + 4) / 4
    EXPECT_LT(max_distance(swarm[i].tensors, 2.5), 1e-5) << i;
  }
  EXPECT_EQ(ids.size(), 1u) << "every member saw the same group";
  for (size_t i = 0; i < 4; ++i) {
    auto s = swarm[i].status();
    EXPECT_EQ(s.steps_succeeded, 1u);
    EXPECT_EQ(s.stage, averager_stage::idle);
  }
}

TEST(averager, weights_and_a_client_mode_peer) {
  // Peer 2 is in client mode: it sends its tensors, reduces nothing.
  averaging_swarm swarm(3, quick_options(), /*client_last=*/true);
  ASSERT_TRUE(swarm.ok(3));
  // values 1, 2, 3 with weights 1, 0, 3: (1 + 9) / 4
  auto results = swarm.step_all({request(1), request(0), request(3)});
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(results[i]) << i << ": " << describe(results[i].error());
    EXPECT_EQ(results[i]->group.members.size(), 3u);
    EXPECT_LT(max_distance(swarm[i].tensors, 2.5), 1e-5) << i;
  }
}

TEST(averager, moshpit_groups_of_two_mix_all_four_in_two_steps) {
  auto o = quick_options();
  o.target_group_size = 2;
  o.initial_group_bits = "0";
  averaging_swarm swarm(4, o);
  ASSERT_TRUE(swarm.ok(4));
  // Two rounds in a 2x2 grid: every peer ends at the global mean.
  for (int round = 0; round < 2; ++round) {
    auto results = swarm.step_all({request(), request(), request(), request()});
    for (size_t i = 0; i < 4; ++i) {
      ASSERT_TRUE(results[i]) << "round " << round << ", peer " << i << ": "
                              << describe(results[i].error());
      EXPECT_EQ(results[i]->group.members.size(), 2u);
      EXPECT_EQ(results[i]->group_bits.size(), 1u);
    }
  }
  double spread = 0;
  for (size_t i = 0; i < 4; ++i)
    spread = std::max(spread, max_distance(swarm[i].tensors, 2.5));
  // Groups are random: two steps reach the mean when the second pairs
  // across the first's groups, which Moshpit's bits make sure of.
  EXPECT_LT(spread, 1e-5);
}

TEST(averager, too_few_peers_fail_the_step_and_keep_the_tensors) {
  auto o = quick_options();
  o.min_group_size = 3;
  averaging_swarm swarm(2, o);
  ASSERT_TRUE(swarm.ok(2));
  auto results = swarm.step_all({request(1, "", 3s), request(1, "", 3s)});
  for (size_t i = 0; i < 2; ++i) {
    ASSERT_FALSE(results[i]) << i;
    EXPECT_TRUE(is_error(results[i].error(), errc::group_too_small) ||
                is_error(results[i].error(), errc::no_group_found))
        << describe(results[i].error());
    EXPECT_LT(max_distance(swarm[i].tensors, double(i + 1)), 1e-7);
  }
  // Still serving: a third peer arrives and the three average.
}

TEST(averager, a_peer_that_vanishes_costs_only_its_own_parts) {
  averaging_swarm swarm(3, quick_options());
  ASSERT_TRUE(swarm.ok(3));
  auto first = swarm.step_all({request(), request(), request()});
  for (size_t i = 0; i < 3; ++i)
    ASSERT_TRUE(first[i]) << describe(first[i].error());
  // Peer 2 leaves; the other two still average with each other.
  swarm.remove(2);
  swarm[0].tensors[0].fill_(10);
  swarm[0].tensors[1].fill_(10);
  swarm[1].tensors[0].fill_(20);
  swarm[1].tensors[1].fill_(20);
  std::vector<std::future<caf::expected<step_result>>> pending;
  for (size_t i = 0; i < 2; ++i)
    pending.push_back(std::async(std::launch::async,
                                 [&, i] { return swarm[i].step(request()); }));
  for (size_t i = 0; i < 2; ++i) {
    auto r = pending[i].get();
    ASSERT_TRUE(r) << describe(r.error());
    EXPECT_EQ(r->group.members.size(), 2u);
    EXPECT_LT(max_distance(swarm[i].tensors, 15), 1e-5);
  }
}

TEST(averager, a_peer_that_vanishes_mid_round_costs_only_its_own_parts) {
  auto o = quick_options();
  o.part_size_bytes = 16 << 10;
  o.next_chunk_timeout = 1500ms;
  // 8 MB per peer in 16 KiB parts: the round lasts long enough to stop a
  // member in the middle of it.
  averaging_swarm swarm(3, o, false, int64_t{1} << 21);
  ASSERT_TRUE(swarm.ok(3));
  // Peer 2's step has no one waiting for its answer: its node goes away.
  caf::anon_send(swarm[2].averager, step_atom::value, request());
  std::vector<std::future<caf::expected<step_result>>> pending;
  for (size_t i = 0; i < 2; ++i)
    pending.push_back(std::async(std::launch::async,
                                 [&, i] { return swarm[i].step(request()); }));
  ASSERT_TRUE(eventually(
      "peer 2 averages", 20s,
      [&] { return swarm[2].status().stage == averager_stage::allreduce; },
      1ms));
  swarm.remove(2);
  for (size_t i = 0; i < 2; ++i) {
    auto r = pending[i].get();
    if (!r)
      EXPECT_TRUE(is_error(r.error(), errc::allreduce_failed))
          << describe(r.error());
    // Every element is its own value (its reducer left), the mean of the
    // two that stayed (the third's part never came), or of all three.
    double own = double(i + 1);
    for (const auto& t : swarm[i].tensors) {
      auto ok = at::isclose(t, at::full_like(t, own)) |
                at::isclose(t, at::full_like(t, 1.5)) |
                at::isclose(t, at::full_like(t, 2.0));
      EXPECT_TRUE(ok.all().item<bool>()) << "peer " << i;
    }
  }
  // The two that stayed still average with each other.
  swarm[0].tensors[0].fill_(10);
  swarm[0].tensors[1].fill_(10);
  swarm[1].tensors[0].fill_(20);
  swarm[1].tensors[1].fill_(20);
  auto again = swarm.step_all({request(), request()});
  for (size_t i = 0; i < 2; ++i) {
    ASSERT_TRUE(again[i]) << describe(again[i].error());
    EXPECT_LT(max_distance(swarm[i].tensors, 15), 1e-5);
  }
}

TEST(averager, bad_calls_get_errors_and_the_averager_keeps_serving) {
  averaging_swarm swarm(2, quick_options());
  ASSERT_TRUE(swarm.ok(2));
  auto& p = swarm[0];
  // A negative weight, a second step while one is under way.
  auto bad = p.step(request(-1));
  ASSERT_FALSE(bad);
  EXPECT_TRUE(is_error(bad.error(), errc::invalid_argument));
  // Garbage bytes to both services, from the other node.
  for (const auto& service :
       {allreduce_service("model"), matchmaking_service("model")}) {
    std::string text("\x01\x02garbage", 9);
    envelope junk(std::vector<char>(text.begin(), text.end()));
    auto reply = call(*swarm[1].n, p.n->address(), service, junk);
    EXPECT_FALSE(reply) << service;
  }
  // Group bits: refused unless '0'/'1'.
  {
    caf::scoped_actor self{p.n->system()};
    bool refused = false;
    self->request(p.averager, 5s, set_group_bits_atom::value,
                  std::string("01x"))
        .receive([] {}, [&](caf::error&) { refused = true; });
    EXPECT_TRUE(refused);
  }
  // Still averages.
  auto results = swarm.step_all({request(), request()});
  for (size_t i = 0; i < 2; ++i) {
    ASSERT_TRUE(results[i]) << describe(results[i].error());
    EXPECT_LT(max_distance(swarm[i].tensors, 1.5), 1e-5);
  }
}

TEST(averager, state_copy_carries_metadata_and_cloned_tensors) {
  averaging_swarm swarm(1, quick_options());
  ASSERT_TRUE(swarm.ok(1));
  auto& p = swarm[0];
  caf::scoped_actor self{p.n->system()};
  self->send(p.averager, set_state_metadata_atom::value, std::string("step=7"));
  self->send(p.averager, set_state_priority_atom::value, 7.0);
  state_copy copy;
  self->request(p.averager, 5s, get_state_copy_atom::value, uint64_t{3},
                part_options{})
      .receive([&](state_copy& c) { copy = std::move(c); },
               [](caf::error& err) { FAIL() << describe(err); });
  EXPECT_EQ(copy.metadata, "step=7");
  EXPECT_EQ(copy.priority, 7.0);
  EXPECT_EQ(copy.snapshot.id(), 3u);
  // The first tensor's values, as part 0 carries them.
  auto first_values = [&] {
    auto bytes = copy.snapshot.encoded_part(0);
    EXPECT_TRUE(bytes);
    auto part = decode_state_part(*bytes);
    EXPECT_TRUE(part);
    EXPECT_EQ(part->metadata, "step=7");
    EXPECT_EQ(part->tensors.size(), 2u);
    return part->chunks.at(0).values.clone();
  };
  EXPECT_TRUE(first_values().equal(p.tensors[0].reshape(-1)));
  // A copy, not a view.
  p.tensors[0].fill_(-1);
  EXPECT_EQ(first_values()[0].item<float>(), 1.f);
}
