// All-reduce messages on the wire: round trips and malformed bytes.

#include "actors/averaging/allreduce_codec.hpp"
#include "messages/averaging.capnp.h"
#include "messages/error.hpp"

#include <ATen/ATen.h>
#include <capnp/message.h>
#include <gtest/gtest.h>

#include <random>

using namespace colony;
using namespace colony::averaging;

namespace {

part_message sample_part() {
  return {std::string("\x00\x01group\xff", 8), 3, 17, 2.5,
          at::linspace(-2, 2, 1001)};
}

/// An envelope of raw bytes (as a malicious peer would send).
envelope raw(std::vector<char> bytes) {
  return envelope{std::move(bytes)};
}

} // namespace

TEST(allreduce_codec, parts_round_trip) {
  auto part = sample_part();
  auto bytes = encode_reducer_request(part, compression_type::none);
  ASSERT_TRUE(bytes) << describe(bytes.error());
  auto back = decode_reducer_request(*bytes);
  ASSERT_TRUE(back) << describe(back.error());
  const auto* p = std::get_if<part_message>(&*back);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->group_id, part.group_id);
  EXPECT_EQ(p->sender, 3u);
  EXPECT_EQ(p->part_index, 17u);
  EXPECT_EQ(p->weight, 2.5);
  EXPECT_TRUE(at::equal(p->values, part.values));
}

TEST(allreduce_codec, compressed_parts_round_trip_within_the_codec_bound) {
  auto part = sample_part();
  auto bytes = encode_reducer_request(part, compression_type::float16);
  ASSERT_TRUE(bytes);
  auto raw_bytes = encode_reducer_request(part, compression_type::none);
  ASSERT_TRUE(raw_bytes);
  EXPECT_LT(bytes->size(), raw_bytes->size() * 6 / 10);
  auto back = decode_reducer_request(*bytes);
  ASSERT_TRUE(back);
  const auto& v = std::get<part_message>(*back).values;
  EXPECT_EQ(v.scalar_type(), at::kFloat);
  EXPECT_LE((v - part.values).abs().max().item<float>(), 2.0f / 1024);
}

TEST(allreduce_codec, aborts_round_trip) {
  sender_abort abort{"g", 5, "tensors changed shape"};
  auto bytes = encode_reducer_request(abort, compression_type::float16);
  ASSERT_TRUE(bytes);
  auto back = decode_reducer_request(*bytes);
  ASSERT_TRUE(back);
  const auto* a = std::get_if<sender_abort>(&*back);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->group_id, "g");
  EXPECT_EQ(a->sender, 5u);
  EXPECT_EQ(a->reason, "tensors changed shape");
}

TEST(allreduce_codec, replies_round_trip) {
  part_delta delta{
      9, at::arange(10, at::TensorOptions{}.dtype(at::kHalf)), {0, 2, 3}};
  auto bytes = encode_part_reply(delta, compression_type::none);
  ASSERT_TRUE(bytes);
  auto back = decode_part_reply(*bytes);
  ASSERT_TRUE(back);
  const auto* d = std::get_if<part_delta>(&*back);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->part_index, 9u);
  EXPECT_EQ(d->contributors, (std::vector<uint32_t>{0, 2, 3}));
  EXPECT_TRUE(at::equal(d->values, delta.values));

  for (auto reason :
       {exclusion_reason::timeout, exclusion_reason::failed,
        exclusion_reason::wrong_size, exclusion_reason::wrong_group,
        exclusion_reason::non_finite, exclusion_reason::out_of_order,
        exclusion_reason::bad_weight, exclusion_reason::not_a_sender,
        exclusion_reason::not_averaged}) {
    part_refusal refusal{4, reason,
                         std::string{"because "} + to_string(reason)};
    auto b = encode_part_reply(refusal, compression_type::none);
    ASSERT_TRUE(b);
    auto r = decode_part_reply(*b);
    ASSERT_TRUE(r);
    const auto* got = std::get_if<part_refusal>(&*r);
    ASSERT_NE(got, nullptr);
    EXPECT_EQ(got->part_index, 4u);
    EXPECT_EQ(got->reason, reason);
    EXPECT_EQ(got->message, refusal.message);
  }
}

TEST(allreduce_codec, delta_replies_carry_average_minus_sent) {
  auto average = at::linspace(-1, 1, 777);
  auto sent = at::linspace(3, -3, 777);
  std::vector<uint32_t> contributors{0, 2, 5};
  struct case_t {
    at::ScalarType dtype;
    compression_type codec;
    double bound;
  };
  for (auto c : {case_t{at::kFloat, compression_type::none, 0},
                 case_t{at::kFloat, compression_type::float16, 4e-3},
                 case_t{at::kDouble, compression_type::none, 0},
                 case_t{at::kHalf, compression_type::none, 4e-3}}) {
    auto s = sent.to(c.dtype);
    auto avg = c.dtype == at::kDouble ? average.to(at::kDouble) : average;
    auto bytes = encode_delta_reply(9, avg, s, c.dtype, contributors, c.codec);
    ASSERT_TRUE(bytes) << describe(bytes.error());
    auto back = decode_part_reply(*bytes);
    ASSERT_TRUE(back) << describe(back.error());
    const auto* d = std::get_if<part_delta>(&*back);
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(d->part_index, 9u);
    EXPECT_EQ(d->contributors, contributors);
    EXPECT_EQ(d->values.scalar_type(), c.dtype);
    auto want = (avg - s.to(avg.scalar_type())).to(at::kDouble);
    auto err = (d->values.to(at::kDouble) - want).abs().max().item<double>();
    EXPECT_LE(err, c.bound)
        << c10::toString(c.dtype) << " " << to_string(c.codec);
    // As the reply the delta tensor would have made, byte for byte.
    if (c.codec == compression_type::none) {
      auto plain = encode_part_reply(
          part_delta{9, (avg - s).to(c.dtype), contributors}, c.codec);
      ASSERT_TRUE(plain);
      EXPECT_EQ(plain->size(), bytes->size());
    }
  }
}

