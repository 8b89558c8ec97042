#include "actors/averaging/tensor_schema.hpp"

#include <sodium.h>

#include <cstdint>

namespace colony::averaging {

namespace {

void put_u64(std::string& out, uint64_t x) {
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<char>(x >> (8 * i)));
}

} // namespace

std::string schema_hash(const std::vector<at::Tensor>& tensors,
                        const part_options& options) {
  // A plain serialization (little-endian integers), then one digest.
  std::string text = "colony.averaging.schema.v2";
  put_u64(text, options.part_size_bytes);
  put_u64(text, tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& t = tensors[i];
    // Peers that would cut or encode a tensor differently must not group.
    put_u64(text, static_cast<uint64_t>(options.of(i).codec));
    put_u64(text, static_cast<uint64_t>(options.of(i).min_compressed_numel));
    put_u64(text, static_cast<uint64_t>(t.scalar_type()));
    put_u64(text, static_cast<uint64_t>(t.dim()));
    for (auto d : t.sizes())
      put_u64(text, static_cast<uint64_t>(d));
  }
  std::string digest(schema_hash_bytes, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(digest.data()),
                     digest.size(),
                     reinterpret_cast<const unsigned char*>(text.data()),
                     text.size(), nullptr, 0);
  return digest;
}

} // namespace colony::averaging
