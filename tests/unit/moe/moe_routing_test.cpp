#include "actors/moe/client/moe_routing.hpp"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

namespace colony::moe {
namespace {

expert_info ex(const std::string& uid) {
  return {uid, "peer", "127.0.0.1:1"};
}

// Samples 0..3 choosing among e0, e1, e2, e4, e5; sample 3 chose none.
std::vector<std::vector<expert_info>> example() {
  return {{ex("e.0"), ex("e.1"), ex("e.2")},
          {ex("e.2"), ex("e.4")},
          {ex("e.1"), ex("e.5"), ex("e.3")},
          {}};
}

TEST(moe_routing, groups_samples_by_expert_in_order_of_first_use) {
  auto batches = group_by_expert(example());
  ASSERT_EQ(batches.size(), 6u);
  std::vector<std::string> uids;
  for (auto& b : batches)
    uids.push_back(b.expert.uid);
  EXPECT_EQ(uids, (std::vector<std::string>{"e.0", "e.1", "e.2", "e.4", "e.5",
                                            "e.3"}));
  EXPECT_EQ(batches[1].rows, (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(batches[1].slots, (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(batches[2].rows, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(batches[2].slots, (std::vector<int64_t>{2, 0}));
  EXPECT_EQ(slot_count(example()), 3);
  EXPECT_EQ(chosen_per_sample(example()), (std::vector<int64_t>{3, 2, 3, 0}));
  EXPECT_TRUE(group_by_expert({}).empty());
  EXPECT_EQ(slot_count({}), 0);
  // The same expert twice in one sample serves it twice.
  auto twice = group_by_expert({{ex("e.0"), ex("e.0")}});
  ASSERT_EQ(twice.size(), 1u);
  EXPECT_EQ(twice[0].rows, (std::vector<int64_t>{0, 0}));
  EXPECT_EQ(twice[0].slots, (std::vector<int64_t>{0, 1}));
}

TEST(moe_routing, mask_marks_slots_of_answering_experts) {
  auto batches = group_by_expert(example());
  // e.5 and e.3 failed.
  auto mask = build_mask(4, 3, batches, {true, true, true, true, false, false});
  auto expected = at::tensor({1, 1, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0})
                      .view({4, 3})
                      .to(at::kBool);
  EXPECT_TRUE(at::equal(mask, expected)) << mask;
  EXPECT_EQ(answered_per_sample(mask), (std::vector<int64_t>{3, 2, 1, 0}));
}

TEST(moe_routing, scatter_and_gather_are_inverse) {
  auto batches = group_by_expert(example());
  std::vector<at::Tensor> outputs;
  for (size_t b = 0; b < batches.size(); ++b)
    outputs.push_back(
        at::randn({static_cast<int64_t>(batches[b].rows.size()), 2, 3}));
  outputs[3] = at::Tensor{}; // e.4 failed
  auto stacked = scatter_outputs(4, 3, batches, outputs, {2, 3}, at::kFloat);
  ASSERT_EQ(stacked.sizes(), (std::vector<int64_t>{4, 3, 2, 3}));
  // e.1 serves sample 0 in slot 1 and sample 2 in slot 0.
  EXPECT_TRUE(at::equal(stacked[0][1], outputs[1][0]));
  EXPECT_TRUE(at::equal(stacked[2][0], outputs[1][1]));
  EXPECT_TRUE(at::equal(stacked[1][1], at::zeros({2, 3})));
  EXPECT_TRUE(at::equal(stacked[3], at::zeros({3, 2, 3})));
  for (size_t b = 0; b < batches.size(); ++b)
    if (outputs[b].defined())
      EXPECT_TRUE(at::equal(gather_outputs(stacked, batches[b]), outputs[b]));
}

TEST(moe_routing, accumulate_rows_sums_per_sample) {
  auto batches = group_by_expert(example());
  auto target = at::zeros({4, 2});
  for (auto& b : batches)
    accumulate_rows(target, b,
                    at::ones({static_cast<int64_t>(b.rows.size()), 2}));
  auto expected =
      at::tensor({3.f, 3.f, 2.f, 2.f, 3.f, 3.f, 0.f, 0.f}).view({4, 2});
  EXPECT_TRUE(at::equal(target, expected)) << target;
  EXPECT_TRUE(at::equal(row_index(batches[1]), at::tensor({0L, 2L})));
  EXPECT_TRUE(at::equal(flat_slot_index(batches[1], 3), at::tensor({1L, 6L})));
}

TEST(moe_routing, samples_short_of_answers_respect_their_expert_count) {
  // k_min 2: sample 1 has 2 experts but 1 answer; sample 2 has 1 expert and
  // its answer; sample 3 has no experts and needs none.
  EXPECT_EQ(samples_short_of_answers({2, 1, 1, 0}, {3, 2, 1, 0}, 2),
            (std::vector<int64_t>{1}));
  EXPECT_EQ(samples_short_of_answers({0, 1}, {3, 1}, 1),
            (std::vector<int64_t>{0}));
  EXPECT_TRUE(samples_short_of_answers({0, 0}, {3, 1}, 0).empty());
}

TEST(moe_routing, all_finite_detects_nan_and_inf) {
  EXPECT_TRUE(all_finite(at::ones({2, 2})));
  EXPECT_TRUE(all_finite(at::Tensor{}));
  EXPECT_TRUE(all_finite(at::ones({2}, at::kLong)));
  auto t = at::ones({3});
  t[1] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_FALSE(all_finite(t));
  t[1] = std::numeric_limits<float>::infinity();
  EXPECT_FALSE(all_finite(t));
}

} // namespace
} // namespace colony::moe
