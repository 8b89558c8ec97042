#pragma once

#include <capnp/message.h>

#include <cstdint>
#include <cstring>

namespace colony {

/// Writes `message` in Cap'n Proto stream framing through `sink(ptr, n)`
/// without flattening it first: the segment table, then each segment as it
/// lies in the builder (an external body segment is never copied here).
/// Returns the number of bytes written.
template <class Sink>
size_t write_frame(capnp::MessageBuilder& message, Sink&& sink) {
  auto segments = message.getSegmentsForOutput();
  uint32_t table[2 * 64 + 2] = {};
  auto count = segments.size();
  table[0] = static_cast<uint32_t>(count - 1);
  for (size_t i = 0; i < count; ++i)
    table[i + 1] = static_cast<uint32_t>(segments[i].size());
  size_t table_bytes = ((count + 2) / 2) * 8;
  sink(table, table_bytes);
  size_t total = table_bytes;
  for (auto& seg : segments) {
    sink(seg.begin(), seg.size() * sizeof(capnp::word));
    total += seg.size() * sizeof(capnp::word);
  }
  return total;
}

/// Bytes `write_frame` writes for `message`.
inline size_t frame_size(capnp::MessageBuilder& message) {
  auto segments = message.getSegmentsForOutput();
  size_t total = ((segments.size() + 2) / 2) * 8;
  for (auto& seg : segments)
    total += seg.size() * sizeof(capnp::word);
  return total;
}

} // namespace colony
