#pragma once

// Encoding of LibTorch tensors into the wire's `Tensor` struct and back
// (schema and byte layouts: messages/tensor.capnp).
//
// This header stays light on purpose: it includes only ATen's Tensor class,
// not <torch/torch.h>, which costs seconds per translation unit.

#include "messages/envelope.hpp"
#include "messages/tensor.capnp.h"

#include <ATen/core/Tensor.h>
#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

namespace colony {

/// A tensor codec, as hivemind names them. All but `none` are lossy and
/// apply to floating dtypes only.
enum class compression_type : uint8_t {
  none,           ///< raw bytes, lossless, decoded zero-copy
  float16,        ///< clamp to the float16 range and cast: 2 bytes/element
  scaled_float16, ///< per-row mean/std normalization, then float16
  uniform_8bit,   ///< 256 equal buckets over mean +- 3 std: 1 byte/element
  quantile_8bit,  ///< 256 equally populated buckets: 1 byte/element
};

/// All codecs, in declaration order (for tests, benchmarks and help texts).
inline constexpr compression_type all_compression_types[] = {
    compression_type::none, compression_type::float16,
    compression_type::scaled_float16, compression_type::uniform_8bit,
    compression_type::quantile_8bit};

/// Returns the stable name of `type`: "none", "float16", "scaled_float16",
/// "uniform_8bit" or "quantile_8bit".
[[nodiscard]] const char* to_string(compression_type type) noexcept;

/// Parses a codec name as printed by `to_string`; nullopt for anything else.
[[nodiscard]] std::optional<compression_type>
parse_compression_type(std::string_view name) noexcept;

/// The wire's name of a LibTorch dtype; nullopt for dtypes the wire lacks.
[[nodiscard]] std::optional<wire::DType>
to_wire_dtype(at::ScalarType dtype) noexcept;

/// The LibTorch dtype of a wire dtype; nullopt for values this build does not
/// know (a newer sender).
[[nodiscard]] std::optional<at::ScalarType>
from_wire_dtype(wire::DType dtype) noexcept;

/// The wire's name of a codec.
[[nodiscard]] wire::Compression
to_wire_compression(compression_type codec) noexcept;

/// The codec of a wire value; nullopt for values this build does not know.
[[nodiscard]] std::optional<compression_type>
from_wire_compression(wire::Compression codec) noexcept;

/// Bounds a decoder applies to every tensor it receives, checked before it
/// allocates anything.
struct tensor_limits {
  /// Elements (not bytes) a single tensor may have: 2^31 elements are
  /// 8 GiB of float32. Dimensions of size 0 count as 1 in this bound, so
  /// that strides of an empty tensor cannot overflow either.
  uint64_t max_numel = 1ull << 31;
  /// Dimensions a tensor may have.
  size_t max_dims = 32;
};

/// Encodes `tensor` with `codec` into `out`, writing the encoded bytes
/// straight into the message (no staging copy; for `none`, one memcpy of
/// the contiguous tensor). Non-contiguous tensors are made contiguous and
/// tensors on another device are copied to the CPU first; autograd history
/// is dropped.
///
/// Errors: unknown_dtype (a dtype the wire has no name for),
/// unsupported_codec (a lossy codec on an integer or bool tensor),
/// too_large (encoded data above Cap'n Proto's 512 MiB per Data field),
/// invalid_argument (undefined or non-strided tensor). Never throws.
[[nodiscard]] caf::error encode_tensor(const at::Tensor& tensor,
                                       compression_type codec,
                                       wire::Tensor::Builder out);

/// Decodes a wire tensor, validating it against `limits` first.
///
/// For `none`, the result is zero-copy: it aliases the bytes of `in` and
/// holds `keep_alive` (the buffer that owns those bytes, e.g. the received
/// frame) until the last tensor sharing its storage dies. Such a tensor
/// must be treated as read-only: writing to it writes into the frame
/// buffer, which other readers of the same message may still see. Call
/// `.clone()` before modifying it in place. If `keep_alive` is null, or the
/// bytes are not aligned for the dtype, the data is copied instead.
/// Other codecs decode into a fresh tensor of the original dtype.
///
/// Errors: unknown_dtype, unsupported_codec (unknown compression, or lossy
/// compression on a non-floating dtype), bad_shape (negative dimension, or
/// data length disagreeing with the shape), too_large (dims or elements
/// above `limits`), malformed (codec side data of the wrong length, invalid
/// bool bytes, or a Cap'n Proto error while reading `in`). Never throws.
[[nodiscard]] caf::expected<at::Tensor>
decode_tensor(wire::Tensor::Reader in, const tensor_limits& limits,
              std::shared_ptr<const void> keep_alive);

/// Encodes a tensor of `dtype` and `shape` that `fill` computes: with
/// `none`, `fill` writes straight into the message's bytes (no tensor is
/// allocated, no copy made: e.g. `at::sub_out(target, a, b)`); with another
/// codec into a fresh tensor, then encoded. `fill` gets a contiguous tensor
/// of that dtype and shape. Errors as for `encode_tensor`.
[[nodiscard]] caf::error encode_tensor_filled(
    at::ScalarType dtype, at::IntArrayRef shape, compression_type codec,
    const std::function<void(at::Tensor&)>& fill, wire::Tensor::Builder out);

/// Words `encode_tensor` uses for `tensor` with `codec`: its struct and
/// payload, so a caller can size a message's first segment (flat_builder)
/// to hold it whole.
[[nodiscard]] uint64_t tensor_message_words(const at::Tensor& tensor,
                                            compression_type codec);

/// Words of `tensor`'s data blob encoded with `codec`: the part of
/// `tensor_message_words` that `encode_tensor` writes entirely, so a
/// flat_builder need not zero it (its `blob_words`).
[[nodiscard]] uint64_t tensor_blob_words(const at::Tensor& tensor,
                                         compression_type codec);

/// Encodes `tensors` with `codec` as one `TensorList` message, built in
/// place in the envelope's buffer: the first segment is sized for the whole
/// message, so each tensor's bytes are written once (for `none`, one memcpy
/// per tensor) and the envelope takes the buffer without another copy.
/// Errors as for `encode_tensor`.
[[nodiscard]] caf::expected<envelope>
encode_tensors(const std::vector<at::Tensor>& tensors, compression_type codec);

/// Decodes a `TensorList` message from `message`, reading it with
/// `reader_limits` and each tensor with `tensor_limits`. Tensors encoded
/// with `none` alias `message.buffer()` (see `decode_tensor`).
/// Errors as for `decode_tensor`; too_large if the traversal limit is hit,
/// malformed for any other Cap'n Proto error. Never throws.
[[nodiscard]] caf::expected<std::vector<at::Tensor>>
decode_tensors(const envelope& message, const tensor_limits& limits,
               const reader_limits& reader = {});

} // namespace colony
