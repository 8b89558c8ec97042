// A reducer's averaging of its span's parts, with senders in any order,
// exclusions and garbage; the sender side applying deltas.

#include "actors/averaging/part_applier.hpp"
#include "actors/averaging/part_reducer.hpp"
#include "messages/error.hpp"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <limits>

using namespace colony;
using namespace colony::averaging;

namespace {

const std::string group = "group-1";

/// Two float32 parts of 3 elements each.
std::vector<part_info> two_parts() {
  return {{0, 3, at::kFloat, compression_type::none},
          {3, 6, at::kFloat, compression_type::none}};
}

part_message msg(uint32_t sender, uint32_t part, double weight,
                 std::vector<float> values) {
  return {group, sender, part, weight,
          at::tensor(values, at::TensorOptions{}.dtype(at::kFloat))};
}

at::Tensor floats(std::vector<float> values) {
  return at::tensor(values, at::TensorOptions{}.dtype(at::kFloat));
}

void expect_close(const at::Tensor& a, const at::Tensor& b) {
  EXPECT_LE((a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>(),
            1e-6)
      << a << " vs " << b;
}

} // namespace

TEST(part_reducer, averages_each_part_when_every_sender_sent_it) {
  part_reducer reducer{group, two_parts(), {true, true, true}};
  EXPECT_EQ(reducer.waiting_for(), (std::vector<uint32_t>{0, 1, 2}));
  // Senders in any order, each in order.
  auto u = reducer.accept(msg(2, 0, 1, {3, 3, 3}));
  EXPECT_TRUE(u.completed.empty());
  EXPECT_FALSE(u.refused);
  u = reducer.accept(msg(0, 0, 2, {0, 3, 6}));
  EXPECT_TRUE(u.completed.empty());
  u = reducer.accept(msg(0, 1, 2, {1, 1, 1}));
  EXPECT_TRUE(u.completed.empty());
  u = reducer.accept(msg(1, 0, 1, {6, 6, 6}));
  ASSERT_EQ(u.completed.size(), 1u);
  const auto& p0 = u.completed[0];
  EXPECT_EQ(p0.part_index, 0u);
  EXPECT_TRUE(p0.averaged);
  EXPECT_EQ(p0.contributors, (std::vector<uint32_t>{0, 1, 2}));
  EXPECT_DOUBLE_EQ(p0.total_weight, 4);
  // Weighted mean: (2*[0,3,6] + [6,6,6] + [3,3,3]) / 4 = [2.25, 3.75, 5.25].
  auto mean = floats({2.25, 3.75, 5.25});
  ASSERT_EQ(p0.sent.size(), 3u);
  expect_close(p0.delta(0), mean - floats({0, 3, 6}));
  expect_close(p0.delta(1), mean - floats({6, 6, 6}));
  expect_close(p0.delta(2), mean - floats({3, 3, 3}));
  EXPECT_EQ(reducer.waiting_for(), (std::vector<uint32_t>{1, 2}));
  u = reducer.accept(msg(1, 1, 1, {4, 4, 4}));
  EXPECT_TRUE(u.completed.empty());
  EXPECT_FALSE(reducer.finished());
  u = reducer.accept(msg(2, 1, 1, {7, 7, 7}));
  ASSERT_EQ(u.completed.size(), 1u);
  EXPECT_EQ(u.completed[0].part_index, 1u);
  // (2 * 1 + 4 + 7) / 4 = 3.25
  expect_close(u.completed[0].delta(0), floats({2.25, 2.25, 2.25}));
  EXPECT_TRUE(reducer.finished());
  EXPECT_TRUE(reducer.waiting_for().empty());
}

TEST(part_reducer, a_silent_sender_is_excluded_from_its_next_part_on) {
  part_reducer reducer{group, two_parts(), {true, true, true}};
  (void)reducer.accept(msg(0, 0, 1, {1, 1, 1}));
  (void)reducer.accept(msg(1, 0, 1, {2, 2, 2}));
  (void)reducer.accept(msg(0, 1, 1, {1, 1, 1}));
  (void)reducer.accept(msg(2, 0, 1, {3, 3, 3}));
  // Part 0 averaged over all three; sender 1 then goes silent.
  auto u = reducer.accept(msg(2, 1, 1, {5, 5, 5}));
  EXPECT_TRUE(u.completed.empty());
  EXPECT_EQ(reducer.waiting_for(), (std::vector<uint32_t>{1}));
  u = reducer.exclude(1, exclusion_reason::timeout, "silent for 3 s");
  ASSERT_TRUE(u.excluded);
  EXPECT_EQ(u.excluded->sender, 1u);
  EXPECT_EQ(u.excluded->from_part, 1u);
  EXPECT_EQ(u.excluded->reason, exclusion_reason::timeout);
  ASSERT_EQ(u.completed.size(), 1u);
  const auto& p1 = u.completed[0];
  EXPECT_TRUE(p1.averaged);
  EXPECT_EQ(p1.contributors, (std::vector<uint32_t>{0, 2}));
  expect_close(p1.delta(0), floats({2, 2, 2}));    // mean 3 - 1
  expect_close(p1.delta(1), floats({-2, -2, -2})); // mean 3 - 5
  EXPECT_TRUE(reducer.finished());
  // Its late part is refused with the reason, and reported only once.
  u = reducer.accept(msg(1, 1, 1, {9, 9, 9}));
  ASSERT_TRUE(u.refused);
  EXPECT_EQ(u.refused->reason, exclusion_reason::timeout);
  EXPECT_EQ(u.refused->part_index, 1u);
  EXPECT_FALSE(u.excluded);
  // Excluding again, or a finished sender, changes nothing.
  EXPECT_FALSE(reducer.exclude(1, exclusion_reason::failed, "").excluded);
  EXPECT_FALSE(reducer.exclude(0, exclusion_reason::failed, "").excluded);
}

TEST(part_reducer, garbage_excludes_the_sender_and_is_reported) {
  struct bad_case {
    const char* name;
    part_message message;
    exclusion_reason reason;
  };
  auto nan = std::numeric_limits<float>::quiet_NaN();
  auto inf = std::numeric_limits<float>::infinity();
  std::vector<bad_case> cases{
      {"wrong size", msg(1, 0, 1, {1, 2}), exclusion_reason::wrong_size},
      {"wrong dtype",
       {group, 1, 0, 1, at::zeros({3}, at::TensorOptions{}.dtype(at::kDouble))},
       exclusion_reason::wrong_size},
      {"2-D",
       {group, 1, 0, 1, at::zeros({1, 3})},
       exclusion_reason::wrong_size},
      {"undefined",
       {group, 1, 0, 1, at::Tensor{}},
       exclusion_reason::wrong_size},
      {"NaN", msg(1, 0, 1, {1, nan, 3}), exclusion_reason::non_finite},
      {"infinity", msg(1, 0, 1, {1, 2, -inf}), exclusion_reason::non_finite},
      {"wrong group",
       {"group-0", 1, 0, 1, floats({1, 2, 3})},
       exclusion_reason::wrong_group},
      {"out of order", msg(1, 1, 1, {1, 2, 3}), exclusion_reason::out_of_order},
      {"beyond the span", msg(1, 2, 1, {1, 2, 3}),
       exclusion_reason::out_of_order},
      {"negative weight", msg(1, 0, -1, {1, 2, 3}),
       exclusion_reason::bad_weight},
      {"NaN weight",
       msg(1, 0, std::numeric_limits<double>::quiet_NaN(), {1, 2, 3}),
       exclusion_reason::bad_weight},
  };
  for (auto& c : cases) {
    part_reducer reducer{group, two_parts(), {true, true}};
    (void)reducer.accept(msg(0, 0, 1, {4, 4, 4}));
    auto u = reducer.accept(c.message);
    ASSERT_TRUE(u.refused) << c.name;
    EXPECT_EQ(u.refused->reason, c.reason) << c.name;
    ASSERT_TRUE(u.excluded) << c.name;
    EXPECT_EQ(u.excluded->sender, 1u);
    EXPECT_EQ(u.excluded->from_part, 0u);
    EXPECT_FALSE(u.excluded->message.empty());
    // Part 0 is settled at once, over the honest sender alone.
    ASSERT_EQ(u.completed.size(), 1u) << c.name;
    EXPECT_EQ(u.completed[0].contributors, (std::vector<uint32_t>{0}));
    expect_close(u.completed[0].delta(0), floats({0, 0, 0}));
    // A correct part afterwards is refused too.
    auto again = reducer.accept(msg(1, 0, 1, {1, 2, 3}));
    ASSERT_TRUE(again.refused);
    EXPECT_FALSE(again.excluded);
  }
}

TEST(part_reducer, auxiliary_members_are_neither_waited_for_nor_counted) {
  // Member 1 is auxiliary: it reduces elsewhere but sends no tensors.
  part_reducer reducer{group, two_parts(), {true, false, true}};
  EXPECT_EQ(reducer.waiting_for(), (std::vector<uint32_t>{0, 2}));
  auto u = reducer.accept(msg(1, 0, 1, {1, 1, 1}));
  ASSERT_TRUE(u.refused);
  EXPECT_EQ(u.refused->reason, exclusion_reason::not_a_sender);
  EXPECT_FALSE(u.excluded);
  u = reducer.accept(msg(7, 0, 1, {1, 1, 1})); // not a member at all
  ASSERT_TRUE(u.refused);
  EXPECT_EQ(u.refused->reason, exclusion_reason::not_a_sender);
  (void)reducer.accept(msg(0, 0, 1, {2, 2, 2}));
  u = reducer.accept(msg(2, 0, 1, {4, 4, 4}));
  ASSERT_EQ(u.completed.size(), 1u);
  EXPECT_EQ(u.completed[0].contributors, (std::vector<uint32_t>{0, 2}));
  expect_close(u.completed[0].delta(0), floats({1, 1, 1}));
}

TEST(part_reducer, parts_without_weight_or_senders_are_not_averaged) {
  part_reducer reducer{group, two_parts(), {true, true}};
  (void)reducer.accept(msg(0, 0, 0, {1, 1, 1}));
  auto u = reducer.accept(msg(1, 0, 0, {3, 3, 3}));
  ASSERT_EQ(u.completed.size(), 1u);
  EXPECT_FALSE(u.completed[0].averaged);
  EXPECT_EQ(u.completed[0].contributors, (std::vector<uint32_t>{0, 1}));
  EXPECT_TRUE(u.completed[0].sent.empty());
  // Everybody gone before part 1: settled with no contributor.
  (void)reducer.exclude(0, exclusion_reason::failed, "connection lost");
  u = reducer.exclude(1, exclusion_reason::failed, "connection lost");
  ASSERT_EQ(u.completed.size(), 1u);
  EXPECT_FALSE(u.completed[0].averaged);
  EXPECT_TRUE(u.completed[0].contributors.empty());
  EXPECT_TRUE(reducer.finished());
}

TEST(part_reducer, zero_weight_members_get_the_others_average) {
  part_reducer reducer{group, two_parts(), {true, true}};
  (void)reducer.accept(msg(0, 0, 0, {1, 1, 1}));
  auto u = reducer.accept(msg(1, 0, 2, {3, 3, 3}));
  ASSERT_EQ(u.completed.size(), 1u);
  EXPECT_TRUE(u.completed[0].averaged);
  expect_close(u.completed[0].delta(0), floats({2, 2, 2}));
  expect_close(u.completed[0].delta(1), floats({0, 0, 0}));
}

TEST(part_reducer, a_late_nan_leaves_the_sum_exactly_as_without_it) {
  // A NaN far into a long part: earlier blocks were already added when it
  // is found, and the sum is rebuilt from the others' values.
  const int64_t n = 10000;
  std::vector<part_info> parts{{0, n, at::kFloat, compression_type::none}};
  auto a = at::randn({n});
  auto b = at::randn({n});
  auto bad = at::randn({n});
  bad[n - 10] = std::numeric_limits<float>::quiet_NaN();
  auto part = [&](uint32_t sender, double w, const at::Tensor& v) {
    return part_message{group, sender, 0, w, v.clone()};
  };
  part_reducer with{group, parts, {true, true, true}};
  (void)with.accept(part(0, 1.5, a));
  auto refused = with.accept(part(2, 1, bad));
  ASSERT_TRUE(refused.refused);
  EXPECT_EQ(refused.refused->reason, exclusion_reason::non_finite);
  auto done = with.accept(part(1, 0.5, b));
  ASSERT_EQ(done.completed.size(), 1u);
  part_reducer without{group, parts, {true, true, true}};
  (void)without.exclude(2, exclusion_reason::failed, "gone");
  (void)without.accept(part(0, 1.5, a));
  auto reference = without.accept(part(1, 0.5, b));
  ASSERT_EQ(reference.completed.size(), 1u);
  EXPECT_EQ(done.completed[0].contributors, (std::vector<uint32_t>{0, 1}));
  EXPECT_TRUE(
      at::equal(done.completed[0].average, reference.completed[0].average));
  expect_close(done.completed[0].average, (1.5 * a + 0.5 * b) / 2);
}

TEST(part_reducer, an_empty_span_is_finished_at_once) {
  part_reducer reducer{group, {}, {true, true}};
  EXPECT_TRUE(reducer.finished());
  EXPECT_TRUE(reducer.waiting_for().empty());
  auto u = reducer.accept(msg(0, 0, 1, {1, 2, 3}));
  ASSERT_TRUE(u.refused);
  EXPECT_EQ(u.refused->reason, exclusion_reason::out_of_order);
}

TEST(part_reducer, low_precision_parts_accumulate_in_float32) {
  std::vector<part_info> parts{{0, 2, at::kHalf, compression_type::none}};
  part_reducer reducer{group, parts, {true, true}};
  (void)reducer.accept({group, 0, 0, 1, floats({2048, 1}).to(at::kHalf)});
  auto u = reducer.accept({group, 1, 0, 1, floats({2050, 2}).to(at::kHalf)});
  ASSERT_EQ(u.completed.size(), 1u);
  ASSERT_EQ(u.completed[0].sent.size(), 2u);
  std::vector<at::Tensor> d{u.completed[0].delta(0), u.completed[0].delta(1)};
  EXPECT_EQ(d[0].scalar_type(), at::kHalf);
  // Mean 2049 (not representable in float16, but its delta is).
  EXPECT_EQ(d[0][0].item<float>(), 1.0f);
  EXPECT_EQ(d[1][1].item<float>(), -0.5f);
}

// -- part_applier ------------------------------------------------------------

TEST(part_applier, applies_deltas_times_alpha_and_keeps_failed_parts) {
  auto x = at::tensor({1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f});
  auto parts = tensor_parts::make({x}, {3, 3}, {12, {}});
  ASSERT_TRUE(parts);
  ASSERT_EQ(parts->parts(0).size(), 1u);
  part_applier applier{*parts, 0.5};
  EXPECT_EQ(applier.pending_parts(), 2u);
  ASSERT_FALSE(applier.apply(0, 0, floats({2, 4, 6})));
  EXPECT_EQ(applier.state(0, 0), part_state::averaged);
  applier.keep_span(1);
  EXPECT_EQ(applier.state(1, 0), part_state::kept);
  EXPECT_TRUE(applier.finished());
  EXPECT_EQ(applier.averaged_parts(), 1u);
  EXPECT_EQ(applier.kept_parts(), 1u);
  EXPECT_TRUE(at::equal(x, at::tensor({2.0f, 3.0f, 4.0f, 1.0f, 1.0f, 1.0f})));
  // A second delta for a settled part changes nothing.
  auto err = applier.apply(0, 0, floats({2, 4, 6}));
  EXPECT_TRUE(is_error(err, errc::invalid_argument));
  EXPECT_TRUE(
      is_error(applier.apply(1, 0, floats({1, 1, 1})), errc::invalid_argument));
  EXPECT_TRUE(at::equal(x, at::tensor({2.0f, 3.0f, 4.0f, 1.0f, 1.0f, 1.0f})));
}

TEST(part_applier, garbage_deltas_leave_the_part_untouched) {
  auto x = at::tensor({1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f});
  auto parts = tensor_parts::make({x}, {6}, {12, {}});
  ASSERT_TRUE(parts);
  ASSERT_EQ(parts->parts(0).size(), 2u);
  part_applier applier{*parts, 1.0};
  auto err = applier.apply(0, 0, floats({1, 2}));
  EXPECT_TRUE(is_error(err, errc::bad_shape));
  EXPECT_EQ(applier.state(0, 0), part_state::kept);
  err = applier.apply(0, 1,
                      floats({1, std::numeric_limits<float>::quiet_NaN(), 1}));
  EXPECT_TRUE(is_error(err, errc::malformed));
  EXPECT_EQ(applier.state(0, 1), part_state::kept);
  EXPECT_TRUE(at::equal(x, at::ones({6})));
  EXPECT_EQ(applier.kept_parts(), 2u);
}

TEST(part_applier, the_deadline_keeps_whatever_is_pending) {
  auto x = at::zeros({9});
  auto parts = tensor_parts::make({x}, {3, 6}, {12, {}});
  ASSERT_TRUE(parts);
  part_applier applier{*parts, 1.0};
  ASSERT_EQ(applier.pending_parts(), 3u);
  ASSERT_FALSE(applier.apply(1, 1, floats({1, 1, 1})));
  applier.keep(1, 1); // settled already: no effect
  applier.keep_pending();
  EXPECT_TRUE(applier.finished());
  EXPECT_EQ(applier.averaged_parts(), 1u);
  EXPECT_EQ(applier.kept_parts(), 2u);
  EXPECT_EQ(x.sum().item<float>(), 3.0f);
}
