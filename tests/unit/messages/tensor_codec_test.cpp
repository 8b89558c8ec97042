#include "messages/tensor_codec.hpp"

#include "messages/error.hpp"

#include <ATen/ATen.h>
#include <capnp/message.h>
#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <vector>

using namespace colony;

namespace {

/// Encodes `t` alone with `codec` and decodes it back; fails the test on
/// any error.
at::Tensor round_trip(const at::Tensor& t, compression_type codec) {
  auto env = encode_tensors({t}, codec);
  EXPECT_TRUE(env) << describe(env.error());
  if (!env)
    return {};
  auto out = decode_tensors(*env, tensor_limits{});
  EXPECT_TRUE(out) << describe(out.error());
  if (!out)
    return {};
  EXPECT_EQ(out->size(), 1u);
  return out->at(0);
}

double mse(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).square().mean().item<double>();
}

bool is_floating(at::ScalarType t) {
  return t == at::kFloat || t == at::kHalf || t == at::kBFloat16 ||
         t == at::kDouble;
}

/// A tensor of `dtype` and `shape` with varied values.
at::Tensor sample_tensor(at::ScalarType dtype, at::IntArrayRef shape) {
  auto x = at::randn(shape);
  switch (dtype) {
  case at::kBool:
    return x > 0;
  case at::kByte:
    return (x.abs() * 60).clamp(0, 255).to(at::kByte);
  case at::kInt:
  case at::kLong:
    return (x * 1000).to(dtype);
  default:
    return x.to(dtype);
  }
}

const at::ScalarType all_dtypes[] = {at::kFloat,  at::kHalf, at::kBFloat16,
                                     at::kDouble, at::kLong, at::kInt,
                                     at::kByte,   at::kBool};

/// A wire Tensor built in its own message, for crafting bad input.
struct crafted {
  capnp::MallocMessageBuilder message;
  wire::Tensor::Builder tensor = message.initRoot<wire::Tensor>();

  explicit crafted(const at::Tensor& t,
                   compression_type codec = compression_type::none) {
    auto err = encode_tensor(t, codec, tensor);
    EXPECT_FALSE(err) << describe(err);
  }

  caf::expected<at::Tensor> decode(const tensor_limits& limits = {}) {
    return decode_tensor(tensor.asReader(), limits, nullptr);
  }
};

/// Decoding fails with exactly `code`.
void expect_error(const caf::expected<at::Tensor>& result, errc code) {
  ASSERT_FALSE(result) << "decoded although error " << to_string(code)
                       << " was expected";
  EXPECT_TRUE(is_error(result.error(), code))
      << "expected " << to_string(code) << ", got " << describe(result.error());
}

} // namespace

TEST(TensorCodec, NamesRoundTrip) {
  for (auto type : all_compression_types) {
    auto parsed = parse_compression_type(to_string(type));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(*parsed, type);
  }
  EXPECT_EQ(parse_compression_type("scaled_float16"),
            compression_type::scaled_float16);
  EXPECT_FALSE(parse_compression_type("fp16"));
  EXPECT_FALSE(parse_compression_type(""));
}

// The error bounds hivemind asserts for its codecs, on the same input.
TEST(TensorCodec, MeanSquaredErrorWithinBounds) {
  at::manual_seed(0);
  auto x = at::randn({128, 128, 64});
  EXPECT_EQ(mse(round_trip(x, compression_type::none), x), 0.0);
  EXPECT_TRUE(round_trip(x, compression_type::none).equal(x));
  EXPECT_LT(mse(round_trip(x, compression_type::float16), x), 5e-8);
  EXPECT_LT(mse(round_trip(x, compression_type::scaled_float16), x), 5e-8);
  EXPECT_LT(mse(round_trip(x, compression_type::uniform_8bit), x), 8e-4);
  EXPECT_LT(mse(round_trip(x, compression_type::quantile_8bit), x), 8e-4);
}

