// Mutation fuzzing of decode_tensors: valid TensorList messages, damaged in
// the ways a hostile or broken peer could (byte flips, truncation, length
// words, shape and side-data fields), must each decode to tensors or to a
// typed colony error. Nothing may crash, throw, or read out of bounds (run
// under COLONY_SANITIZE to check the last).

#include "messages/tensor_codec.hpp"

#include "messages/error.hpp"

#include <ATen/ATen.h>
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <random>
#include <vector>

using namespace colony;

namespace {

/// Mutated messages per run; the brief asks for at least 100,000.
constexpr int fuzz_iterations = 100'000;

/// Fixed seed: a failure reproduces exactly.
constexpr uint64_t fuzz_seed = 0xc010'4e11'f022ull;

std::vector<envelope> seed_corpus() {
  at::manual_seed(7);
  std::vector<envelope> corpus;
  auto add = [&](std::vector<at::Tensor> ts, compression_type codec) {
    auto env = encode_tensors(ts, codec);
    EXPECT_TRUE(env) << describe(env.error());
    if (env)
      corpus.push_back(std::move(*env));
  };
  for (auto codec : all_compression_types) {
    add({at::randn({3, 4})}, codec);
    add({at::randn({}), at::randn({0, 3}), at::randn({17})}, codec);
    add({at::randn({2, 3, 5}).to(at::kHalf), at::randn({6}).to(at::kDouble),
         at::randn({4, 2}).to(at::kBFloat16)},
        codec);
  }
  add({at::arange(6, at::kLong).reshape({2, 3}), at::arange(5, at::kInt),
       at::ones({3}, at::kBool), at::arange(4, at::kByte).reshape({2, 2})},
      compression_type::none);
  return corpus;
}

/// Values that break naive size arithmetic.
int64_t interesting_int64(std::mt19937_64& rng, int64_t original) {
  static const int64_t values[] = {0,
                                   1,
                                   -1,
                                   2,
                                   255,
                                   256,
                                   1 << 16,
                                   (1ll << 31) - 1,
                                   1ll << 31,
                                   1ll << 32,
                                   1ll << 62,
                                   std::numeric_limits<int64_t>::max(),
                                   std::numeric_limits<int64_t>::min()};
  switch (rng() % 3) {
  case 0:
    return original + static_cast<int64_t>(rng() % 5) - 2;
  case 1:
    return values[rng() % std::size(values)];
  default:
    return static_cast<int64_t>(rng());
  }
}

uint32_t interesting_uint32(std::mt19937_64& rng, uint32_t original) {
  static const uint32_t values[] = {0,           1,           2,
                                    7,           8,           0x7fffffffu,
                                    0x80000000u, 0xffffffffu, 0x1fffffffu,
                                    0x20000000u, 0xfffffff8u};
  switch (rng() % 4) {
  case 0:
    return original + static_cast<uint32_t>(rng() % 17) - 8;
  case 1:
    return values[rng() % std::size(values)];
  case 2:
    return original ^ (1u << (rng() % 32));
  default:
    return static_cast<uint32_t>(rng());
  }
}

void flip_bytes(std::mt19937_64& rng, std::vector<char>& bytes) {
  if (bytes.empty())
    return;
  auto flips = 1 + rng() % 8;
  for (size_t i = 0; i < flips; ++i)
    bytes[rng() % bytes.size()] ^= static_cast<char>(1 + rng() % 255);
}

void truncate(std::mt19937_64& rng, std::vector<char>& bytes) {
  auto size = bytes.empty() ? 0 : rng() % bytes.size();
  if (rng() % 4 != 0)
    size &= ~size_t{7}; // mostly whole words, to get past the size check
  bytes.resize(size);
}

void extend(std::mt19937_64& rng, std::vector<char>& bytes) {
  auto extra = 8 * (1 + rng() % 8);
  for (size_t i = 0; i < extra; ++i)
    bytes.push_back(static_cast<char>(rng()));
}

/// Overwrites one 32-bit word: the segment table, pointer offsets and list
/// element counts all live in such words.
void overwrite_word(std::mt19937_64& rng, std::vector<char>& bytes) {
  if (bytes.size() < 4)
    return;
  size_t words = bytes.size() / 4;
  // Half the time hit the segment table or the first pointers.
  size_t index =
      rng() % 2 == 0 ? rng() % std::min<size_t>(words, 8) : rng() % words;
  uint32_t value;
  std::memcpy(&value, bytes.data() + 4 * index, 4);
  value = interesting_uint32(rng, value);
  std::memcpy(bytes.data() + 4 * index, &value, 4);
}

/// Re-builds the message with one field of one tensor changed: the
/// mutations a byte-level fuzzer rarely finds while keeping the rest valid.
void mutate_field(std::mt19937_64& rng, std::vector<char>& bytes) {
  if (bytes.size() % 8 != 0 || bytes.empty())
    return;
  kj::ArrayPtr<const capnp::word> words{
      reinterpret_cast<const capnp::word*>(bytes.data()), bytes.size() / 8};
  try {
    capnp::FlatArrayMessageReader in{words};
    capnp::MallocMessageBuilder out;
    out.setRoot(in.getRoot<wire::TensorList>());
    auto list = out.getRoot<wire::TensorList>().getTensors();
    if (list.size() == 0)
      return;
    auto t = list[static_cast<unsigned>(rng() % list.size())];
    switch (rng() % 8) {
    case 0: {
      auto shape = t.getShape();
      if (shape.size() > 0) {
        auto d = static_cast<unsigned>(rng() % shape.size());
        shape.set(d, interesting_int64(rng, shape[d]));
      }
      break;
    }
    case 1: {
      // Add or drop dimensions.
      std::vector<int64_t> dims;
      for (auto dim : t.getShape())
        dims.push_back(dim);
      auto n = static_cast<unsigned>(rng() % 40);
      auto shape = t.initShape(n);
      for (unsigned d = 0; d < n; ++d)
        shape.set(d,
                  d < dims.size() ? dims[d] : static_cast<int64_t>(rng() % 3));
      break;
    }
    case 2: {
      auto size = t.getData().size();
      auto n = static_cast<unsigned>(rng() % 2 == 0 ? size + rng() % 9 - 4
                                                    : rng() % 4096);
      if (n < (1u << 20))
        t.initData(n);
      break;
    }
    case 3:
      t.setDtype(static_cast<wire::DType>(rng() % 10));
      break;
    case 4:
      t.setCompression(static_cast<wire::Compression>(rng() % 7));
      break;
    case 5:
      t.initMeans(static_cast<unsigned>(rng() % 40));
      break;
    case 6:
      t.initStds(static_cast<unsigned>(rng() % 40));
      break;
    default:
      t.initLookup(static_cast<unsigned>(rng() % 300));
      break;
    }
    auto env = to_envelope(out);
    bytes.assign(env.data(), env.data() + env.size());
  } catch (const kj::Exception&) {
    // An earlier mutation broke the message already: leave it as it is.
  }
}

} // namespace

