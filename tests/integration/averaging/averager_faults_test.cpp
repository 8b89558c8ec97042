// Faults in the middle of an all-reduce round: a member that sends garbage
// (parts of the wrong size, of another group id, non-finite values), a
// member whose own tensors hold a NaN, a member frozen with SIGSTOP and a
// member killed while the round streams. The others finish within the
// timeouts, and each of their parts holds the exact mean of what arrived
// (all members, or the members still counted) or its local values.

#include "apps/node/averager_hosting.hpp"
#include "tests/integration/averaging/averager_fixture.hpp"

#include <csignal>
#include <fstream>
#include <limits>
#include <vector>

using namespace colony;
using namespace colony::averaging;
using namespace colony::testing;
using namespace std::chrono_literals;

namespace {

/// Random float32 tensors of peer i (two shapes, 4100 elements).
std::vector<at::Tensor> random_tensors(size_t i) {
  auto gen = at::detail::createCPUGenerator(300 + i);
  return {at::randn({3000}, gen) * double(i + 1) + double(i),
          at::randn({50, 22}, gen) * double(i + 1) - double(i)};
}

averager_options fault_options() {
  auto o = quick_options();
  o.part_size_bytes = 1024;
  o.next_chunk_timeout = 1500ms;
  return o;
}

/// How a garbage member spoils every part it sends.
enum class garbage { wrong_size, wrong_group, non_finite };

std::string name_of(garbage g) {
  switch (g) {
  case garbage::wrong_size:
    return "wrong_size";
  case garbage::wrong_group:
    return "wrong_group";
  case garbage::non_finite:
    return "non_finite";
  }
  return "?";
}

void spoil(garbage g, part_message& part) {
  switch (g) {
  case garbage::wrong_size:
    part.values = at::cat({part.values, part.values.narrow(0, 0, 1)});
    break;
  case garbage::wrong_group:
    part.group_id[0] = static_cast<char>(part.group_id[0] ^ 0x5a);
    break;
  case garbage::non_finite:
    part.values = part.values.clone();
    part.values[0] = std::numeric_limits<float>::quiet_NaN();
    part.values[-1] = std::numeric_limits<float>::infinity();
    break;
  }
}

/// Four peers, the last of which spoils every part it sends: the three
/// honest ones hold their mean, the garbage member keeps its values.
void garbage_is_excluded(garbage g) {
  SCOPED_TRACE(name_of(g));
  auto o = fault_options();
  o.target_group_size = 4;
  // Long enough that a round waiting out a silent sender shows.
  o.next_chunk_timeout = 4000ms;
  averaging_swarm swarm(4, o, random_tensors,
                        [g](size_t i, averager_config& ac) {
                          if (i == 3)
                            ac.tamper_part = [g](part_message& p) {
                              spoil(g, p);
                            };
                        });
  ASSERT_TRUE(swarm.ok(4));
  std::vector<std::vector<at::Tensor>> inputs;
  for (size_t i = 0; i < 4; ++i)
    inputs.push_back(clones(swarm[i].tensors));
  auto honest_mean =
      weighted_mean(inputs, {1, 1, 1, 1}, {true, true, true, false});
  auto tolerance = 1e-6 * largest_magnitude(inputs);
  auto results = swarm.step_all({request(), request(), request(), request()});
  auto timeouts = resolve_timeouts(o);
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(results[i]) << i << ": " << describe(results[i].error());
    ASSERT_EQ(results[i]->group.members.size(), 4u);
    EXPECT_EQ(results[i]->kept_parts, 0u) << i;
    EXPECT_LE(max_error(swarm[i].tensors, honest_mean), tolerance) << i;
    // Excluded as the garbage arrives, not after sender_timeout.
    EXPECT_LT(results[i]->allreduce_time, timeouts.sender) << i;
    // Reported: each honest reducer excluded the garbage member.
    EXPECT_GE(swarm[i].status().senders_excluded, 1u) << i;
  }
  // The garbage member: nothing of its was averaged, its tensors unchanged.
  ASSERT_FALSE(results[3]);
  EXPECT_TRUE(is_error(results[3].error(), errc::allreduce_failed))
      << describe(results[3].error());
  EXPECT_EQ(max_error(swarm[3].tensors, inputs[3]), 0);
}

