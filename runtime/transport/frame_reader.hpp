#pragma once

#include "messages/envelope.hpp"

#include <caf/expected.hpp>

#include <capnp/serialize.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace colony {

/// One frame as received: its segments live in one shared buffer, so bodies
/// inside it can be handed on as envelopes without copying.
struct received_frame {
  std::shared_ptr<const std::vector<char>> buffer;
  std::vector<kj::ArrayPtr<const capnp::word>> segments;

  /// Size of the frame's segments in bytes.
  [[nodiscard]] size_t size() const noexcept {
    return buffer ? buffer->size() : 0;
  }
};

/// Parses Cap'n Proto stream framing from a byte stream, one exact read at a
/// time, and checks the segment table against `max_frame_bytes` before any
/// buffer of the claimed size exists. Pure logic: the transport asks
/// `next_read_size()`, reads exactly that many bytes and calls `consume`.
class frame_reader {
 public:
  /// Most segments a frame may have; colony's frames have a few.
  static constexpr uint32_t max_segments = 64;

  explicit frame_reader(size_t max_frame_bytes) noexcept
      : max_frame_bytes_(max_frame_bytes) {
    // nop
  }

  /// Changes the bound for frames not yet started (a handshake's frames
  /// are small; a peer that has not proven who it is gets a small bound).
  void set_max_frame_bytes(size_t max_frame_bytes) noexcept {
    max_frame_bytes_ = max_frame_bytes;
  }

  /// Number of bytes the next call to `consume` expects.
  [[nodiscard]] size_t next_read_size() const noexcept { return want_; }

  /// Consumes exactly `next_read_size()` bytes. May take ownership of
  /// `bytes` (it is left empty or unspecified). Returns a frame once the
  /// last segment arrived, an empty optional while more is needed, or an
  /// error when the framing is broken (the stream cannot recover from it).
  caf::expected<std::optional<received_frame>>
  consume(std::vector<char>& bytes);

  /// Convenience for tests and fuzzers: feeds an arbitrary chunk, returning
  /// all frames completed by it, or the first framing error.
  caf::expected<std::vector<received_frame>> feed(const char* data, size_t n);

 private:
  enum class stage { first_word, rest_of_table, segments };

  caf::error check_table();

  size_t max_frame_bytes_;
  stage stage_ = stage::first_word;
  size_t want_ = 8;
  uint32_t segment_count_ = 0;
  std::vector<uint32_t> segment_words_;
  std::vector<char> partial_; // used by feed() only
};

/// Makes a frame of `buffer`, which holds exactly one frame in stream
/// framing (table, then segments), after checking its table against
/// `max_frame_bytes`. The frame keeps the buffer; nothing is copied.
caf::expected<received_frame> frame_from_buffer(std::vector<char> buffer,
                                                size_t max_frame_bytes);

/// Parses the first segment table of a whole flat buffer (no ownership).
/// Used by decoders of nested flat messages to validate before reading.
caf::error check_flat_message(const char* data, size_t size, size_t max_bytes);

} // namespace colony
