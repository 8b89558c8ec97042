// A butterfly all-reduce round simulated in memory, without actors or a
// network: members cut their tensors into fixed spans (tensor_parts), send
// every part through the wire codec to the span's reducer (part_reducer),
// in a random interleaving of senders, and apply the deltas that come back
// (part_applier). Faults are injected between those steps.

#include "actors/averaging/allreduce_codec.hpp"
#include "actors/averaging/part_applier.hpp"
#include "actors/averaging/part_reducer.hpp"
#include "actors/averaging/tensor_parts.hpp"
#include "messages/error.hpp"
#include "tests/unit/averaging/random_tensors.hpp"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <map>
#include <optional>
#include <random>

using namespace colony;
using namespace colony::averaging;
using colony::testing::clones;
using colony::testing::random_tensor;

namespace {

const std::string group_id = "0123456789abcdef";

/// Several shapes and dtypes, 3199 elements: not a multiple of any part
/// size used below.
std::vector<at::Tensor> tensor_set(std::mt19937_64& rng, double scale) {
  return {
      random_tensor(rng, {37, 53}, at::kFloat, scale), // 1961
      random_tensor(rng, {129}, at::kDouble, scale),   // 129
      random_tensor(rng, {7, 9}, at::kHalf, scale),    // 63
      random_tensor(rng, {}, at::kFloat, scale),       // 1
      random_tensor(rng, {3, 0}, at::kFloat, scale),   // 0
      random_tensor(rng, {45}, at::kBFloat16, scale),  // 45
      random_tensor(rng, {1000}, at::kFloat, scale),   // 1000
  };
}

/// What to break in a round.
struct faults {
  /// This member stops sending after its first `parts_before_silence`
  /// parts to each reducer; reducers then time it out.
  std::optional<uint32_t> silent_sender;
  uint32_t parts_before_silence = 1;
  /// This member's reducer dies before answering anything.
  std::optional<uint32_t> dead_reducer;
  /// This member sends NaN in its part `bad_part` to each reducer.
  std::optional<uint32_t> nan_sender;
  uint32_t bad_part = 1;
};

struct member {
  std::vector<at::Tensor> tensors;
  std::vector<at::Tensor> original;
  double weight = 1;
  bool auxiliary = false;
};

/// Per span and part: member indices.
using part_members = std::vector<std::vector<std::vector<uint32_t>>>;

/// Runs one round over `members` (tensors changed in place) and sets
/// `settled` to the contributors each reducer reported per part (empty for
/// parts no reducer settled).
void run_round(std::vector<member>& members, const std::vector<int64_t>& spans,
               const part_options& options, double alpha, const faults& f,
               std::mt19937_64& rng, part_members& settled) {
  const auto n = static_cast<uint32_t>(members.size());
  std::vector<bool> contributes;
  for (auto& m : members)
    contributes.push_back(!m.auxiliary);
  std::vector<std::optional<tensor_parts>> parts(n);
  std::vector<std::optional<part_applier>> appliers(n);
  for (uint32_t i = 0; i < n; ++i) {
    auto p = tensor_parts::make(members[i].tensors, spans, options);
    ASSERT_TRUE(p) << describe(p.error());
    parts[i].emplace(std::move(*p));
    if (contributes[i])
      appliers[i].emplace(*parts[i], alpha);
  }
  // Every member derives the same layout; the reducers use member 0's.
  std::vector<part_reducer> reducers;
  for (uint32_t r = 0; r < n; ++r)
    reducers.emplace_back(group_id, parts[0]->parts(r), contributes);
  settled.assign(n, {});
  for (uint32_t r = 0; r < n; ++r)
    settled[r].resize(parts[0]->parts(r).size());

  // A reducer's update: deltas and refusals go back through the codec.
  auto deliver = [&](uint32_t r, const reducer_update& u,
                     std::optional<uint32_t> sender) {
    for (const auto& done : u.completed) {
      auto codec = parts[0]->parts(r)[done.part_index].codec;
      settled[r][done.part_index] = done.contributors;
      for (size_t k = 0; k < done.contributors.size(); ++k) {
        auto c = done.contributors[k];
        part_reply reply =
            done.averaged
                ? part_reply{part_delta{done.part_index, done.delta(k),
                                        done.contributors}}
                : part_reply{part_refusal{done.part_index,
                                          exclusion_reason::not_averaged, ""}};
        auto bytes = encode_part_reply(reply, codec);
        ASSERT_TRUE(bytes) << describe(bytes.error());
        auto back = decode_part_reply(*bytes);
        ASSERT_TRUE(back) << describe(back.error());
        if (auto* d = std::get_if<part_delta>(&*back)) {
          EXPECT_FALSE(appliers[c]->apply(r, d->part_index, d->values));
        } else {
          appliers[c]->keep(r, std::get<part_refusal>(*back).part_index);
        }
      }
    }
    if (u.refused && sender)
      appliers[*sender]->keep(r, u.refused->part_index);
  };

  // Each (sender, reducer) stream advances in order; streams interleave
  // at random.
  std::vector<std::vector<uint32_t>> next(n, std::vector<uint32_t>(n, 0));
  auto stream_open = [&](uint32_t s, uint32_t r) {
    if (!contributes[s] || r == f.dead_reducer)
      return false;
    auto limit = static_cast<uint32_t>(parts[s]->parts(r).size());
    if (s == f.silent_sender)
      limit = std::min(limit, f.parts_before_silence);
    return next[s][r] < limit;
  };
  for (;;) {
    std::vector<std::pair<uint32_t, uint32_t>> open;
    for (uint32_t s = 0; s < n; ++s)
      for (uint32_t r = 0; r < n; ++r)
        if (stream_open(s, r))
          open.emplace_back(s, r);
    if (open.empty())
      break;
    auto [s, r] = open[rng() % open.size()];
    auto index = next[s][r]++;
    const auto& info = parts[s]->parts(r)[index];
    auto values = parts[s]->read(r, index);
    if (s == f.nan_sender && index == f.bad_part)
      values[0].fill_(std::numeric_limits<double>::quiet_NaN());
    auto bytes = encode_reducer_request(
        part_message{group_id, s, index, members[s].weight, values},
        info.codec);
    ASSERT_TRUE(bytes) << describe(bytes.error());
    auto request = decode_reducer_request(*bytes);
    ASSERT_TRUE(request) << describe(request.error());
    auto update =
        reducers[r].accept(std::move(std::get<part_message>(*request)));
    if (update.excluded) {
      EXPECT_EQ(s, f.nan_sender) << "only the NaN sender is excluded";
      EXPECT_EQ(update.excluded->reason, exclusion_reason::non_finite);
      EXPECT_EQ(update.excluded->from_part, f.bad_part);
    }
    deliver(r, update, s);
  }
  // Nothing flows any more: the sender timeout fires for whoever a live
  // reducer still waits for.
  for (uint32_t r = 0; r < n; ++r) {
    if (r == f.dead_reducer)
      continue;
    for (auto s : reducers[r].waiting_for()) {
      EXPECT_TRUE(s == f.silent_sender || s == f.nan_sender)
          << "reducer " << r << " waits for honest sender " << s;
      deliver(r, reducers[r].exclude(s, exclusion_reason::timeout, "silent"),
              std::nullopt);
    }
    EXPECT_TRUE(reducers[r].finished()) << r;
  }
  // The dead reducer's calls fail; at the round's deadline, parts that got
  // no answer keep their values. Honest members have none left otherwise.
  for (uint32_t s = 0; s < n; ++s) {
    if (!appliers[s])
      continue;
    if (f.dead_reducer)
      appliers[s]->keep_span(*f.dead_reducer);
    if (s != f.silent_sender && s != f.nan_sender)
      EXPECT_TRUE(appliers[s]->finished()) << "member " << s;
    appliers[s]->keep_pending();
  }
}

/// Largest magnitude among all members' original values.
double largest_magnitude(const std::vector<member>& members) {
  double m = 0;
  for (auto& mem : members)
    for (auto& t : mem.original)
      if (t.numel() > 0)
        m = std::max(m, t.to(at::kDouble).abs().max().item<double>());
  return m;
}

/// Relative tolerance of the result in a tensor of `dtype`, as a fraction
/// of the largest magnitude: `exact` for float32/float64 (the issue's
/// bound), the storage's own rounding (with the delta's) for 16-bit ones.
double tolerance(at::ScalarType dtype, double exact) {
  if (dtype == at::kHalf)
    return std::max(exact, 4.0 / 2048);
  if (dtype == at::kBFloat16)
    return std::max(exact, 4.0 / 256);
  return exact;
}

/// Checks each member's tensors against the exact weighted mean of what was
/// sent, element by element: per part, members that contributed moved
/// `alpha` of the way to the mean over that part's contributors; members
/// that did not (and everyone, in parts never averaged) kept their values.
void expect_round_result(const std::vector<member>& members,
                         const std::vector<int64_t>& spans,
                         const part_options& options, double alpha,
                         double rel_tol, const part_members& contributors,
                         const std::vector<std::vector<bool>>& averaged) {
  const auto n = members.size();
  std::vector<at::Tensor> before, after;
  for (auto& m : members) {
    before.push_back(colony::testing::flat_double(m.original));
    after.push_back(colony::testing::flat_double(m.tensors));
  }
  auto scale = largest_magnitude(members);
  auto layout = tensor_parts::make(clones(members[0].original), spans, options);
  ASSERT_TRUE(layout);
  for (size_t r = 0; r < spans.size(); ++r) {
    for (size_t p = 0; p < layout->parts(r).size(); ++p) {
      const auto& info = layout->parts(r)[p];
      const auto& who = contributors[r][p];
      at::Tensor mean;
      if (averaged[r][p]) {
        double total = 0;
        mean =
            at::zeros({info.numel()}, at::TensorOptions{}.dtype(at::kDouble));
        for (auto c : who) {
          mean +=
              members[c].weight * before[c].narrow(0, info.begin, info.numel());
          total += members[c].weight;
        }
        mean /= total;
      }
      for (size_t m = 0; m < n; ++m) {
        if (members[m].auxiliary)
          continue;
        auto was = before[m].narrow(0, info.begin, info.numel());
        auto is = after[m].narrow(0, info.begin, info.numel());
        bool moved =
            averaged[r][p] && std::find(who.begin(), who.end(), m) != who.end();
        auto want = moved ? was + alpha * (mean - was) : was;
        auto err = (is - want).abs().max().item<double>();
        auto tol = tolerance(info.dtype, rel_tol) * scale;
        EXPECT_LE(err, tol)
            << "member " << m << " span " << r << " part " << p << " ("
            << c10::toString(info.dtype) << (moved ? ", averaged)" : ", kept)");
        if (!moved)
          EXPECT_EQ(err, 0.0) << "kept parts are untouched";
      }
    }
  }
}

std::vector<member> make_members(std::mt19937_64& rng, size_t count) {
  std::vector<member> members(count);
  std::vector<double> weights{1.0, 2.5, 0.5, 3.0, 1.5};
  for (size_t i = 0; i < count; ++i) {
    members[i].tensors = tensor_set(rng, 1.0 + static_cast<double>(i));
    members[i].original = clones(members[i].tensors);
    members[i].weight = weights[i % weights.size()];
  }
  return members;
}

/// Everyone contributes to every part, every part is averaged.
part_members everyone(const std::vector<member>& members,
                      const std::vector<int64_t>& spans,
                      const part_options& options) {
  auto layout = tensor_parts::make(clones(members[0].original), spans, options);
  std::vector<uint32_t> all;
  for (uint32_t i = 0; i < members.size(); ++i)
    if (!members[i].auxiliary)
      all.push_back(i);
  part_members out(spans.size());
  for (size_t r = 0; r < spans.size(); ++r)
    out[r].assign(layout->parts(r).size(), all);
  return out;
}

std::vector<std::vector<bool>> all_averaged(const part_members& c) {
  std::vector<std::vector<bool>> out;
  for (auto& span : c)
    out.emplace_back(span.size(), true);
  return out;
}

/// Spans for 4 members: member 1 is in client mode (no span); the total
/// is 3199.
const std::vector<int64_t> four_spans{1300, 0, 999, 900};

} // namespace

