// State download: a snapshot cut into parts, through the wire, into the
// assembler; and everything a lying server could send.

#include "actors/averaging/state_codec.hpp"
#include "actors/averaging/state_transfer.hpp"
#include "messages/error.hpp"
#include "tests/unit/averaging/random_tensors.hpp"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

using namespace colony;
using namespace colony::averaging;
using colony::testing::random_tensor;

namespace {

std::vector<at::Tensor> mixed_state(std::mt19937_64& rng) {
  return {
      random_tensor(rng, {300, 70}, at::kFloat),
      at::arange(1000, at::TensorOptions{}.dtype(at::kLong)),
      random_tensor(rng, {}, at::kDouble),
      at::zeros({0, 5}),
      random_tensor(rng, {3, 33}, at::kHalf),
      at::arange(17, at::TensorOptions{}.dtype(at::kInt))
          .remainder(2)
          .to(at::kBool),
      random_tensor(rng, {999}, at::kBFloat16),
      at::arange(256, at::TensorOptions{}.dtype(at::kByte)),
  };
}

std::vector<state_tensor_info> infos_of(const std::vector<at::Tensor>& ts) {
  std::vector<state_tensor_info> out;
  for (auto& t : ts)
    out.push_back({t.scalar_type(),
                   std::vector<int64_t>(t.sizes().begin(), t.sizes().end())});
  return out;
}

/// Every part of `snapshot` through the codec, in the given order.
caf::error download(const state_snapshot& snapshot, state_assembler& into,
                    std::vector<uint32_t> order) {
  for (auto i : order) {
    auto part = snapshot.part(i);
    if (!part)
      return part.error();
    auto bytes = encode_state_part(*part);
    if (!bytes)
      return bytes.error();
    auto back = decode_state_part(*bytes);
    if (!back)
      return back.error();
    if (auto err = into.add(std::move(*back)))
      return err;
  }
  return {};
}

std::vector<uint32_t> all_parts(const state_snapshot& s) {
  std::vector<uint32_t> order(s.part_count());
  for (uint32_t i = 0; i < order.size(); ++i)
    order[i] = i;
  return order;
}

} // namespace

TEST(state_transfer, a_snapshot_downloads_exactly_in_any_order) {
  std::mt19937_64 rng{21};
  auto tensors = mixed_state(rng);
  auto snapshot = state_snapshot::make(42, std::string("step=7\0x", 8), tensors,
                                       {4096, {}});
  ASSERT_TRUE(snapshot) << describe(snapshot.error());
  EXPECT_GT(snapshot->part_count(), 20u); // 84 KB of float32 alone
  // Part 0 first, then the rest shuffled (several requests in flight).
  auto order = all_parts(*snapshot);
  std::shuffle(order.begin() + 1, order.end(), rng);
  state_assembler assembler{{}, infos_of(tensors)};
  ASSERT_FALSE(download(*snapshot, assembler, order));
  ASSERT_TRUE(assembler.complete());
  EXPECT_TRUE(assembler.missing_parts().empty());
  auto state = assembler.take();
  ASSERT_TRUE(state) << describe(state.error());
  EXPECT_EQ(state->metadata, std::string("step=7\0x", 8));
  ASSERT_EQ(state->tensors.size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    EXPECT_EQ(state->tensors[i].sizes(), tensors[i].sizes()) << i;
    EXPECT_TRUE(at::equal(state->tensors[i], tensors[i])) << i;
  }
}

TEST(state_transfer, an_encoded_snapshot_serves_its_bytes_after_writes) {
  std::mt19937_64 rng{22};
  auto tensors = mixed_state(rng);
  std::vector<at::Tensor> originals;
  for (const auto& t : tensors)
    originals.push_back(t.clone());
  // Made from the live tensors, as the averager does, then encoded once.
  auto snapshot = state_snapshot::make(43, "m", tensors, {4096, {}});
  ASSERT_TRUE(snapshot) << describe(snapshot.error());
  ASSERT_FALSE(snapshot->encode_all());
  EXPECT_FALSE(snapshot->part(0)); // it no longer reads the tensors
  for (auto& t : tensors) // training goes on; the snapshot holds its bytes
    t.zero_();
  state_assembler assembler{{}, infos_of(originals)};
  for (uint32_t i = 0; i < snapshot->part_count(); ++i) {
    auto bytes = snapshot->encoded_part(i);
    ASSERT_TRUE(bytes) << describe(bytes.error());
    auto back = decode_state_part(*bytes);
    ASSERT_TRUE(back) << describe(back.error());
    ASSERT_FALSE(assembler.add(std::move(*back)));
  }
  EXPECT_FALSE(snapshot->encoded_part(snapshot->part_count()));
  auto state = assembler.take();
  ASSERT_TRUE(state) << describe(state.error());
  for (size_t i = 0; i < originals.size(); ++i)
    EXPECT_TRUE(at::equal(state->tensors[i], originals[i])) << i;
}