/// Which candidate each part of `got` (flat) holds; -1 if none.
std::vector<int> classify(const at::Tensor& got,
                          const std::vector<round_part>& parts,
                          const std::vector<at::Tensor>& candidates,
                          double tolerance) {
  std::vector<int> out;
  for (const auto& p : parts) {
    auto c = part_matches(got, p, candidates, tolerance);
    out.push_back(c ? int(*c) : -1);
  }
  return out;
}

// -- a member in a process of its own ----------------------------------------

/// Floats of the process member's tensor: enough that the round streams
/// for a while in 16 KiB parts.
constexpr int64_t process_floats = int64_t{1} << 22;
constexpr uint64_t process_seed = 4242;

averager_options process_options() {
  auto o = quick_options();
  o.target_group_size = 3;
  o.part_size_bytes = 16 << 10;
  o.next_chunk_timeout = 1500ms;
  return o;
}

/// The `colony average` config of the process member: the same options and
/// tensor shape as the in-process ones.
std::string process_toml(const std::string& peer) {
  return "[node]\nswarm_id = \"test\"\ninitial_peers = [\"" + peer +
         "\"]\nlog_level = \"warn\"\n[dht]\nenabled = true\n"
         // Heartbeats as often as test_config's, whose peers time out fast.
         "[transport]\nheartbeat_interval = 0.2\npeer_timeout = 1.5\n"
         "[[averagers]]\nprefix = \"model\"\ntarget_group_size = 3\n"
         "min_matchmaking_time = 1.5\nrequest_timeout = 2\n"
         "next_chunk_timeout = 1.5\npart_size_bytes = 16384\n"
         "floats = " +
         std::to_string(process_floats) +
         "\ntensors = 1\nseed = " + std::to_string(process_seed) +
         "\nstep_timeout = 20\n";
}

/// The process member's tensors, as its node makes them.
std::vector<at::Tensor> process_tensors() {
  averager_group_config g;
  g.floats = process_floats;
  g.tensors = 1;
  return synthetic_tensors(g, process_seed);
}

enum class fault { freeze, kill };