TEST(allreduce_simulation,
     one_step_gives_every_member_the_exact_weighted_mean) {
  std::mt19937_64 rng{31};
  auto members = make_members(rng, 4);
  part_options options;
  options.part_size_bytes = 1000; // 250 floats, 125 doubles, 500 halves
  part_members settled;
  run_round(members, four_spans, options, 1.0, {}, rng, settled);
  auto expected = everyone(members, four_spans, options);
  EXPECT_EQ(settled, expected);
  expect_round_result(members, four_spans, options, 1.0, 1e-6, expected,
                      all_averaged(expected));
}

TEST(allreduce_simulation, alpha_one_half_lands_halfway) {
  std::mt19937_64 rng{32};
  auto members = make_members(rng, 4);
  part_options options;
  options.part_size_bytes = 4096;
  part_members settled;
  run_round(members, four_spans, options, 0.5, {}, rng, settled);
  auto expected = everyone(members, four_spans, options);
  EXPECT_EQ(settled, expected);
  expect_round_result(members, four_spans, options, 0.5, 1e-6, expected,
                      all_averaged(expected));
}

TEST(allreduce_simulation, float16_codec_stays_within_its_bound) {
  std::mt19937_64 rng{33};
  auto members = make_members(rng, 4);
  part_options options;
  options.part_size_bytes = 1000;
  options.compression = {compression_type::float16, 100};
  auto layout =
      tensor_parts::make(clones(members[0].original), four_spans, options);
  ASSERT_TRUE(layout);
  size_t compressed = 0;
  for (size_t r = 0; r < four_spans.size(); ++r)
    for (auto& p : layout->parts(r))
      compressed += p.codec == compression_type::float16;
  EXPECT_GT(compressed, 5u);
  part_members settled;
  run_round(members, four_spans, options, 1.0, {}, rng, settled);
  auto expected = everyone(members, four_spans, options);
  EXPECT_EQ(settled, expected);
  expect_round_result(members, four_spans, options, 1.0, 2e-3, expected,
                      all_averaged(expected));
}

