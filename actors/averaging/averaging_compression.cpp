#include "actors/averaging/averaging_compression.hpp"

#include <c10/core/ScalarType.h>

#include <algorithm>

namespace colony::averaging {

namespace {

/// Bytes per element of `codec`'s data, for an element of `itemsize` bytes.
uint64_t data_bytes_per_element(compression_type codec, uint64_t itemsize) {
  switch (codec) {
  case compression_type::none:
    return itemsize;
  case compression_type::float16:
  case compression_type::scaled_float16:
    return 2;
  case compression_type::uniform_8bit:
  case compression_type::quantile_8bit:
    return 1;
  }
  return itemsize;
}

uint64_t side_bytes(compression_type codec) {
  switch (codec) {
  case compression_type::scaled_float16:
    return scaled_stats_bytes;
  case compression_type::uniform_8bit:
  case compression_type::quantile_8bit:
    return lookup_table_bytes;
  case compression_type::none:
  case compression_type::float16:
    break;
  }
  return 0;
}

} // namespace

compression_type averaging_compression::for_tensor(int64_t numel,
                                                   at::ScalarType dtype) const {
  if (codec == compression_type::none || numel < min_compressed_numel ||
      !at::isFloatingType(dtype))
    return compression_type::none;
  auto itemsize = static_cast<uint64_t>(c10::elementSize(dtype));
  if (data_bytes_per_element(codec, itemsize) >= itemsize)
    return compression_type::none;
  return codec;
}

compression_type averaging_compression::for_part(compression_type tensor_codec,
                                                 int64_t numel,
                                                 at::ScalarType dtype) {
  if (tensor_codec == compression_type::none)
    return tensor_codec;
  if (encoded_part_bytes(tensor_codec, dtype, numel) >=
      encoded_part_bytes(compression_type::none, dtype, numel))
    return compression_type::none;
  return tensor_codec;
}

uint64_t encoded_part_bytes(compression_type codec, at::ScalarType dtype,
                            int64_t numel) {
  auto itemsize = static_cast<uint64_t>(c10::elementSize(dtype));
  return static_cast<uint64_t>(numel) *
             data_bytes_per_element(codec, itemsize) +
         side_bytes(codec);
}

int64_t max_part_numel(compression_type codec, at::ScalarType dtype,
                       uint64_t part_size_bytes) {
  auto itemsize = static_cast<uint64_t>(c10::elementSize(dtype));
  auto side = side_bytes(codec);
  if (part_size_bytes <= side)
    return 1;
  auto n = (part_size_bytes - side) / data_bytes_per_element(codec, itemsize);
  return static_cast<int64_t>(std::max<uint64_t>(n, 1));
}

} // namespace colony::averaging
