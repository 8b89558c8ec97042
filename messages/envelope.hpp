#pragma once

#include <caf/allowed_unsafe_message_type.hpp>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/array.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace colony {

/// A Cap'n Proto message in flat-array form (segment table, then segments,
/// as `capnp::FlatArrayMessageReader` reads it) carried inside a CAF message.
/// The bytes live in a shared, immutable buffer, so an envelope can point into
/// a received frame without copying it; a tensor decoded from it keeps that
/// buffer alive.
///
/// colony owns the wire, so CAF never serializes an envelope: it only passes
/// it between actors of one process by reference.
class envelope {
 public:
  envelope() = default;

  /// Takes ownership of a whole buffer.
  explicit envelope(std::vector<char> bytes);

  /// Views `size` bytes at `offset` of a shared buffer. `offset` must be a
  /// multiple of 8 (Cap'n Proto words).
  envelope(std::shared_ptr<const std::vector<char>> buffer, size_t offset,
           size_t size);

  /// Views the `size` bytes at `data` inside `buffer`, e.g. a Data field of
  /// a message read from it. An empty field may point anywhere (Cap'n Proto
  /// gives a null pointer for an absent one): its view is the buffer's start,
  /// so `data()` never computes a pointer outside the buffer (found by
  /// tests/fuzz/frame_fuzz.cpp under UBSan).
  [[nodiscard]] static envelope
  view(std::shared_ptr<const std::vector<char>> buffer, const void* data,
       size_t size);

  [[nodiscard]] const char* data() const noexcept {
    return buffer_ ? buffer_->data() + offset_ : nullptr;
  }
  [[nodiscard]] size_t size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }

  /// The bytes as Cap'n Proto words (size rounded down to whole words).
  [[nodiscard]] kj::ArrayPtr<const capnp::word> words() const noexcept;

  /// The buffer that owns the bytes; hold it to keep views alive.
  [[nodiscard]] const std::shared_ptr<const std::vector<char>>&
  buffer() const noexcept {
    return buffer_;
  }

 private:
  std::shared_ptr<const std::vector<char>> buffer_;
  size_t offset_ = 0;
  size_t size_ = 0;
};

/// Flattens a built message into an envelope: one copy, into the final
/// buffer (no intermediate kj array).
envelope to_envelope(capnp::MessageBuilder& message);

/// Reader limits used for every message that arrives from outside.
struct reader_limits {
  /// Words a reader may traverse; bounds amplification by shared pointers.
  uint64_t traversal_limit_words = 64ull << 20; // 512 MiB
  /// Depth of nested structs/lists a reader accepts.
  int nesting_limit = 64;

  /// Limits for a small message of `words` words that is read about once:
  /// traversal bounded by a multiple of its size. A list of zero-sized
  /// structs costs no bytes (one word claims up to 2^29 elements), so under
  /// the default limit a 48-byte message could make its reader loop 2^25
  /// times (found by tests/fuzz/dht_fuzz.cpp).
  [[nodiscard]] static reader_limits for_message(size_t words) noexcept {
    reader_limits limits;
    limits.traversal_limit_words = std::min<uint64_t>(
        limits.traversal_limit_words, 8 * uint64_t{words} + 1024);
    return limits;
  }

  [[nodiscard]] capnp::ReaderOptions options() const noexcept {
    capnp::ReaderOptions opts;
    opts.traversalLimitInWords = traversal_limit_words;
    opts.nestingLimit = nesting_limit;
    return opts;
  }
};

} // namespace colony

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(colony::envelope)
