#include "runtime/transport/frame_reader.hpp"

#include "messages/buffer_pool.hpp"
#include "messages/error.hpp"

#include <cstring>
#include <string>

namespace colony {

namespace {

uint32_t read_u32(const char* p) {
  uint32_t x;
  std::memcpy(&x, p, sizeof(x)); // wire is little-endian, as is x86/arm
  return x;
}

} // namespace

caf::error frame_reader::check_table() {
  uint64_t words = 0;
  for (auto w : segment_words_)
    words += w;
  uint64_t bytes = words * sizeof(capnp::word);
  if (bytes > max_frame_bytes_)
    return make_error(errc::too_large, "frame claims " + std::to_string(bytes) +
                                           " bytes, max_frame_bytes is " +
                                           std::to_string(max_frame_bytes_));
  if (words == 0)
    return make_error(errc::malformed, "frame with empty segments");
  for (auto w : segment_words_)
    if (w == 0)
      return make_error(errc::malformed, "frame with an empty segment");
  want_ = static_cast<size_t>(bytes);
  stage_ = stage::segments;
  return caf::none;
}

caf::expected<std::optional<received_frame>>
frame_reader::consume(std::vector<char>& bytes) {
  if (bytes.size() != want_)
    return make_error(errc::invalid_argument,
                      "frame_reader expected " + std::to_string(want_) +
                          " bytes, got " + std::to_string(bytes.size()));
  switch (stage_) {
  case stage::first_word: {
    segment_count_ = read_u32(bytes.data()) + 1;
    if (segment_count_ == 0 || segment_count_ > max_segments)
      return make_error(errc::malformed,
                        "frame claims " + std::to_string(segment_count_) +
                            " segments (max " + std::to_string(max_segments) +
                            ")");
    segment_words_.assign(1, read_u32(bytes.data() + 4));
    if (segment_count_ == 1) {
      if (auto err = check_table())
        return err;
    } else {
      // Remaining sizes, padded so the table ends on a word boundary.
      want_ = ((segment_count_ + 2) / 2) * 8 - 8;
      stage_ = stage::rest_of_table;
    }
    return std::optional<received_frame>{};
  }
  case stage::rest_of_table: {
    for (uint32_t i = 1; i < segment_count_; ++i)
      segment_words_.push_back(read_u32(bytes.data() + 4 * (i - 1)));
    if (auto err = check_table())
      return err;
    return std::optional<received_frame>{};
  }
  case stage::segments: {
    received_frame frame;
    // A large buffer returns to the pool once the last view of it drops.
    auto buffer = buffer_pool::instance().share(std::move(bytes));
    bytes = std::vector<char>{};
    auto* pos = reinterpret_cast<const capnp::word*>(buffer->data());
    for (auto w : segment_words_) {
      frame.segments.emplace_back(pos, w);
      pos += w;
    }
    frame.buffer = std::move(buffer);
    stage_ = stage::first_word;
    want_ = 8;
    return std::optional<received_frame>{std::move(frame)};
  }
  }
  return make_error(errc::malformed, "frame_reader in unknown stage");
}

caf::expected<std::vector<received_frame>> frame_reader::feed(const char* data,
                                                              size_t n) {
  std::vector<received_frame> result;
  while (n > 0) {
    if (partial_.capacity() < want_)
      partial_.reserve(want_); // want_ is already checked against the max
    auto take = std::min(n, want_ - partial_.size());
    partial_.insert(partial_.end(), data, data + take);
    data += take;
    n -= take;
    if (partial_.size() == want_) {
      auto res = consume(partial_);
      if (!res)
        return std::move(res.error());
      partial_.clear();
      if (*res)
        result.push_back(std::move(**res));
    }
  }
  return result;
}

caf::expected<received_frame> frame_from_buffer(std::vector<char> buffer,
                                                size_t max_frame_bytes) {
  constexpr size_t max_table = ((frame_reader::max_segments + 2) / 2) * 8;
  if (auto err = check_flat_message(buffer.data(), buffer.size(),
                                    max_frame_bytes + max_table))
    return err;
  uint32_t count = read_u32(buffer.data()) + 1;
  size_t table = ((count + 2) / 2) * 8;
  if (buffer.size() - table > max_frame_bytes)
    return make_error(errc::too_large,
                      "frame claims " + std::to_string(buffer.size() - table) +
                          " bytes, max_frame_bytes is " +
                          std::to_string(max_frame_bytes));
  std::vector<uint32_t> words(count);
  for (uint32_t i = 0; i < count; ++i) {
    words[i] = read_u32(buffer.data() + 4 + 4 * i);
    if (words[i] == 0)
      return make_error(errc::malformed, "frame with an empty segment");
  }
  received_frame frame;
  auto shared = buffer_pool::instance().share(std::move(buffer));
  auto* pos = reinterpret_cast<const capnp::word*>(shared->data() + table);
  for (auto w : words) {
    frame.segments.emplace_back(pos, w);
    pos += w;
  }
  frame.buffer = std::move(shared);
  return frame;
}

caf::error check_flat_message(const char* data, size_t size, size_t max_bytes) {
  if (size < 8 || size % 8 != 0)
    return make_error(errc::malformed,
                      "message of " + std::to_string(size) +
                          " bytes is not whole Cap'n Proto words");
  if (size > max_bytes)
    return make_error(errc::too_large, "message of " + std::to_string(size) +
                                           " bytes exceeds " +
                                           std::to_string(max_bytes));
  uint64_t count = uint64_t{read_u32(data)} + 1;
  if (count > frame_reader::max_segments)
    return make_error(errc::malformed,
                      "message claims " + std::to_string(count) + " segments");
  uint64_t table = ((count + 2) / 2) * 8;
  if (table > size)
    return make_error(errc::malformed, "truncated segment table");
  uint64_t words = 0;
  for (uint64_t i = 0; i < count; ++i)
    words += read_u32(data + 4 + 4 * i);
  if (table + words * 8 != size)
    return make_error(errc::malformed, "segment table claims " +
                                           std::to_string(table + words * 8) +
                                           " bytes, message has " +
                                           std::to_string(size));
  return caf::none;
}

} // namespace colony