TEST(allreduce_codec, uncompressed_values_alias_the_received_bytes) {
  auto bytes = encode_reducer_request(sample_part(), compression_type::none);
  ASSERT_TRUE(bytes);
  auto back = decode_reducer_request(*bytes);
  ASSERT_TRUE(back);
  const auto& v = std::get<part_message>(*back).values;
  auto* begin = bytes->data();
  auto* ptr = static_cast<const char*>(v.data_ptr());
  EXPECT_TRUE(ptr >= begin && ptr < begin + bytes->size());
}

TEST(allreduce_codec, encoding_refuses_what_the_wire_cannot_carry) {
  auto part = sample_part();
  part.values = at::arange(5, at::TensorOptions{}.dtype(at::kLong));
  auto bytes = encode_reducer_request(part, compression_type::float16);
  ASSERT_FALSE(bytes);
  EXPECT_TRUE(is_error(bytes.error(), errc::unsupported_codec));
  part.values = at::Tensor{};
  EXPECT_FALSE(encode_reducer_request(part, compression_type::none));
}

TEST(allreduce_codec, malformed_bytes_are_typed_errors) {
  std::mt19937 rng{11};
  auto good = encode_reducer_request(sample_part(), compression_type::none);
  ASSERT_TRUE(good);
  std::vector<char> bytes(good->data(), good->data() + good->size());
  // Random garbage, truncations and bit flips: errors, never a crash.
  for (int round = 0; round < 300; ++round) {
    std::vector<char> b = bytes;
    switch (round % 3) {
    case 0:
      for (auto& c : b)
        c = static_cast<char>(rng());
      break;
    case 1:
      b.resize(rng() % b.size() / 8 * 8);
      break;
    case 2:
      for (int k = 0; k < 4; ++k)
        b[rng() % 64] ^= static_cast<char>(1 << (rng() % 8));
      break;
    }
    auto r = decode_reducer_request(raw(b));
    auto q = decode_part_reply(raw(b));
    if (!r)
      EXPECT_NE(error_reason(r.error()), "") << round;
    if (!q)
      EXPECT_NE(error_reason(q.error()), "") << round;
  }
  auto odd = decode_reducer_request(raw(std::vector<char>(13, 0)));
  ASSERT_FALSE(odd);
  EXPECT_TRUE(is_error(odd.error(), errc::malformed));
  auto empty = decode_part_reply(raw({}));
  EXPECT_FALSE(empty);
}

TEST(allreduce_codec, bounds_are_enforced) {
  allreduce_limits limits;
  limits.max_group_id_bytes = 4;
  limits.max_text_bytes = 8;
  limits.max_contributors = 2;
  limits.tensors.max_numel = 100;
  auto part = sample_part(); // 8-byte group id, 1001 values
  auto bytes = encode_reducer_request(part, compression_type::none);
  ASSERT_TRUE(bytes);
  auto r = decode_reducer_request(*bytes, limits);
  ASSERT_FALSE(r);
  EXPECT_TRUE(is_error(r.error(), errc::malformed));
  limits.max_group_id_bytes = 64;
  r = decode_reducer_request(*bytes, limits);
  ASSERT_FALSE(r);
  EXPECT_TRUE(is_error(r.error(), errc::too_large));
  auto abort = encode_reducer_request(sender_abort{"g", 0, "a long story"},
                                      compression_type::none);
  ASSERT_TRUE(abort);
  EXPECT_FALSE(decode_reducer_request(*abort, limits));
  auto delta = encode_part_reply(part_delta{0, at::zeros({3}), {0, 1, 2}},
                                 compression_type::none);
  ASSERT_TRUE(delta);
  EXPECT_FALSE(decode_part_reply(*delta, limits));
  auto refusal = encode_part_reply(
      part_refusal{0, exclusion_reason::failed, "a long story"},
      compression_type::none);
  ASSERT_TRUE(refusal);
  EXPECT_FALSE(decode_part_reply(*refusal, limits));
}

TEST(allreduce_codec, lying_tensors_and_unknown_values) {
  // A part whose data is shorter than its shape claims.
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<wire::AllReduceRequest>();
  root.setSender(1);
  auto part = root.initPart();
  auto t = part.initValues();
  t.setDtype(wire::DType::FLOAT32);
  t.initShape(1).set(0, 1 << 20);
  t.initData(16);
  auto r = decode_reducer_request(to_envelope(message));
  ASSERT_FALSE(r);
  EXPECT_TRUE(is_error(r.error(), errc::bad_shape));
  // A refusal reason from a newer peer reads as `failed`.
  capnp::MallocMessageBuilder reply;
  auto refused = reply.initRoot<wire::AllReduceReply>().initRefused();
  refused.setReason(static_cast<wire::PartRefusalReason>(200));
  auto q = decode_part_reply(to_envelope(reply));
  ASSERT_TRUE(q);
  EXPECT_EQ(std::get<part_refusal>(*q).reason, exclusion_reason::failed);
  // An empty request reads as a part whose (default) tensor claims one
  // float32 element but holds no bytes.
  capnp::MallocMessageBuilder blank;
  blank.initRoot<wire::AllReduceRequest>();
  auto b = decode_reducer_request(to_envelope(blank));
  ASSERT_FALSE(b);
  EXPECT_TRUE(is_error(b.error(), errc::bad_shape));
}
