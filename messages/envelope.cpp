#include "messages/envelope.hpp"

#include "messages/buffer_pool.hpp"

#include <cstring>

namespace colony {

envelope::envelope(std::vector<char> bytes)
    : buffer_(buffer_pool::instance().share(std::move(bytes))), offset_(0),
      size_(buffer_->size()) {
  // nop
}

envelope::envelope(std::shared_ptr<const std::vector<char>> buffer,
                   size_t offset, size_t size)
    : buffer_(std::move(buffer)), offset_(offset), size_(size) {
  // nop
}

envelope envelope::view(std::shared_ptr<const std::vector<char>> buffer,
                        const void* data, size_t size) {
  if (size == 0)
    return envelope{std::move(buffer), 0, 0};
  auto offset =
      static_cast<size_t>(static_cast<const char*>(data) - buffer->data());
  return envelope{std::move(buffer), offset, size};
}

kj::ArrayPtr<const capnp::word> envelope::words() const noexcept {
  if (!buffer_)
    return {};
  return {reinterpret_cast<const capnp::word*>(data()),
          size_ / sizeof(capnp::word)};
}

envelope to_envelope(capnp::MessageBuilder& message) {
  auto segments = message.getSegmentsForOutput();
  // Flat form = stream framing (segment table) followed by the segments.
  size_t table_words = (segments.size() + 2) / 2;
  size_t total = table_words;
  for (auto& seg : segments)
    total += seg.size();
  std::vector<char> out(total * sizeof(capnp::word));
  auto* table = reinterpret_cast<uint32_t*>(out.data());
  table[0] = static_cast<uint32_t>(segments.size() - 1);
  for (size_t i = 0; i < segments.size(); ++i)
    table[i + 1] = static_cast<uint32_t>(segments[i].size());
  if (segments.size() % 2 == 0)
    table[segments.size() + 1] = 0;
  auto* pos = out.data() + table_words * sizeof(capnp::word);
  for (auto& seg : segments) {
    std::memcpy(pos, seg.begin(), seg.size() * sizeof(capnp::word));
    pos += seg.size() * sizeof(capnp::word);
  }
  return envelope{std::move(out)};
}

} // namespace colony
