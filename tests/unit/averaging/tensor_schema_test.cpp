// The schema hash that decides which peers may average together.

#include "actors/averaging/tensor_schema.hpp"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

using namespace colony;
using namespace colony::averaging;

TEST(tensor_schema, peers_that_would_cut_parts_alike_hash_alike) {
  std::vector<at::Tensor> tensors{at::zeros({100, 30}), at::zeros({7})};
  part_options global;
  global.compression = {compression_type::float16, 1000};
  part_options per_tensor = global;
  per_tensor.tensor_compression = {global.compression, global.compression};
  auto base = schema_hash(tensors, global);
  EXPECT_EQ(base.size(), schema_hash_bytes);
  // A per-tensor policy equal to the global one is the same schema.
  EXPECT_EQ(schema_hash(tensors, per_tensor), base);
  // Another codec for one tensor is not.
  per_tensor.tensor_compression[0].codec = compression_type::uniform_8bit;
  EXPECT_NE(schema_hash(tensors, per_tensor), base);
  // Nor another size threshold, part size or shape.
  auto other = global;
  other.compression.min_compressed_numel = 10;
  EXPECT_NE(schema_hash(tensors, other), base);
  other = global;
  other.part_size_bytes /= 2;
  EXPECT_NE(schema_hash(tensors, other), base);
  EXPECT_NE(schema_hash({at::zeros({30, 100}), at::zeros({7})}, global), base);
}
