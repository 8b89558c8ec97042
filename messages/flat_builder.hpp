#pragma once

#include "messages/envelope.hpp"

#include <capnp/message.h>

#include <cstdint>
#include <memory>
#include <vector>

namespace colony {

/// Builds a Cap'n Proto message in place in its envelope's buffer: the
/// first segment is a zeroed buffer sized by the caller's estimate, behind
/// room for the segment table, so a message that fits becomes an envelope
/// without being copied (MallocMessageBuilder would allocate the segment,
/// then `to_envelope` would copy it: one more pass over a tensor's bytes).
/// A short estimate still works: capnp adds segments, and `finish` copies.
class flat_builder {
 public:
  /// `words`: the estimated size of the message (capped at capnp's largest
  /// segment). `blob_words`: how much of it are Data blobs (tensor bytes)
  /// that the caller writes entirely once initialised; their memory is not
  /// zeroed first (for a tensor part, zeroing was a pass as costly as the
  /// copy). Each blob then travels as a segment of its own, in the same
  /// buffer. With `blob_words` 0, every word is zeroed, as capnp assumes.
  explicit flat_builder(uint64_t words, uint64_t blob_words = 0);
  ~flat_builder();

  flat_builder(const flat_builder&) = delete;
  flat_builder& operator=(const flat_builder&) = delete;

  /// Allocations of at least this many words are taken for blobs when
  /// `blob_words` was given (a Data of 4 KiB or more; colony's messages
  /// have no struct list that large beside a tensor).
  static constexpr uint64_t min_blob_words = 512;

  [[nodiscard]] capnp::MessageBuilder& message() noexcept;

  /// The built message as an envelope; the builder is spent afterwards.
  [[nodiscard]] envelope finish();

 private:
  class segment_source;
  std::vector<char> buffer_;
  std::unique_ptr<segment_source> message_;
};

/// Asks the kernel to back the fresh, not yet touched buffer [p, p + n)
/// with transparent huge pages if it is large (a buffer is otherwise
/// faulted in 4 KiB at a time). Advisory only.
void prefer_huge_pages(void* p, size_t n) noexcept;

} // namespace colony
