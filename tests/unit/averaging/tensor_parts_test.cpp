// The flat view of an averaged tensor group: spans, parts, reading and
// writing parts in place.

#include "actors/averaging/tensor_parts.hpp"
#include "messages/error.hpp"
#include "tests/unit/averaging/random_tensors.hpp"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <tuple>

using namespace colony;
using namespace colony::averaging;
using colony::testing::flat_double;
using colony::testing::random_tensor;

namespace {

/// Odd shapes and every averaged dtype; neighbours of the same dtype let
/// parts run over tensor boundaries. 176 elements in all.
std::vector<at::Tensor> odd_tensors(std::mt19937_64& rng) {
  return {
      random_tensor(rng, {3, 5}, at::kFloat),   // 15
      random_tensor(rng, {7}, at::kFloat),      // 7
      random_tensor(rng, {}, at::kFloat),       // 1 (scalar)
      random_tensor(rng, {7}, at::kDouble),     // 7
      random_tensor(rng, {2, 3, 4}, at::kHalf), // 24
      random_tensor(rng, {0, 3}, at::kFloat),   // 0 (empty)
      random_tensor(rng, {11}, at::kBFloat16),  // 11
      random_tensor(rng, {4, 4}, at::kFloat),   // 16
      random_tensor(rng, {5, 19}, at::kFloat),  // 95
  };
}

/// Every part of every span, checked against the layout rules.
void expect_valid_layout(const tensor_parts& parts,
                         const std::vector<int64_t>& span_sizes,
                         uint64_t part_size_bytes) {
  int64_t begin = 0;
  for (size_t s = 0; s < span_sizes.size(); ++s) {
    int64_t pos = begin;
    for (const auto& p : parts.parts(s)) {
      EXPECT_EQ(p.begin, pos) << "parts tile the span";
      EXPECT_GT(p.numel(), 0);
      EXPECT_TRUE(p.numel() == 1 ||
                  encoded_part_bytes(p.codec, p.dtype, p.numel()) <=
                      part_size_bytes)
          << "part of " << p.numel() << " elements";
      pos = p.end;
    }
    EXPECT_EQ(pos, begin + span_sizes[s]) << "span " << s;
    begin = pos;
  }
}

} // namespace

TEST(tensor_parts, spans_and_parts_tile_the_flat_vector) {
  std::mt19937_64 rng{1};
  auto tensors = odd_tensors(rng);
  std::vector<int64_t> spans{20, 0, 31, 125};
  part_options options;
  options.part_size_bytes = 24; // 6 floats, 3 doubles, 12 halves
  auto parts = tensor_parts::make(tensors, spans, options);
  ASSERT_TRUE(parts) << describe(parts.error());
  EXPECT_EQ(parts->total_numel(), 176);
  ASSERT_EQ(parts->num_spans(), 4u);
  EXPECT_TRUE(parts->parts(1).empty());
  expect_valid_layout(*parts, spans, options.part_size_bytes);
  // Span 0 = [0, 20): float32 tensors 0 and 1; a part runs over their
  // boundary at 15.
  bool crosses = false;
  for (const auto& p : parts->parts(0)) {
    EXPECT_EQ(p.dtype, at::kFloat);
    crosses |= p.begin < 15 && p.end > 15;
  }
  EXPECT_TRUE(crosses);
  // Span 2 = [20, 51): float32 up to 23, float64 to 30, float16 from 30:
  // no part mixes dtypes.
  for (const auto& p : parts->parts(2)) {
    if (p.begin < 23)
      EXPECT_LE(p.end, 23);
    else if (p.begin < 30)
      EXPECT_LE(p.end, 30);
  }
  // The empty tensor between float16 and bfloat16 breaks nothing.
  for (size_t s = 0; s < 4; ++s)
    for (const auto& p : parts->parts(s))
      EXPECT_EQ(p.codec, compression_type::none);
}

TEST(tensor_parts, reading_parts_gives_the_flat_vector) {
  std::mt19937_64 rng{2};
  auto tensors = odd_tensors(rng);
  auto expected = flat_double(tensors);
  for (uint64_t part_size : {4ull, 24ull, 64ull, 1024ull}) {
    std::vector<int64_t> spans{50, 3, 0, 123};
    auto parts = tensor_parts::make(tensors, spans, {part_size, {}});
    ASSERT_TRUE(parts);
    for (size_t s = 0; s < spans.size(); ++s) {
      for (size_t i = 0; i < parts->parts(s).size(); ++i) {
        const auto& info = parts->parts(s)[i];
        auto values = parts->read(s, i);
        EXPECT_EQ(values.dim(), 1);
        EXPECT_EQ(values.scalar_type(), info.dtype);
        // Exact: same dtype both ways.
        EXPECT_TRUE(at::equal(values.to(at::kDouble),
                              expected.narrow(0, info.begin, info.numel())))
            << "span " << s << " part " << i << " size " << part_size;
      }
    }
  }
}

