#pragma once

// What peers must share to average together: their tensors' dtypes and
// shapes, and how they cut the flat vector into parts. Matchmaking pairs
// only peers of one schema hash, so that every member derives the same
// spans and parts.

#include "actors/averaging/tensor_parts.hpp"

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

namespace colony::averaging {

/// Bytes of a schema hash.
constexpr size_t schema_hash_bytes = 32;

/// A digest (BLAKE2b, `schema_hash_bytes`) of each tensor's dtype and
/// shape, in order, and of the part size and compression policy in
/// `options`. Equal for peers whose all-reduce rounds cut parts alike.
[[nodiscard]] std::string schema_hash(const std::vector<at::Tensor>& tensors,
                                      const part_options& options);

} // namespace colony::averaging