TEST(allreduce_simulation, a_sender_silent_mid_stream_is_averaged_out) {
  std::mt19937_64 rng{34};
  auto members = make_members(rng, 4);
  part_options options;
  options.part_size_bytes = 1000;
  faults f;
  f.silent_sender = 2;
  f.parts_before_silence = 2;
  part_members settled;
  run_round(members, four_spans, options, 1.0, f, rng, settled);
  // Parts 0 and 1 of each span count member 2; later parts do not, and
  // member 2 keeps its own values there.
  auto expected = everyone(members, four_spans, options);
  for (auto& span : expected)
    for (size_t p = 2; p < span.size(); ++p)
      span[p] = {0, 1, 3};
  EXPECT_EQ(settled, expected);
  expect_round_result(members, four_spans, options, 1.0, 1e-6, expected,
                      all_averaged(expected));
}

TEST(allreduce_simulation, a_nan_sender_is_excluded_from_that_part_on) {
  std::mt19937_64 rng{35};
  auto members = make_members(rng, 4);
  part_options options;
  options.part_size_bytes = 1000;
  faults f;
  f.nan_sender = 3;
  f.bad_part = 1;
  part_members settled;
  run_round(members, four_spans, options, 1.0, f, rng, settled);
  auto expected = everyone(members, four_spans, options);
  for (auto& span : expected)
    for (size_t p = 1; p < span.size(); ++p)
      span[p] = {0, 1, 2};
  EXPECT_EQ(settled, expected);
  expect_round_result(members, four_spans, options, 1.0, 1e-6, expected,
                      all_averaged(expected));
}