TEST(tensor_parts, read_copies_only_the_part) {
  std::mt19937_64 rng{3};
  std::vector<at::Tensor> tensors{random_tensor(rng, {100}, at::kFloat)};
  auto parts = tensor_parts::make(tensors, {100}, {40, {}});
  ASSERT_TRUE(parts);
  ASSERT_EQ(parts->parts(0).size(), 10u);
  auto part = parts->read(0, 3);
  EXPECT_EQ(part.numel(), 10);
  part.fill_(7);
  // A copy: the tensor did not change.
  EXPECT_NE(tensors[0][30].item<float>(), 7.0f);
}

TEST(tensor_parts, write_and_add_change_exactly_their_part) {
  std::mt19937_64 rng{4};
  auto tensors = odd_tensors(rng);
  auto before = flat_double(tensors);
  auto parts = tensor_parts::make(tensors, {176}, {24, {}});
  ASSERT_TRUE(parts);
  // The part that runs from tensor 0 into tensor 1.
  size_t index = 0;
  for (; index < parts->parts(0).size(); ++index)
    if (parts->parts(0)[index].end > 15)
      break;
  const auto info = parts->parts(0)[index];
  ASSERT_LT(info.begin, 15);
  auto values =
      at::arange(info.numel(), at::TensorOptions{}.dtype(at::kDouble));
  ASSERT_FALSE(parts->write(0, index, values));
  auto after = flat_double(tensors);
  EXPECT_TRUE(at::equal(after.narrow(0, info.begin, info.numel()), values));
  EXPECT_TRUE(at::equal(after.narrow(0, 0, info.begin),
                        before.narrow(0, 0, info.begin)));
  EXPECT_TRUE(at::equal(after.narrow(0, info.end, 176 - info.end),
                        before.narrow(0, info.end, 176 - info.end)));
  // add: x += alpha * delta, here into the float16 tensor.
  size_t half = 0;
  for (; half < parts->parts(0).size(); ++half)
    if (parts->parts(0)[half].dtype == at::kHalf)
      break;
  const auto hinfo = parts->parts(0)[half];
  auto old = parts->read(0, half).to(at::kDouble);
  auto delta =
      at::full({hinfo.numel()}, 2.0, at::TensorOptions{}.dtype(at::kFloat));
  ASSERT_FALSE(parts->add(0, half, delta, 0.5));
  auto now = parts->read(0, half).to(at::kDouble);
  EXPECT_LE((now - (old + 1.0)).abs().max().item<double>(), 4e-3);
}

TEST(tensor_parts, wrong_values_leave_the_part_unchanged) {
  std::mt19937_64 rng{5};
  auto tensors = odd_tensors(rng);
  auto before = flat_double(tensors);
  auto parts = tensor_parts::make(tensors, {176}, {24, {}});
  ASSERT_TRUE(parts);
  auto n = parts->parts(0)[0].numel();
  auto err = parts->write(0, 0, at::zeros({n + 1}));
  EXPECT_TRUE(is_error(err, errc::invalid_argument));
  err =
      parts->add(0, 0, at::zeros({n}, at::TensorOptions{}.dtype(at::kLong)), 1);
  EXPECT_TRUE(is_error(err, errc::invalid_argument));
  err = parts->write(0, 999, at::zeros({n}));
  EXPECT_TRUE(is_error(err, errc::invalid_argument));
  err = parts->write(7, 0, at::zeros({n}));
  EXPECT_TRUE(is_error(err, errc::invalid_argument));
  EXPECT_TRUE(at::equal(flat_double(tensors), before));
}

TEST(tensor_parts, writes_reach_the_callers_tensors_even_with_autograd) {
  std::mt19937_64 rng{6};
  auto param = random_tensor(rng, {8}, at::kFloat).requires_grad_(true);
  auto parts = tensor_parts::make({param}, {8}, {1024, {}});
  ASSERT_TRUE(parts);
  ASSERT_FALSE(parts->write(0, 0, at::ones({8})));
  EXPECT_TRUE(at::equal(param.detach(), at::ones({8})));
}

