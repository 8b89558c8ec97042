#pragma once

#include "runtime/transport/frame_cipher.hpp"
#include "runtime/transport/frame_reader.hpp"

#include <caf/expected.hpp>

#include <cstdint>
#include <optional>
#include <vector>

namespace colony {

/// The sealed form of colony's frames, used after the handshake when both
/// ends encrypt. Each frame becomes one record:
///
///     [u32 little-endian n][n bytes of ciphertext][16-byte tag]
///
/// where the ciphertext is the frame in stream framing and the length word
/// is authenticated with it (as associated data). Nonces count records per
/// direction, so any change, loss, replay or reordering fails to open.
namespace sealed_stream {

/// Bytes before a record's ciphertext.
constexpr size_t header_bytes = 4;

/// Seals the frame written at `buf[start + header_bytes, end)`: fills the
/// header, encrypts in place and appends the tag. Returns the record size.
caf::expected<size_t> seal(frame_cipher& cipher, std::vector<char>& buf,
                           size_t start);

} // namespace sealed_stream

/// Reads sealed records the way `frame_reader` reads plain frames: one exact
/// read at a time (header, then ciphertext with tag), the claimed length
/// checked against `max_frame_bytes` before any buffer of that size exists.
/// A record that fails to open is an error the stream cannot recover from.
class sealed_reader {
 public:
  sealed_reader(frame_cipher opener, size_t max_frame_bytes);

  /// Number of bytes the next call to `consume` expects.
  [[nodiscard]] size_t next_read_size() const noexcept { return want_; }

  /// Consumes exactly `next_read_size()` bytes (may take ownership of
  /// `bytes`). Returns a frame once a record opened, an empty optional
  /// after a header, or an error.
  caf::expected<std::optional<received_frame>>
  consume(std::vector<char>& bytes);

  /// Records opened so far.
  [[nodiscard]] uint64_t records() const noexcept { return opener_.frames(); }

 private:
  frame_cipher opener_;
  size_t max_frame_bytes_;
  bool in_body_ = false;
  size_t want_ = sealed_stream::header_bytes;
  uint8_t header_[sealed_stream::header_bytes] = {};
};

} // namespace colony