/// Two in-process peers and one `colony average` process average; once the
/// round streams, the process is frozen or killed. The two finish within
/// the timeouts; every part of theirs holds the mean of all three, the
/// mean of the two, or (in the process's span only) its local values.
void a_process_member_fails_mid_round(fault f) {
  auto o = process_options();
  averaging_swarm swarm(2, o,
                        [](size_t i) {
                          auto gen = at::detail::createCPUGenerator(900 + i);
                          return std::vector<at::Tensor>{
                              at::randn({process_floats}, gen) +
                              3.0 * double(i + 1)};
                        },
                        {});
  ASSERT_TRUE(swarm.ok(2));
  temp_dir dir;
  auto cfg = dir.file("p.toml");
  std::ofstream(cfg) << process_toml(swarm[0].n->address());
  auto addr_file = dir.file("p.addr");
  auto spawned = apps::child_process::spawn(
      {COLONY_BINARY, "average", cfg, "--steps", "1", "--report",
       dir.file("p.jsonl"), "--address-file", addr_file},
      dir.file("p.log"));
  ASSERT_TRUE(spawned) << describe(spawned.error());
  node_process p;
  p.proc = std::move(*spawned);
  p.log_path = dir.file("p.log");
  auto addr = apps::wait_for_file_line(addr_file, 20s);
  ASSERT_TRUE(addr) << p.log();
  std::vector<std::vector<at::Tensor>> inputs{
      clones(swarm[0].tensors), clones(swarm[1].tensors), process_tensors()};
  auto mean_all = flat(weighted_mean(inputs, {1, 1, 1}));
  auto mean_two = flat(weighted_mean(inputs, {1, 1, 1}, {true, true, false}));
  auto tolerance = 1e-6 * largest_magnitude(inputs);
  std::vector<std::future<caf::expected<step_result>>> pending;
  for (size_t i = 0; i < 2; ++i)
    pending.push_back(std::async(std::launch::async,
                                 [&, i] { return swarm[i].step(request()); }));
  // Both in-process peers must have heard of the group (the leader's word
  // may travel behind the first parts): a follower the leader never told
  // is a member that never shows up, not the fault tested here.
  ASSERT_TRUE(eventually(
      "the round streams", 20s,
      [&] {
        return swarm[0].status().parts_received > 4 &&
               swarm[1].status().parts_received > 4;
      },
      1ms));
  if (f == fault::freeze) {
    ASSERT_TRUE(p.freeze());
  } else {
    p.proc.signal(SIGKILL);
    p.proc.wait_for(5s);
  }
  auto timeouts = resolve_timeouts(o);
  std::vector<step_result> results;
  for (size_t i = 0; i < 2; ++i) {
    auto r = pending[i].get();
    ASSERT_TRUE(r) << i << ": " << describe(r.error());
    ASSERT_EQ(r->group.members.size(), 3u);
    EXPECT_LT(r->allreduce_time, timeouts.sender + timeouts.reducer + 3s) << i;
    results.push_back(*r);
  }
  // No longer needed: a frozen process ignores SIGTERM.
  p.proc.signal(SIGKILL);
  p.proc.wait_for(5s);
  const auto& group = results[0].group;
  auto process_index = std::numeric_limits<size_t>::max();
  for (size_t m = 0; m < 3; ++m)
    if (m != results[0].index && m != results[1].index)
      process_index = m;
  auto parts = parts_of_round(group, swarm[0].tensors, o);
  ASSERT_FALSE(parts.empty());
  size_t faulted = 0;
  std::vector<std::vector<int>> held;
  for (size_t i = 0; i < 2; ++i) {
    auto got = flat(swarm[i].tensors);
    auto kinds =
        classify(got, parts, {mean_all, mean_two, flat(inputs[i])}, tolerance);
    for (size_t k = 0; k < parts.size(); ++k) {
      const auto& part = parts[k];
      if (part.reducer == process_index) {
        // Its reducer answered (all three counted) or is gone (local).
        EXPECT_TRUE(kinds[k] == 0 || kinds[k] == 2)
            << "peer " << i << ", part " << part.index << " of the process's "
            << "span holds " << kinds[k];
        faulted += kinds[k] == 2;
      } else {
        // Averaged by a live reducer: with or without the process's part.
        EXPECT_TRUE(kinds[k] == 0 || kinds[k] == 1)
            << "peer " << i << ", part " << part.index << " of span "
            << part.reducer << " holds " << kinds[k];
        faulted += kinds[k] == 1;
      }
    }
    held.push_back(std::move(kinds));
  }
  // The fault hit the round (some parts went without the process), and
  // the live spans hold the same values on both peers, the process counted
  // in a prefix of each span only (it is excluded from a part on).
  EXPECT_GT(faulted, 0u);
  for (size_t k = 0; k < parts.size(); ++k) {
    if (parts[k].reducer == process_index)
      continue;
    EXPECT_EQ(held[0][k], held[1][k]) << "part " << k;
    if (k > 0 && parts[k - 1].reducer == parts[k].reducer)
      EXPECT_GE(held[0][k], held[0][k - 1]) << "part " << k;
  }
  // The kept parts are those the peers report.
  for (size_t i = 0; i < 2; ++i) {
    size_t local = 0;
    for (size_t k = 0; k < parts.size(); ++k)
      local += held[i][k] == 2;
    EXPECT_EQ(results[i].kept_parts, local) << i;
  }
}

} // namespace