TEST(state_transfer, parts_respect_the_size_and_pack_small_tensors) {
  std::vector<at::Tensor> tensors;
  for (int i = 0; i < 100; ++i)
    tensors.push_back(at::full({3}, static_cast<float>(i)));
  tensors.push_back(at::zeros({10000}));
  auto snapshot = state_snapshot::make(1, "", tensors, {4000, {}});
  ASSERT_TRUE(snapshot);
  // 100 small tensors share part 0; the large one runs over 11 parts.
  auto p0 = snapshot->part(0);
  ASSERT_TRUE(p0);
  EXPECT_GE(p0->chunks.size(), 100u);
  for (uint32_t i = 0; i < snapshot->part_count(); ++i) {
    auto p = snapshot->part(i);
    ASSERT_TRUE(p);
    int64_t bytes = 0;
    for (auto& c : p->chunks)
      bytes += c.values.numel() * c.values.element_size();
    EXPECT_LE(bytes, 4000) << i;
  }
  EXPECT_EQ(snapshot->part_count(), 11u);
  EXPECT_FALSE(snapshot->part(11));
}

TEST(state_transfer, state_compression_applies_to_large_floating_tensors) {
  std::mt19937_64 rng{22};
  auto big = random_tensor(rng, {5000}, at::kFloat);
  auto ints = at::arange(5000, at::TensorOptions{}.dtype(at::kLong));
  auto small = random_tensor(rng, {10}, at::kFloat);
  part_options options{1 << 20, {compression_type::float16, 1000}};
  auto snapshot = state_snapshot::make(5, "m", {big, ints, small}, options);
  ASSERT_TRUE(snapshot);
  state_assembler assembler;
  ASSERT_FALSE(download(*snapshot, assembler, all_parts(*snapshot)));
  auto state = assembler.take();
  ASSERT_TRUE(state);
  auto err = (state->tensors[0] - big).abs().max().item<float>();
  EXPECT_GT(err, 0.0f);
  EXPECT_LE(err, big.abs().max().item<float>() / 1024);
  EXPECT_TRUE(at::equal(state->tensors[1], ints));
  EXPECT_TRUE(at::equal(state->tensors[2], small));
}

TEST(state_transfer, empty_state_is_one_part) {
  auto snapshot = state_snapshot::make(9, "only metadata", {}, {});
  ASSERT_TRUE(snapshot);
  EXPECT_EQ(snapshot->part_count(), 1u);
  state_assembler assembler;
  ASSERT_FALSE(download(*snapshot, assembler, {0}));
  auto state = assembler.take();
  ASSERT_TRUE(state);
  EXPECT_EQ(state->metadata, "only metadata");
  EXPECT_TRUE(state->tensors.empty());
}

TEST(state_transfer, snapshot_refuses_bad_input) {
  EXPECT_FALSE(state_snapshot::make(0, "", {}, {}));
  EXPECT_FALSE(state_snapshot::make(1, "", {at::Tensor{}}, {}));
  EXPECT_FALSE(state_snapshot::make(1, "", {at::zeros({2})}, {0, {}}));
  EXPECT_FALSE(state_snapshot::make(
      1, "", {at::zeros({2}, at::TensorOptions{}.dtype(at::kComplexFloat))},
      {}));
}