TEST(TensorCodec, ShiftedAndScaledInputKeepsRelativeError) {
  at::manual_seed(1);
  // Offset rows and a large scale: scaled_float16 normalizes them away.
  auto x = at::randn({64, 256}) * 1e3 + at::arange(64).unsqueeze(1) * 1e4;
  auto y = round_trip(x, compression_type::scaled_float16);
  EXPECT_LT(mse(y, x) / 1e6, 5e-8);
  auto big = at::full({4}, 1e6);
  auto clamped = round_trip(big, compression_type::float16);
  EXPECT_TRUE(at::isfinite(clamped).all().item<bool>());
  EXPECT_EQ(clamped[0].item<float>(), 65504.0f);
}

TEST(TensorCodec, Float16MatchesLibTorchCast) {
  at::manual_seed(4);
  // Normal, large (clamped), tiny (float16 subnormal) values; odd length so
  // both the vector and the scalar conversion paths run.
  auto x = at::cat(
      {at::randn({1001}), at::randn({37}) * 1e5, at::randn({29}) * 1e-6});
  auto expected = x.clamp(-65504, 65504).to(at::kHalf).to(at::kFloat);
  EXPECT_TRUE(round_trip(x, compression_type::float16).equal(expected));
}

TEST(TensorCodec, EightBitCodecsAreMonotoneAndExactOnFewValues) {
  at::manual_seed(5);
  auto x = std::get<0>(at::randn({5000}).sort());
  for (auto codec :
       {compression_type::uniform_8bit, compression_type::quantile_8bit}) {
    auto y = round_trip(x, codec);
    // Buckets are ordered and each decodes to its mean: order survives.
    EXPECT_TRUE((y.slice(0, 1) >= y.slice(0, 0, -1)).all().item<bool>())
        << to_string(codec);
    // Few distinct values each get a bucket of their own: lossless.
    auto ints = at::randint(0, 10, {3000}).to(at::kFloat);
    EXPECT_TRUE(round_trip(ints, codec).equal(ints)) << to_string(codec);
  }
}

TEST(TensorCodec, OutliersAndNonFiniteValuesDoNotBreakCodecs) {
  at::manual_seed(6);
  auto heavy = at::randn({20000});
  heavy[17] = 1e30;
  heavy[99] = -1e30;
  auto sparse = at::zeros({20000});
  sparse.slice(0, 0, 100).normal_();
  for (auto codec : all_compression_types) {
    for (auto& x : {heavy, sparse}) {
      auto y = round_trip(x, codec);
      ASSERT_TRUE(y.defined()) << to_string(codec);
      EXPECT_EQ(y.sizes(), x.sizes());
    }
    // quantile_8bit: an outlier spoils the mean of its own (edge) bucket
    // only, as in hivemind; the inner buckets keep their accuracy.
    if (codec == compression_type::quantile_8bit) {
      auto y = round_trip(heavy, codec);
      auto inner = heavy.abs() < 2;
      EXPECT_LT(mse(y.masked_select(inner), heavy.masked_select(inner)), 1e-4);
    }
    // NaN and infinities: encoded and decoded without error.
    auto odd = at::randn({64});
    odd[3] = std::numeric_limits<float>::quiet_NaN();
    odd[5] = std::numeric_limits<float>::infinity();
    odd[7] = -std::numeric_limits<float>::infinity();
    auto y = round_trip(odd, codec);
    ASSERT_TRUE(y.defined()) << to_string(codec);
    if (codec == compression_type::none)
      EXPECT_TRUE(at::allclose(y, odd, 0, 0, /*equal_nan=*/true));
  }
}

TEST(TensorCodec, ZerosDecodeFiniteWithEveryCodec) {
  auto zeros = at::zeros({5, 5});
  for (auto codec : all_compression_types) {
    auto y = round_trip(zeros, codec);
    ASSERT_TRUE(y.defined()) << to_string(codec);
    EXPECT_TRUE(at::isfinite(y).all().item<bool>()) << to_string(codec);
    EXPECT_EQ(y.abs().max().item<float>(), 0.0f) << to_string(codec);
  }
  // A constant that is not zero is exact too (one bucket / zero std).
  auto sevens = at::full({3, 4}, 7.0);
  for (auto codec : all_compression_types)
    EXPECT_TRUE(round_trip(sevens, codec).equal(sevens)) << to_string(codec);
}

