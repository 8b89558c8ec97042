// Moshpit averaging on a grid: 16 averagers in one process, groups of 4,
// 2-bit group keys placing 4 peers under each key. Each round's group bits
// send one member of every group to each key of the next, so that two
// rounds give every peer the global mean; with two peers gone in the first
// round, the others still draw closer to their mean every round.

#include "tests/integration/averaging/averager_fixture.hpp"

#include <map>
#include <set>
#include <vector>

using namespace colony;
using namespace colony::averaging;
using namespace colony::testing;
using namespace std::chrono_literals;

namespace {

constexpr size_t grid_peers = 16;
constexpr size_t group_size = 4;

averager_options grid_options() {
  averager_options o;
  o.prefix = "grid";
  o.target_group_size = group_size;
  o.min_matchmaking_time = 500ms;
  o.request_timeout = 1000ms;
  o.next_chunk_timeout = 1000ms;
  o.part_size_bytes = 1024;
  return o;
}

/// Peer i's key on the 4x4 grid: peers 0-3 under "00", 4-7 under "01"...
std::string grid_bits(size_t i) {
  auto row = i / group_size;
  return std::string{char('0' + (row >> 1 & 1)), char('0' + (row & 1))};
}

/// Small random tensors, distinct per peer.
std::vector<at::Tensor> grid_tensors(size_t i) {
  auto gen = at::detail::createCPUGenerator(7000 + i);
  return {at::randn({300}, gen) * 2.0 + double(i), at::randn({5, 7}, gen)};
}

averaging_swarm grid_swarm() {
  return averaging_swarm(grid_peers, grid_options(), grid_tensors,
                         [](size_t i, averager_config& ac) {
                           ac.options.initial_group_bits = grid_bits(i);
                         });
}

/// Largest distance of the live peers' tensors from their mean.
double deviation(averaging_swarm& swarm, const std::vector<size_t>& live) {
  std::vector<std::vector<at::Tensor>> values;
  for (auto i : live)
    values.push_back(clones(swarm[i].tensors));
  auto mean = weighted_mean(values, std::vector<double>(values.size(), 1.0));
  double worst = 0;
  for (const auto& v : values)
    worst = std::max(worst, max_error(v, mean));
  return worst;
}

/// A step of each peer in `live` at once (8 s to find a group).
std::map<size_t, caf::expected<step_result>>
step_live(averaging_swarm& swarm, const std::vector<size_t>& live) {
  std::map<size_t, std::future<caf::expected<step_result>>> pending;
  for (auto i : live)
    pending.emplace(i, std::async(std::launch::async, [&swarm, i] {
                      return swarm[i].step(request(1, "", 8s), 30s);
                    }));
  std::map<size_t, caf::expected<step_result>> out;
  for (auto& [i, f] : pending)
    out.emplace(i, f.get());
  return out;
}

} // namespace

TEST(moshpit, two_rounds_on_a_4x4_grid_reach_the_global_mean) {
  auto swarm = grid_swarm();
  ASSERT_TRUE(swarm.ok(grid_peers));
  std::vector<size_t> all;
  std::vector<std::vector<at::Tensor>> inputs;
  for (size_t i = 0; i < grid_peers; ++i) {
    all.push_back(i);
    inputs.push_back(clones(swarm[i].tensors));
  }
  auto global = weighted_mean(inputs, std::vector<double>(grid_peers, 1.0));
  for (int round = 0; round < 2; ++round) {
    auto results = step_live(swarm, all);
    // Members of one group leave for distinct keys.
    std::map<std::string, std::set<std::string>> next_bits;
    for (auto& [i, r] : results) {
      ASSERT_TRUE(r) << "round " << round << ", peer " << i << ": "
                     << describe(r.error());
      EXPECT_EQ(r->group.members.size(), group_size)
          << "round " << round << ", peer " << i;
      EXPECT_EQ(r->kept_parts, 0u);
      ASSERT_EQ(r->group_bits.size(), 2u);
      auto id = std::string(r->group.id.begin(), r->group.id.end());
      next_bits[id].insert(r->group_bits);
    }
    EXPECT_EQ(next_bits.size(), grid_peers / group_size) << "round " << round;
    for (const auto& [id, bits] : next_bits)
      EXPECT_EQ(bits.size(), group_size) << "round " << round;
    if (round == 0)
      // One round averages within rows only.
      EXPECT_GT(deviation(swarm, all), 0.1);
  }
  for (size_t i = 0; i < grid_peers; ++i)
    EXPECT_LE(max_error(swarm[i].tensors, global), 1e-5) << i;
}

TEST(moshpit, with_two_peers_gone_the_rest_draw_closer_every_round) {
  auto swarm = grid_swarm();
  ASSERT_TRUE(swarm.ok(grid_peers));
  // Peers 5 and 10 (keys "01" and "10") vanish while round 1 looks for
  // groups; the 14 others average on.
  const std::set<size_t> gone{5, 10};
  std::vector<size_t> live;
  for (size_t i = 0; i < grid_peers; ++i)
    if (!gone.count(i))
      live.push_back(i);
  auto before = deviation(swarm, live);
  for (auto v : gone)
    caf::anon_send(swarm[v].averager, step_atom::value, request(1, "", 8s));
  auto first =
      std::async(std::launch::async, [&] { return step_live(swarm, live); });
  for (auto v : gone) {
    ASSERT_TRUE(eventually(
        "peer " + std::to_string(v) + " looks for a group", 5s,
        [&] { return swarm[v].status().stage != averager_stage::idle; }, 1ms));
    swarm.remove(v);
  }
  std::vector<double> deviations{before};
  auto results = first.get();
  for (int round = 0; round < 4; ++round) {
    if (round > 0)
      results = step_live(swarm, live);
    size_t succeeded = 0;
    for (auto& [i, r] : results)
      succeeded += bool(r);
    // Most steps succeed; a peer whose group lost a member may fail.
    EXPECT_GE(succeeded, live.size() - 4) << "round " << round;
    deviations.push_back(deviation(swarm, live));
  }
  for (size_t k = 1; k < deviations.size(); ++k) {
    // Falls every round, until it is down to float rounding.
    if (deviations[k - 1] > 1e-5)
      EXPECT_LT(deviations[k], deviations[k - 1]) << "round " << k;
  }
  EXPECT_LT(deviations.back(), 0.05 * deviations.front());
}