TEST(TensorCodecFuzz, MutatedMessagesDecodeOrFailTyped) {
  auto corpus = seed_corpus();
  ASSERT_FALSE(corpus.empty());
  std::mt19937_64 rng{fuzz_seed};
  tensor_limits limits;
  limits.max_numel = 1 << 20; // small, so claims beyond it are exercised
  limits.max_dims = 32;
  int decoded = 0;
  int rejected = 0;
  std::map<std::string, int> by_code; // error name -> count
  uint64_t checksum = 0;
  for (int iter = 0; iter < fuzz_iterations; ++iter) {
    auto& seed = corpus[rng() % corpus.size()];
    std::vector<char> bytes(seed.data(), seed.data() + seed.size());
    auto mutations = 1 + rng() % 3;
    for (size_t m = 0; m < mutations; ++m) {
      switch (rng() % 6) {
      case 0:
        flip_bytes(rng, bytes);
        break;
      case 1:
        truncate(rng, bytes);
        break;
      case 2:
        extend(rng, bytes);
        break;
      case 3:
      case 4:
        overwrite_word(rng, bytes);
        break;
      default:
        mutate_field(rng, bytes);
        break;
      }
    }
    envelope env{std::move(bytes)};
    try {
      auto result = decode_tensors(env, limits);
      if (result) {
        ++decoded;
        for (auto& t : *result) {
          ASSERT_TRUE(t.defined()) << "iteration " << iter;
          // Touch every byte: ASan catches a view past the buffer.
          auto* p = static_cast<const unsigned char*>(t.data_ptr());
          for (size_t i = 0; i < t.nbytes(); ++i)
            checksum += p[i];
        }
      } else {
        ++rejected;
        ++by_code[to_string(static_cast<errc>(result.error().code()))];
        ASSERT_EQ(result.error().category(), colony_error_category)
            << "iteration " << iter << ": untyped error "
            << describe(result.error());
      }
    } catch (...) {
      FAIL() << "decode_tensors threw at iteration " << iter;
    }
  }
  // Both outcomes must be common, or the mutations are too gentle/harsh.
  EXPECT_GT(decoded, fuzz_iterations / 20);
  EXPECT_GT(rejected, fuzz_iterations / 4);
  RecordProperty("decoded", decoded);
  RecordProperty("rejected", rejected);
  std::printf("fuzz: %d decoded, %d rejected (checksum %llu):", decoded,
              rejected, static_cast<unsigned long long>(checksum));
  for (auto& [name, count] : by_code)
    std::printf(" %s %d", name.c_str(), count);
  std::printf("\n");
  // Each kind of check is reached, not only the capnp layer's.
  for (auto code : {errc::unknown_dtype, errc::bad_shape, errc::too_large,
                    errc::malformed, errc::unsupported_codec})
    EXPECT_GT(by_code[to_string(code)], 0) << to_string(code);
}