TEST(TensorCodec, DtypeAndShapeSurviveEveryApplicableCodec) {
  at::manual_seed(2);
  const std::vector<std::vector<int64_t>> shapes = {
      {}, {0}, {3, 0}, {0, 5}, {1}, {7}, {2, 3, 4}, {4, 1, 33}};
  for (auto dtype : all_dtypes) {
    for (auto& shape : shapes) {
      auto x = sample_tensor(dtype, shape);
      for (auto codec : all_compression_types) {
        if (codec != compression_type::none && !is_floating(dtype))
          continue;
        SCOPED_TRACE(std::string{c10::toString(dtype)} + " " +
                     to_string(codec) + " " + c10::str(x.sizes()));
        auto y = round_trip(x, codec);
        ASSERT_TRUE(y.defined());
        EXPECT_EQ(y.scalar_type(), dtype);
        EXPECT_EQ(y.sizes(), x.sizes());
        if (codec == compression_type::none) {
          EXPECT_TRUE(y.equal(x));
        } else if (x.numel() > 0) {
          // Loose bound: 8-bit codecs on a handful of values.
          auto err = (y.to(at::kDouble) - x.to(at::kDouble)).abs().max();
          EXPECT_LT(err.item<double>(), 0.5);
        }
      }
    }
  }
}

TEST(TensorCodec, NonContiguousInputIsMadeContiguous) {
  auto x = at::randn({6, 9}).t();
  ASSERT_FALSE(x.is_contiguous());
  EXPECT_TRUE(round_trip(x, compression_type::none).equal(x));
  auto sliced = at::randn({10, 10}).slice(1, 0, 10, 3);
  EXPECT_TRUE(round_trip(sliced, compression_type::none).equal(sliced));
  EXPECT_LT(mse(round_trip(x, compression_type::float16), x), 1e-6);
}

TEST(TensorCodec, LossyCodecOnIntegerTensorIsUnsupported) {
  for (auto dtype : {at::kLong, at::kInt, at::kByte, at::kBool}) {
    for (auto codec : all_compression_types) {
      if (codec == compression_type::none)
        continue;
      capnp::MallocMessageBuilder message;
      auto err = encode_tensor(sample_tensor(dtype, {4}), codec,
                               message.initRoot<wire::Tensor>());
      EXPECT_TRUE(is_error(err, errc::unsupported_codec)) << describe(err);
      EXPECT_NE(describe(err).find("floating"), std::string::npos)
          << describe(err);
      auto env = encode_tensors({sample_tensor(dtype, {4})}, codec);
      ASSERT_FALSE(env);
      EXPECT_TRUE(is_error(env.error(), errc::unsupported_codec));
    }
  }
  // The decoder refuses the same combination.
  crafted c{at::arange(4, at::kInt)};
  c.tensor.setCompression(wire::Compression::UNIFORM8BIT);
  expect_error(c.decode(), errc::unsupported_codec);
}

TEST(TensorCodec, UnencodableTensorsAreRejected) {
  capnp::MallocMessageBuilder message;
  auto out = message.initRoot<wire::Tensor>();
  EXPECT_TRUE(is_error(encode_tensor(at::Tensor{}, compression_type::none, out),
                       errc::invalid_argument));
  auto complex = at::zeros({2}, at::kComplexFloat);
  EXPECT_TRUE(is_error(encode_tensor(complex, compression_type::none, out),
                       errc::unknown_dtype));
}

TEST(TensorCodec, RejectsUnknownDtype) {
  crafted c{at::randn({4})};
  c.tensor.setDtype(static_cast<wire::DType>(42));
  expect_error(c.decode(), errc::unknown_dtype);
}

TEST(TensorCodec, RejectsUnknownCompression) {
  crafted c{at::randn({4})};
  c.tensor.setCompression(static_cast<wire::Compression>(9));
  expect_error(c.decode(), errc::unsupported_codec);
}

TEST(TensorCodec, RejectsNegativeDimension) {
  crafted c{at::randn({2, 2})};
  c.tensor.getShape().set(0, -2);
  expect_error(c.decode(), errc::bad_shape);
}

