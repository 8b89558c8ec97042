// The size-adaptive codec choice of averaged tensors and parts, and the
// part-size arithmetic built on it.

#include "actors/averaging/averaging_compression.hpp"

#include <gtest/gtest.h>

using namespace colony;
using namespace colony::averaging;

TEST(averaging_compression, small_tensors_stay_uncompressed) {
  averaging_compression policy{compression_type::float16, 1000};
  EXPECT_EQ(policy.for_tensor(999, at::kFloat), compression_type::none);
  EXPECT_EQ(policy.for_tensor(1000, at::kFloat), compression_type::float16);
  EXPECT_EQ(policy.for_tensor(1 << 20, at::kDouble), compression_type::float16);
}

TEST(averaging_compression, codec_that_does_not_shrink_is_not_used) {
  averaging_compression fp16{compression_type::float16, 0};
  // float16 on a 2-byte dtype saves nothing (and would clip bfloat16).
  EXPECT_EQ(fp16.for_tensor(1 << 20, at::kHalf), compression_type::none);
  EXPECT_EQ(fp16.for_tensor(1 << 20, at::kBFloat16), compression_type::none);
  averaging_compression q8{compression_type::uniform_8bit, 0};
  EXPECT_EQ(q8.for_tensor(1 << 20, at::kHalf), compression_type::uniform_8bit);
}

TEST(averaging_compression, integers_and_off_are_never_compressed) {
  averaging_compression fp16{compression_type::float16, 0};
  EXPECT_EQ(fp16.for_tensor(1 << 20, at::kLong), compression_type::none);
  EXPECT_EQ(fp16.for_tensor(1 << 20, at::kBool), compression_type::none);
  averaging_compression off;
  EXPECT_EQ(off.codec, compression_type::none);
  EXPECT_EQ(off.min_compressed_numel, default_min_compressed_numel);
  EXPECT_EQ(off.for_tensor(1 << 24, at::kFloat), compression_type::none);
}

TEST(averaging_compression,
     short_parts_drop_a_codec_whose_side_data_dominates) {
  // uniform_8bit: n + 1024 bytes against 4n raw: raw wins up to n = 341.
  EXPECT_EQ(averaging_compression::for_part(compression_type::uniform_8bit, 341,
                                            at::kFloat),
            compression_type::none);
  EXPECT_EQ(averaging_compression::for_part(compression_type::uniform_8bit, 342,
                                            at::kFloat),
            compression_type::uniform_8bit);
  EXPECT_EQ(
      averaging_compression::for_part(compression_type::float16, 1, at::kFloat),
      compression_type::float16);
  EXPECT_EQ(averaging_compression::for_part(compression_type::none, 1 << 20,
                                            at::kFloat),
            compression_type::none);
}

TEST(averaging_compression, part_sizes_respect_the_byte_budget) {
  const uint64_t budget = 512 << 10;
  for (auto codec : all_compression_types) {
    for (auto dtype : {at::kFloat, at::kDouble, at::kHalf, at::kBFloat16}) {
      auto n = max_part_numel(codec, dtype, budget);
      EXPECT_LE(encoded_part_bytes(codec, dtype, n), budget)
          << to_string(codec) << " " << c10::toString(dtype);
      EXPECT_GT(encoded_part_bytes(codec, dtype, n + 1), budget)
          << to_string(codec) << " " << c10::toString(dtype);
    }
  }
  EXPECT_EQ(max_part_numel(compression_type::none, at::kFloat, 512 << 10),
            128 << 10);
  EXPECT_EQ(max_part_numel(compression_type::float16, at::kFloat, 512 << 10),
            256 << 10);
  // A budget below one element still makes progress.
  EXPECT_EQ(max_part_numel(compression_type::none, at::kDouble, 3), 1);
  EXPECT_EQ(max_part_numel(compression_type::uniform_8bit, at::kFloat, 100), 1);
}
