#include "messages/flat_builder.hpp"

#include "messages/buffer_pool.hpp"
#include "messages/error.hpp"
#include "messages/tensor.capnp.h"
#include "messages/tensor_codec.hpp"
#include "runtime/transport/frame_reader.hpp"

#include <ATen/ATen.h>
#include <capnp/serialize.h>
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

using namespace colony;

namespace {

/// Encodes `t` as one Tensor message through a flat_builder, its data as a
/// blob when `blob` (as the averaging codecs do), with `extra` list entries
/// allocated after the blob.
envelope encode(const at::Tensor& t, compression_type codec, bool blob,
                unsigned extra = 0) {
  flat_builder builder{tensor_message_words(t, codec) + 64 + extra,
                       blob ? tensor_blob_words(t, codec) : 0};
  auto root = builder.message().initRoot<wire::TensorList>();
  auto list = root.initTensors(1);
  EXPECT_FALSE(encode_tensor(t, codec, list[0]));
  // Objects after the blob land in a segment behind it; none is lost.
  if (extra > 0) {
    auto means = list[0].initMeans(extra);
    for (unsigned i = 0; i < extra; ++i)
      means.set(i, static_cast<float>(i));
  }
  return builder.finish();
}

at::Tensor decode(const envelope& env) {
  EXPECT_FALSE(check_flat_message(env.data(), env.size(), 1u << 30));
  capnp::FlatArrayMessageReader reader(env.words());
  auto list = reader.getRoot<wire::TensorList>().getTensors();
  EXPECT_EQ(list.size(), 1u);
  auto t = decode_tensor(list[0], tensor_limits{}, env.buffer());
  EXPECT_TRUE(t) << describe(t.error());
  return t ? t->clone() : at::Tensor{};
}

} // namespace

TEST(flat_builder, blob_message_is_built_in_place_and_reads_back) {
  auto t = at::randn({100003});
  for (int round = 0; round < 3; ++round) { // later rounds reuse pooled memory
    auto env = encode(t, compression_type::none, true);
    // Built in place: the envelope starts behind the reserved table room,
    // not at a copied buffer's start.
    EXPECT_NE(env.data(), env.buffer()->data());
    EXPECT_TRUE(at::equal(decode(env), t));
  }
}

TEST(flat_builder, blob_padding_and_following_objects_are_zero_or_written) {
  // Dirty the pool's buffers, so that stale bytes would show.
  for (int i = 0; i < 4; ++i) {
    auto buf = buffer_pool::instance().take(1 << 20);
    std::memset(buf.data(), 0xab, buf.size());
    buffer_pool::instance().give(std::move(buf));
  }
  auto t = at::randn({4097}).to(at::kHalf); // 8194 bytes: a padded last word
  auto env = encode(t, compression_type::none, true, 3);
  capnp::FlatArrayMessageReader reader(env.words());
  auto tensor = reader.getRoot<wire::TensorList>().getTensors()[0];
  auto means = tensor.getMeans();
  ASSERT_EQ(means.size(), 3u);
  EXPECT_EQ(means[2], 2.f);
  EXPECT_EQ(tensor.getStds().size(), 0u); // zeroed pointer: no list
  // The blob's padding bytes are zero, not left from an earlier message.
  auto data = tensor.getData();
  const auto* end = data.begin() + data.size();
  for (size_t i = 0; i < 6; ++i)
    EXPECT_EQ(end[i], 0) << i;
}

TEST(flat_builder, without_blob_words_every_word_is_zeroed) {
  auto t = at::randn({5000});
  auto env = encode(t, compression_type::float16, false);
  EXPECT_TRUE(at::allclose(decode(env).to(at::kFloat), t, 1e-2, 1e-2));
}

TEST(flat_builder, short_estimate_falls_back_to_a_copy) {
  auto t = at::randn({20000});
  flat_builder builder{8, 4}; // far too small: capnp adds heap segments
  auto list = builder.message().initRoot<wire::TensorList>().initTensors(1);
  ASSERT_FALSE(encode_tensor(t, compression_type::none, list[0]));
  auto env = builder.finish();
  EXPECT_TRUE(at::equal(decode(env), t));
}