TEST(averager_faults, parts_of_the_wrong_size_exclude_their_sender) {
  garbage_is_excluded(garbage::wrong_size);
}

TEST(averager_faults, parts_of_another_group_exclude_their_sender) {
  garbage_is_excluded(garbage::wrong_group);
}

TEST(averager_faults, non_finite_parts_exclude_their_sender) {
  garbage_is_excluded(garbage::non_finite);
}

TEST(averager_faults,
     a_nan_in_a_members_tensors_excludes_it_from_that_part_on) {
  // Peer 2 holds one NaN in the middle of its tensors: the reducer of the
  // part holding it counts peer 2 before that part, not from it on; the
  // other spans count all three.
  auto o = fault_options();
  o.target_group_size = 3;
  constexpr int64_t nan_at = 1700; // flat index, inside the first tensor
  averaging_swarm swarm(3, o,
                        [](size_t i) {
                          auto t = random_tensors(i);
                          if (i == 2)
                            t[0][nan_at] =
                                std::numeric_limits<float>::quiet_NaN();
                          return t;
                        },
                        {});
  ASSERT_TRUE(swarm.ok(3));
  std::vector<std::vector<at::Tensor>> inputs;
  for (size_t i = 0; i < 3; ++i)
    inputs.push_back(clones(swarm[i].tensors));
  // Means over finite inputs: the NaN element is never averaged with it.
  auto clean = inputs;
  clean[2][0] = clean[2][0].clone();
  clean[2][0][nan_at] = 0;
  auto mean_all = flat(weighted_mean(clean, {1, 1, 1}));
  auto mean_two = flat(weighted_mean(clean, {1, 1, 1}, {true, true, false}));
  auto tolerance = 1e-6 * largest_magnitude(clean);
  auto results = swarm.step_all({request(), request(), request()});
  for (size_t i = 0; i < 3; ++i)
    ASSERT_TRUE(results[i]) << i << ": " << describe(results[i].error());
  auto parts = parts_of_round(results[0]->group, swarm[0].tensors, o);
  ASSERT_FALSE(parts.empty());
  const round_part* spoiled = nullptr;
  for (const auto& p : parts)
    if (p.begin <= nan_at && nan_at < p.end)
      spoiled = &p;
  ASSERT_NE(spoiled, nullptr);
  ASSERT_GT(spoiled->index, 0u) << "the NaN should not be in a first part";
  for (size_t i = 0; i < 3; ++i) {
    auto got = flat(swarm[i].tensors);
    auto local = flat(clean[i]);
    size_t kept = 0;
    for (const auto& p : parts) {
      bool excluded =
          p.reducer == spoiled->reducer && p.index >= spoiled->index;
      at::Tensor want;
      if (!excluded)
        want = mean_all;
      else if (i == 2)
        want = local; // refused: peer 2 keeps its values, NaN included
      else
        want = mean_two;
      kept += excluded && i == 2;
      auto w = want.slice(0, p.begin, p.end);
      auto g = got.slice(0, p.begin, p.end);
      if (i == 2 && excluded && p.begin <= nan_at && nan_at < p.end) {
        EXPECT_TRUE(std::isnan(got[nan_at].item<double>()));
        g = g.nan_to_num(0);
      }
      EXPECT_LE((g - w).abs().max().item<double>(), tolerance)
          << "peer " << i << ", span " << p.reducer << ", part " << p.index;
    }
    EXPECT_EQ(results[i]->kept_parts, kept) << i;
  }
  // Reported by the reducer of that span (parts name group positions).
  for (size_t i = 0; i < 3; ++i)
    if (results[i]->index == spoiled->reducer)
      EXPECT_GE(swarm[i].status().senders_excluded, 1u);
}

TEST(averager_faults, a_member_frozen_mid_round_costs_the_others_a_timeout) {
  a_process_member_fails_mid_round(fault::freeze);
}

TEST(averager_faults, a_reducer_killed_mid_round_leaves_its_parts_local) {
  a_process_member_fails_mid_round(fault::kill);
}