TEST(state_transfer, assembler_refuses_a_lying_server) {
  std::mt19937_64 rng{23};
  std::vector<at::Tensor> tensors{random_tensor(rng, {100}, at::kFloat),
                                  random_tensor(rng, {10}, at::kDouble)};
  auto snapshot = state_snapshot::make(77, "", tensors, {200, {}});
  ASSERT_TRUE(snapshot);
  ASSERT_GE(snapshot->part_count(), 3u);
  auto part = [&](uint32_t i) {
    return *snapshot->part(i);
  };
  auto bad = [](const caf::error& err) {
    return static_cast<bool>(err);
  };

  {
    state_assembler a;
    EXPECT_TRUE(bad(a.add(part(1)))); // before part 0
    EXPECT_FALSE(a.started());
  }
  {
    state_assembler a{{}, infos_of({tensors[0]})}; // expects another schema
    EXPECT_TRUE(is_error(a.add(part(0)), errc::bad_shape));
  }
  state_assembler a;
  ASSERT_FALSE(a.add(part(0)));
  EXPECT_EQ(a.snapshot(), 77u);
  EXPECT_TRUE(bad(a.add(part(0)))); // again
  auto other = part(1);
  other.snapshot = 78;
  EXPECT_TRUE(bad(a.add(other)));
  other = part(1);
  other.part_count += 1;
  EXPECT_TRUE(bad(a.add(other)));
  other = part(1);
  other.metadata = "sneaky";
  EXPECT_TRUE(bad(a.add(other)));
  other = part(1);
  other.chunks[0].tensor_index = 5;
  EXPECT_TRUE(is_error(a.add(other), errc::bad_shape));
  other = part(1);
  other.chunks[0].values = other.chunks[0].values.to(at::kDouble);
  EXPECT_TRUE(is_error(a.add(other), errc::bad_shape));
  other = part(1);
  other.chunks[0].offset = 99; // runs past the end of tensor 0
  EXPECT_TRUE(is_error(a.add(other), errc::bad_shape));
  other = part(1);
  other.chunks[0].offset = 0; // overlaps part 0's chunk
  EXPECT_TRUE(is_error(a.add(other), errc::bad_shape));
  other = part(1);
  other.chunks.push_back(other.chunks[0]); // overlaps itself
  EXPECT_TRUE(is_error(a.add(other), errc::bad_shape));
  // None of that was written: the honest parts still complete it.
  for (uint32_t i = 1; i < snapshot->part_count(); ++i)
    ASSERT_FALSE(a.add(part(i))) << i;
  auto state = a.take();
  ASSERT_TRUE(state);
  EXPECT_TRUE(at::equal(state->tensors[0], tensors[0]));
  EXPECT_TRUE(at::equal(state->tensors[1], tensors[1]));
}

TEST(state_transfer, all_parts_but_a_gap_is_not_a_state) {
  state_part p0;
  p0.snapshot = 3;
  p0.part_count = 2;
  p0.tensors = {{at::kFloat, {10}}};
  p0.chunks = {{0, 0, at::zeros({4}), compression_type::none}};
  state_part p1 = p0;
  p1.part_index = 1;
  p1.tensors.clear();
  p1.chunks = {{0, 6, at::zeros({4}), compression_type::none}};
  state_assembler a;
  ASSERT_FALSE(a.add(p0));
  EXPECT_EQ(a.missing_parts(), (std::vector<uint32_t>{1}));
  EXPECT_FALSE(a.take());
  ASSERT_FALSE(a.add(p1));
  EXPECT_FALSE(a.complete());
  auto state = a.take();
  ASSERT_FALSE(state);
  EXPECT_TRUE(is_error(state.error(), errc::invalid_argument));
}

TEST(state_transfer, huge_claims_are_refused_before_allocation) {
  state_limits limits;
  limits.max_total_bytes = 1 << 20;
  state_part p0;
  p0.snapshot = 3;
  p0.part_count = 1;
  p0.tensors = {{at::kFloat, {1 << 20}}}; // 4 MiB claimed
  state_assembler a{limits};
  EXPECT_TRUE(is_error(a.add(p0), errc::too_large));
  // On the wire too: the decoder checks the list against its limits.
  auto bytes = encode_state_part(p0);
  ASSERT_TRUE(bytes);
  auto back = decode_state_part(*bytes, limits);
  ASSERT_FALSE(back);
  EXPECT_TRUE(is_error(back.error(), errc::too_large));
  p0.tensors = {{at::kFloat, {-1}}};
  EXPECT_TRUE(is_error(check_state_tensors(p0.tensors, {}), errc::bad_shape));
  p0.tensors = {{at::kFloat, {1 << 30, 1 << 30}}};
  EXPECT_TRUE(is_error(check_state_tensors(p0.tensors, {}), errc::too_large));
}

TEST(state_codec, requests_round_trip_and_malformed_bytes_fail) {
  auto r = decode_state_request(encode_state_request({123, 4}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->snapshot, 123u);
  EXPECT_EQ(r->part_index, 4u);
  auto start = decode_state_request(encode_state_request({0, 5}));
  ASSERT_FALSE(start);
  EXPECT_TRUE(is_error(start.error(), errc::malformed));
  EXPECT_FALSE(decode_state_request(envelope{std::vector<char>(7, 1)}));
  std::mt19937 rng{5};
  for (int i = 0; i < 200; ++i) {
    std::vector<char> junk(8 * (1 + rng() % 40));
    for (auto& c : junk)
      c = static_cast<char>(rng());
    auto p = decode_state_part(envelope{junk});
    if (!p)
      EXPECT_NE(error_reason(p.error()), "");
  }
  // Parts naming no snapshot, or an index past the count.
  state_part p;
  p.snapshot = 0;
  p.part_count = 1;
  auto bytes = encode_state_part(p);
  ASSERT_TRUE(bytes);
  EXPECT_FALSE(decode_state_part(*bytes));
  p.snapshot = 1;
  p.part_index = 1;
  bytes = encode_state_part(p);
  ASSERT_TRUE(bytes);
  EXPECT_FALSE(decode_state_part(*bytes));
}