TEST(TensorCodec, RejectsDataLengthDisagreeingWithShape) {
  {
    crafted c{at::randn({4, 4})};
    c.tensor.getShape().set(1, 5);
    expect_error(c.decode(), errc::bad_shape);
  }
  {
    crafted c{at::randn({4, 4})};
    c.tensor.initData(63);
    expect_error(c.decode(), errc::bad_shape);
  }
  {
    // Size of the codec's form, not of the dtype, is what counts.
    crafted c{at::randn({4, 4}), compression_type::float16};
    c.tensor.initData(16 * 4);
    expect_error(c.decode(), errc::bad_shape);
  }
  {
    crafted c{at::randn({4, 4}), compression_type::uniform_8bit};
    c.tensor.setDtype(wire::DType::FLOAT64); // itemsize does not matter
    EXPECT_TRUE(c.decode());
    c.tensor.initData(15);
    expect_error(c.decode(), errc::bad_shape);
  }
}

TEST(TensorCodec, RejectsTooManyElementsOrDims) {
  {
    crafted c{at::randn({1000})};
    tensor_limits limits;
    limits.max_numel = 999;
    expect_error(c.decode(limits), errc::too_large);
    limits.max_numel = 1000;
    EXPECT_TRUE(c.decode(limits));
  }
  {
    // The claim alone is refused: no data of that size is present.
    crafted c{at::randn({4})};
    auto shape = c.tensor.initShape(3);
    shape.set(0, 1ll << 40);
    shape.set(1, 1ll << 40);
    shape.set(2, 1ll << 40);
    expect_error(c.decode(), errc::too_large);
  }
  {
    // Zero-sized dims do not hide huge strides.
    crafted c{at::randn({4})};
    auto shape = c.tensor.initShape(3);
    shape.set(0, 0);
    shape.set(1, 1ll << 30);
    shape.set(2, 1ll << 30);
    c.tensor.initData(0);
    expect_error(c.decode(), errc::too_large);
  }
  {
    crafted c{at::randn({4})};
    auto shape = c.tensor.initShape(33);
    for (unsigned i = 0; i < 33; ++i)
      shape.set(i, 1);
    shape.set(0, 4);
    expect_error(c.decode(), errc::too_large);
    tensor_limits limits;
    limits.max_dims = 33;
    EXPECT_TRUE(c.decode(limits));
  }
}

TEST(TensorCodec, RejectsSideDataOfWrongLength) {
  {
    crafted c{at::randn({3, 8}), compression_type::scaled_float16};
    EXPECT_TRUE(c.decode());
    c.tensor.initMeans(2);
    expect_error(c.decode(), errc::malformed);
  }
  {
    crafted c{at::randn({3, 8}), compression_type::scaled_float16};
    c.tensor.initStds(4);
    expect_error(c.decode(), errc::malformed);
  }
  for (auto codec :
       {compression_type::uniform_8bit, compression_type::quantile_8bit}) {
    crafted c{at::randn({3, 8}), codec};
    EXPECT_TRUE(c.decode());
    c.tensor.initLookup(255);
    expect_error(c.decode(), errc::malformed);
    c.tensor.initLookup(0);
    expect_error(c.decode(), errc::malformed);
  }
}

TEST(TensorCodec, RejectsInvalidBoolBytes) {
  crafted c{at::ones({4}, at::kBool)};
  c.tensor.getData()[2] = 2;
  expect_error(c.decode(), errc::malformed);
}

TEST(TensorCodec, CapnpErrorsBecomeTypedErrors) {
  auto env = encode_tensors({at::randn({64, 64})}, compression_type::none);
  ASSERT_TRUE(env);
  reader_limits tight;
  tight.traversal_limit_words = 16;
  auto r = decode_tensors(*env, tensor_limits{}, tight);
  ASSERT_FALSE(r);
  EXPECT_TRUE(is_error(r.error(), errc::too_large)) << describe(r.error());

  reader_limits shallow;
  shallow.nesting_limit = 1;
  r = decode_tensors(*env, tensor_limits{}, shallow);
  ASSERT_FALSE(r);
  EXPECT_TRUE(is_error(r.error(), errc::too_large)) << describe(r.error());

  // Truncated: the segment table claims more words than there are.
  std::vector<char> bytes(env->data(), env->data() + env->size() / 2);
  r = decode_tensors(envelope{bytes}, tensor_limits{});
  ASSERT_FALSE(r);
  EXPECT_TRUE(is_error(r.error(), errc::malformed)) << describe(r.error());

  // Not a whole number of words.
  bytes.resize(13);
  r = decode_tensors(envelope{bytes}, tensor_limits{});
  ASSERT_FALSE(r);
  EXPECT_TRUE(is_error(r.error(), errc::malformed)) << describe(r.error());

  // Empty input reads as an empty message: no tensors.
  r = decode_tensors(envelope{}, tensor_limits{});
  if (r)
    EXPECT_TRUE(r->empty());
  else
    EXPECT_TRUE(is_error(r.error(), errc::malformed));
}