TEST(allreduce_simulation, a_dead_reducer_leaves_its_span_local_everywhere) {
  std::mt19937_64 rng{36};
  auto members = make_members(rng, 4);
  part_options options;
  options.part_size_bytes = 1000;
  faults f;
  f.dead_reducer = 2;
  part_members settled;
  run_round(members, four_spans, options, 1.0, f, rng, settled);
  auto expected = everyone(members, four_spans, options);
  auto averaged = all_averaged(expected);
  for (size_t p = 0; p < expected[2].size(); ++p) {
    expected[2][p].clear();
    averaged[2][p] = false;
  }
  EXPECT_EQ(settled, expected);
  expect_round_result(members, four_spans, options, 1.0, 1e-6, expected,
                      averaged);
}

TEST(allreduce_simulation, an_auxiliary_member_reduces_without_contributing) {
  std::mt19937_64 rng{37};
  auto members = make_members(rng, 5);
  members[4].auxiliary = true;
  std::vector<int64_t> spans{800, 0, 700, 699, 1000};
  part_options options;
  options.part_size_bytes = 1000;
  part_members settled;
  run_round(members, spans, options, 1.0, {}, rng, settled);
  auto expected = everyone(members, spans, options);
  EXPECT_EQ(settled, expected);
  EXPECT_FALSE(expected[4].empty()) << "the auxiliary member has a span";
  expect_round_result(members, spans, options, 1.0, 1e-6, expected,
                      all_averaged(expected));
  // Its own tensors are not touched.
  for (size_t i = 0; i < members[4].tensors.size(); ++i)
    EXPECT_TRUE(at::equal(members[4].tensors[i], members[4].original[i]));
}
