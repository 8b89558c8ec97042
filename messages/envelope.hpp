#pragma once

#include <caf/allowed_unsafe_message_type.hpp>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/array.h>

#include <cstddef>
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

  [[nodiscard]] capnp::ReaderOptions options() const noexcept {
    capnp::ReaderOptions opts;
    opts.traversalLimitInWords = traversal_limit_words;
    opts.nestingLimit = nesting_limit;
    return opts;
  }
};

} // namespace colony

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(colony::envelope)
