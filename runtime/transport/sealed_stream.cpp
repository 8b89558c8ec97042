#include "runtime/transport/sealed_stream.hpp"

#include "messages/error.hpp"

#include <algorithm>
#include <cstring>
#include <string>

namespace colony {

namespace {

/// Most bytes a segment table adds to a frame's segments (64 segments).
constexpr size_t max_table_bytes = ((frame_reader::max_segments + 2) / 2) * 8;

} // namespace

caf::expected<size_t> sealed_stream::seal(frame_cipher& cipher,
                                          std::vector<char>& buf,
                                          size_t start) {
  if (buf.size() < start + header_bytes)
    return make_error(errc::invalid_argument, "no room for a record header");
  auto n = buf.size() - start - header_bytes;
  if (n > UINT32_MAX)
    return make_error(errc::too_large, "frame too large for one record");
  auto* header = reinterpret_cast<uint8_t*>(buf.data() + start);
  for (size_t i = 0; i < header_bytes; ++i)
    header[i] = static_cast<uint8_t>(n >> (8 * i));
  uint8_t tag[frame_cipher::tag_bytes];
  if (auto err =
          cipher.seal(header + header_bytes, n, header, header_bytes, tag))
    return err;
  buf.insert(buf.end(), reinterpret_cast<const char*>(tag),
             reinterpret_cast<const char*>(tag) + sizeof(tag));
  return header_bytes + n + frame_cipher::tag_bytes;
}

sealed_reader::sealed_reader(frame_cipher opener, size_t max_frame_bytes)
    : opener_(std::move(opener)), max_frame_bytes_(max_frame_bytes) {
  // nop
}

caf::expected<std::optional<received_frame>>
sealed_reader::consume(std::vector<char>& bytes) {
  if (bytes.size() != want_)
    return make_error(errc::invalid_argument,
                      "sealed_reader expected " + std::to_string(want_) +
                          " bytes, got " + std::to_string(bytes.size()));
  if (!in_body_) {
    std::memcpy(header_, bytes.data(), sealed_stream::header_bytes);
    size_t n = 0;
    for (size_t i = 0; i < sealed_stream::header_bytes; ++i)
      n |= size_t{header_[i]} << (8 * i);
    // A frame is whole words: a table word at least, then its segments.
    if (n < 16 || n % 8 != 0 || n > max_frame_bytes_ + max_table_bytes)
      return make_error(errc::malformed,
                        "sealed record claims " + std::to_string(n) +
                            " bytes (max_frame_bytes is " +
                            std::to_string(max_frame_bytes_) + ")");
    want_ = n + frame_cipher::tag_bytes;
    in_body_ = true;
    return std::optional<received_frame>{};
  }
  auto n = bytes.size() - frame_cipher::tag_bytes;
  auto* data = reinterpret_cast<uint8_t*>(bytes.data());
  if (auto err =
          opener_.open(data, n, header_, sealed_stream::header_bytes, data + n))
    return err;
  bytes.resize(n); // drops the tag; no reallocation
  in_body_ = false;
  want_ = sealed_stream::header_bytes;
  auto frame = frame_from_buffer(std::move(bytes), max_frame_bytes_);
  bytes = std::vector<char>{};
  if (!frame)
    return std::move(frame.error());
  return std::optional<received_frame>{std::move(*frame)};
}

} // namespace colony