TEST(tensor_parts, refuses_what_it_cannot_average_in_place) {
  std::mt19937_64 rng{7};
  auto f = random_tensor(rng, {4, 4}, at::kFloat);
  auto ok = [&](std::vector<at::Tensor> t, std::vector<int64_t> spans,
                uint64_t part = 64) {
    return tensor_parts::make(std::move(t), spans, {part, {}});
  };
  auto is_invalid = [](const caf::expected<tensor_parts>& r) {
    return !r && is_error(r.error(), errc::invalid_argument);
  };
  EXPECT_TRUE(ok({f}, {16}));
  // Integers and bools: their mean would have to be rounded.
  EXPECT_TRUE(is_invalid(
      ok({f, at::zeros({3}, at::TensorOptions{}.dtype(at::kLong))}, {19})));
  EXPECT_TRUE(is_invalid(
      ok({at::zeros({3}, at::TensorOptions{}.dtype(at::kBool))}, {3})));
  EXPECT_TRUE(is_invalid(ok({f.t()}, {16})));       // not contiguous
  EXPECT_TRUE(is_invalid(ok({at::Tensor{}}, {0}))); // undefined
  EXPECT_TRUE(is_invalid(ok({f}, {10, 5})));        // spans short
  EXPECT_TRUE(is_invalid(ok({f}, {20, -4})));       // negative span
  EXPECT_TRUE(is_invalid(ok({f}, {16}, 0)));        // part size 0
  // No tensors at all: an empty vector, nothing to send.
  auto none = ok({}, {0, 0});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->parts(0).empty());
}

TEST(tensor_parts, large_tensors_use_the_codec_and_its_part_size) {
  std::mt19937_64 rng{8};
  std::vector<at::Tensor> tensors{
      random_tensor(rng, {10}, at::kFloat),   // small: raw
      random_tensor(rng, {5000}, at::kFloat), // large: uniform_8bit
      random_tensor(rng, {3000}, at::kHalf),  // large: uniform_8bit
  };
  part_options options;
  options.part_size_bytes = 4096; // 3072 elements + the 1 KiB lookup table
  options.compression = {compression_type::uniform_8bit, 1000};
  std::vector<int64_t> spans{4000, 4010};
  auto parts = tensor_parts::make(tensors, spans, options);
  ASSERT_TRUE(parts);
  expect_valid_layout(*parts, spans, options.part_size_bytes);
  auto describe_parts = [&](size_t s) {
    std::vector<std::tuple<int64_t, int64_t, compression_type>> out;
    for (const auto& p : parts->parts(s))
      out.emplace_back(p.begin, p.end, p.codec);
    return out;
  };
  using t = std::tuple<int64_t, int64_t, compression_type>;
  const auto raw = compression_type::none;
  const auto q8 = compression_type::uniform_8bit;
  // The small tensor's part stays apart from the compressed one's.
  EXPECT_EQ(describe_parts(0),
            (std::vector<t>{{0, 10, raw}, {10, 3082, q8}, {3082, 4000, q8}}));
  // float32 and float16 never share a part.
  EXPECT_EQ(describe_parts(1),
            (std::vector<t>{{4000, 5010, q8}, {5010, 8010, q8}}));
  // With 2 KiB parts, 1024 float16 values take 2 KiB raw or with the
  // codec: they go raw, exactly.
  options.part_size_bytes = 2048;
  parts = tensor_parts::make(tensors, spans, options);
  ASSERT_TRUE(parts);
  for (const auto& p : parts->parts(1))
    EXPECT_EQ(p.codec, p.dtype == at::kHalf ? raw : q8);
}

TEST(tensor_parts, each_tensor_may_have_its_own_codec) {
  std::mt19937_64 rng{9};
  std::vector<at::Tensor> tensors{
      random_tensor(rng, {2000}, at::kFloat), // a parameter: float16
      random_tensor(rng, {2000}, at::kFloat), // a statistic: uniform_8bit
      random_tensor(rng, {2000}, at::kFloat), // other: none
  };
  part_options options;
  options.part_size_bytes = 1 << 20;
  options.tensor_compression = {{compression_type::float16, 1000},
                                {compression_type::uniform_8bit, 1000},
                                {compression_type::none, 1000}};
  std::vector<int64_t> spans{6000};
  auto parts = tensor_parts::make(tensors, spans, options);
  ASSERT_TRUE(parts);
  expect_valid_layout(*parts, spans, options.part_size_bytes);
  // Same dtype, other codec: parts never run over a change of codec.
  ASSERT_EQ(parts->parts(0).size(), 3u);
  EXPECT_EQ(parts->parts(0)[0].codec, compression_type::float16);
  EXPECT_EQ(parts->parts(0)[1].codec, compression_type::uniform_8bit);
  EXPECT_EQ(parts->parts(0)[2].codec, compression_type::none);
  EXPECT_EQ(parts->parts(0)[1].begin, 2000);
  // A policy per tensor must cover exactly the group's tensors.
  options.tensor_compression.pop_back();
  EXPECT_FALSE(tensor_parts::make(tensors, spans, options));
}