TEST(TensorCodec, NoneDecodesZeroCopyAndKeepsBufferAlive) {
  auto x = at::randn({256, 33});
  auto env = encode_tensors({x, at::arange(10)}, compression_type::none);
  ASSERT_TRUE(env);
  // Built in place: one segment, so the data sits in the envelope's buffer.
  auto* table = reinterpret_cast<const uint32_t*>(env->data());
  EXPECT_EQ(table[0], 0u);
  auto out = decode_tensors(*env, tensor_limits{});
  ASSERT_TRUE(out) << describe(out.error());
  ASSERT_EQ(out->size(), 2u);
  for (auto& t : *out) {
    auto* p = static_cast<const char*>(t.data_ptr());
    EXPECT_GE(p, env->data());
    EXPECT_LE(p + t.nbytes(), env->data() + env->size());
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 8, 0u);
  }
  std::weak_ptr<const std::vector<char>> buffer = env->buffer();
  *env = envelope{};
  EXPECT_FALSE(buffer.expired()) << "decoded tensors must hold the buffer";
  EXPECT_TRUE(out->at(0).equal(x));
  EXPECT_TRUE(out->at(1).equal(at::arange(10)));
  out->clear();
  EXPECT_TRUE(buffer.expired());
}

TEST(TensorCodec, LossyDecodeOwnsItsMemory) {
  auto x = at::randn({16, 16});
  auto env = encode_tensors({x}, compression_type::float16);
  ASSERT_TRUE(env);
  auto out = decode_tensors(*env, tensor_limits{});
  ASSERT_TRUE(out);
  auto* p = static_cast<const char*>(out->at(0).data_ptr());
  EXPECT_TRUE(p < env->data() || p >= env->data() + env->size());
  EXPECT_EQ(env->buffer().use_count(), 1);
}

TEST(TensorCodec, EncodeTensorsRoundTripsSeveralTensors) {
  at::manual_seed(3);
  std::vector<at::Tensor> xs = {at::randn({3, 5}), at::randn({}),
                                at::zeros({0, 4}), at::randn({1 << 20}),
                                at::randn({2, 2}).to(at::kDouble)};
  for (auto codec : all_compression_types) {
    auto env = encode_tensors(xs, codec);
    ASSERT_TRUE(env) << describe(env.error());
    // The estimate holds: one segment even with a 4 MiB tensor inside.
    EXPECT_EQ(reinterpret_cast<const uint32_t*>(env->data())[0], 0u);
    auto out = decode_tensors(*env, tensor_limits{});
    ASSERT_TRUE(out) << describe(out.error());
    ASSERT_EQ(out->size(), xs.size());
    for (size_t i = 0; i < xs.size(); ++i) {
      EXPECT_EQ(out->at(i).sizes(), xs[i].sizes());
      EXPECT_EQ(out->at(i).scalar_type(), xs[i].scalar_type());
      if (codec == compression_type::none)
        EXPECT_TRUE(out->at(i).equal(xs[i]));
    }
  }
  auto empty = encode_tensors({}, compression_type::none);
  ASSERT_TRUE(empty);
  auto none = decode_tensors(*empty, tensor_limits{});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST(TensorCodec, DecodeTensorsNamesTheBadTensor) {
  auto env =
      encode_tensors({at::randn({2}), at::randn({3})}, compression_type::none);
  ASSERT_TRUE(env);
  tensor_limits limits;
  limits.max_numel = 2;
  auto out = decode_tensors(*env, limits);
  ASSERT_FALSE(out);
  EXPECT_TRUE(is_error(out.error(), errc::too_large));
  EXPECT_NE(describe(out.error()).find("tensor 1"), std::string::npos)
      << describe(out.error());
}
