// Fuzz target: the tensor decoder. Input: a TensorList message in flat form,
// as an expert call's body or an averaging part carries it. It is decoded
// with decode_tensors (zero-copy for `none`) and each tensor again with
// decode_tensor without a keep-alive (the copying path): both must agree,
// byte for byte. Seeds cover every codec and dtype the wire has.

#include "fuzz_target.hpp"

#include "messages/error.hpp"
#include "messages/tensor_codec.hpp"

#include <ATen/ATen.h>
#include <capnp/serialize.h>

#include <cstring>

namespace colony::fuzz {

namespace {

/// Small, so that shapes claiming more are refused before any allocation
/// and accepted ones stay cheap.
tensor_limits limits() {
  tensor_limits l;
  l.max_numel = 1 << 16;
  l.max_dims = 16;
  return l;
}

bool same_bytes(const at::Tensor& a, const at::Tensor& b) {
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes())
    return false;
  FUZZ_CHECK(a.is_contiguous() && b.is_contiguous());
  if (a.nbytes() == 0)
    return true; // data_ptr may be null; memcmp must not see it
  return std::memcmp(a.data_ptr(), b.data_ptr(), a.nbytes()) == 0;
}

} // namespace

std::vector<bytes> seeds() {
  at::manual_seed(18);
  std::vector<bytes> out;
  auto add = [&](std::vector<at::Tensor> ts, compression_type codec) {
    auto env = encode_tensors(ts, codec);
    FUZZ_CHECK(env);
    auto* p = reinterpret_cast<const uint8_t*>(env->data());
    out.emplace_back(p, p + env->size());
  };
  for (auto codec : all_compression_types) {
    add({at::randn({3, 4})}, codec);
    add({at::randn({}), at::randn({0, 3}), at::randn({5})}, codec);
    add({at::randn({2, 3, 2}).to(at::kHalf), at::randn({6}).to(at::kDouble),
         at::randn({4, 2}).to(at::kBFloat16)},
        codec);
  }
  add({at::arange(6, at::kLong).reshape({2, 3}), at::arange(5, at::kInt),
       at::ones({3}, at::kBool), at::arange(4, at::kByte).reshape({2, 2})},
      compression_type::none);
  add({}, compression_type::none);
  return out;
}

void run_one(const uint8_t* data, size_t size) {
  auto env = envelope_of(data, size);
  auto decoded = decode_tensors(env, limits());
  if (!decoded) {
    FUZZ_CHECK(decoded.error().category() == colony_error_category);
    count(to_string(static_cast<errc>(decoded.error().code())));
    return;
  }
  count(decoded->empty() ? "decoded: no tensor" : "decoded");
  for (auto& t : *decoded) {
    if (t.numel() > 0)
      count("tensors with elements");
  }
  try {
    capnp::FlatArrayMessageReader reader{env.words(),
                                         reader_limits{}.options()};
    auto list = reader.getRoot<wire::TensorList>().getTensors();
    FUZZ_CHECK(list.size() == decoded->size());
    for (unsigned i = 0; i < list.size(); ++i) {
      auto& zero_copy = (*decoded)[i];
      FUZZ_CHECK(zero_copy.defined());
      FUZZ_CHECK(static_cast<uint64_t>(zero_copy.numel()) <=
                 limits().max_numel);
      auto copied = decode_tensor(list[i], limits(), nullptr);
      FUZZ_CHECK(copied);
      FUZZ_CHECK(same_bytes(zero_copy, *copied));
    }
  } catch (...) {
    FUZZ_CHECK(!"reading a message decode_tensors accepted threw");
  }
}

} // namespace colony::fuzz
