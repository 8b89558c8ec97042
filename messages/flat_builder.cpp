#include "messages/flat_builder.hpp"

#include "messages/buffer_pool.hpp"

#include <algorithm>
#include <cstring>

#if defined(__linux__)
#  include <sys/mman.h>
#  include <unistd.h>
#endif

namespace colony {

namespace {

/// Buffers below this are not worth a madvise call.
constexpr size_t huge_page_threshold = 4u << 20;

} // namespace

void prefer_huge_pages(void* p, size_t n) noexcept {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  // Measured: 20 ms to fault in 40 MB 4 KiB at a time, six times the cost
  // of copying the data into it, vs. 3 ms with huge pages.
  if (n < huge_page_threshold)
    return;
  static const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  auto begin = (reinterpret_cast<uintptr_t>(p) + page - 1) & ~(page - 1);
  auto end = (reinterpret_cast<uintptr_t>(p) + n) & ~(page - 1);
  if (end > begin)
    madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
#else
  (void)p;
  (void)n;
#endif
}

/// Room for the segment table in front of the first segment: up to
/// `max_inline_segments` segments (a blob each, plus the head and what
/// follows the blobs) are written in place; more fall back to a copy.
constexpr size_t max_inline_segments = 15;
constexpr size_t table_room = ((max_inline_segments + 2) / 2) * 8;

/// Words kept beyond the caller's estimate for the landing pads of blobs
/// in their own segments and the small objects allocated after them.
constexpr uint64_t blob_slack_words = 64;

/// A message builder whose segments are slices of the caller's buffer, left
/// as built (MallocMessageBuilder zeroes a caller's segment again when it
/// is destroyed, so it cannot build a message in its final place). The
/// first is zeroed; later ones are zeroed too, except blobs in blob mode.
/// Segments needed beyond the buffer (a short estimate) come from the heap,
/// and `finish` copies.
class flat_builder::segment_source final : public capnp::MessageBuilder {
 public:
  segment_source(char* begin, char* end, uint64_t first_words,
                 uint64_t blob_words)
      : cursor_(reinterpret_cast<capnp::word*>(begin)),
        end_(reinterpret_cast<capnp::word*>(end)), first_words_(first_words),
        blobs_(blob_words > 0), blob_budget_(blob_words) {}

  kj::ArrayPtr<capnp::word> allocateSegment(unsigned minimum_size) override {
    size_t words = minimum_size;
    size_t room = static_cast<size_t>(end_ - cursor_);
    bool blob = blobs_ && !given_.empty() && words >= min_blob_words;
    if (given_.empty()) {
      words = std::max<size_t>(words, first_words_);
    } else if (!blob) {
      // Small objects after a blob (a list of contributors, a codec's
      // side data) share one segment: what the blobs still to come leave.
      auto reserved = blob_budget_ + blob_slack_words / 2;
      words = std::max<size_t>(words, room > reserved ? room - reserved : 0);
    }
    if (room >= words && given_.size() < max_inline_segments) {
      auto* p = cursor_;
      if (blob) {
        // The landing pad and the blob's last (padded) word may not be
        // written whole; all else is.
        std::memset(p, 0, sizeof(capnp::word));
        std::memset(p + words - 1, 0, sizeof(capnp::word));
        blob_budget_ -= std::min<uint64_t>(blob_budget_, words);
      } else if (!given_.empty()) {
        std::memset(p, 0, words * sizeof(capnp::word));
      }
      cursor_ += words;
      given_.push_back({p, words, blob});
      return {p, words};
    }
    // Grow geometrically, as capnp's own builder does.
    words = std::max<size_t>(minimum_size, allocated_);
    words = std::min<size_t>(std::max<size_t>(words, 1024),
                             capnp::MAX_SEGMENT_WORDS);
    words = std::max<size_t>(words, minimum_size);
    extra_.emplace_back(new uint64_t[words]()); // zeroed, as capnp requires
    allocated_ += words;
    return {reinterpret_cast<capnp::word*>(extra_.back().get()), words};
  }

  struct given {
    capnp::word* begin;
    size_t words;
    bool blob;
  };

  [[nodiscard]] const std::vector<given>& segments_given() const noexcept {
    return given_;
  }

  [[nodiscard]] bool used_heap() const noexcept { return !extra_.empty(); }

 private:
  capnp::word* cursor_;
  capnp::word* end_;
  uint64_t first_words_;
  bool blobs_;
  /// Blob words not handed out yet.
  uint64_t blob_budget_;
  std::vector<given> given_;
  size_t allocated_ = 0;
  std::vector<std::unique_ptr<uint64_t[]>> extra_;
};

flat_builder::flat_builder(uint64_t words, uint64_t blob_words) {
  words = std::clamp<uint64_t>(words, 1, capnp::MAX_SEGMENT_WORDS);
  blob_words = std::min(blob_words, words - 1);
  bool blobs = blob_words >= min_blob_words;
  // The first segment holds everything but the blobs; it alone is zeroed
  // up front. Behind the blobs, as much again for what follows them.
  uint64_t first_words = blobs ? words - blob_words : words;
  uint64_t total_words = blobs ? words + first_words + blob_slack_words : words;
  auto bytes = table_room + total_words * sizeof(capnp::word);
  auto zeroed = table_room + first_words * sizeof(capnp::word);
  // A pooled buffer is warm memory (a fresh one costs a page fault and the
  // kernel's zeroing per 4 KiB); a large one gets huge pages instead.
  if (bytes < huge_page_threshold) {
    buffer_ = blobs ? buffer_pool::instance().take(bytes)
                    : buffer_pool::instance().take_zeroed(bytes);
    if (blobs)
      std::memset(buffer_.data(), 0, zeroed);
  } else {
    buffer_.reserve(bytes);
    prefer_huge_pages(buffer_.data(), bytes);
    buffer_.resize(bytes);
  }
  message_ = std::make_unique<segment_source>(
      buffer_.data() + table_room, buffer_.data() + bytes, first_words,
      blobs ? blob_words : 0);
}

flat_builder::~flat_builder() = default;

capnp::MessageBuilder& flat_builder::message() noexcept {
  return *message_;
}

envelope flat_builder::finish() {
  auto segments = message_->getSegmentsForOutput();
  const auto& given = message_->segments_given();
  bool in_place = !message_->used_heap() && segments.size() == given.size() &&
                  segments.size() > 0;
  for (size_t i = 0; in_place && i < segments.size(); ++i) {
    const auto& g = given[i];
    // Segments follow each other in the buffer; a blob segment is used
    // whole (no stale bytes travel), the last may end early.
    in_place = segments[i].begin() == g.begin &&
               (!g.blob || segments[i].size() == g.words);
  }
  if (!in_place)
    return to_envelope(*message_);
  auto count = segments.size();
  auto table_bytes = ((count + 2) / 2) * 8;
  auto offset = table_room - table_bytes;
  auto* table = reinterpret_cast<uint32_t*>(buffer_.data() + offset);
  std::memset(table, 0, table_bytes);
  table[0] = static_cast<uint32_t>(count - 1);
  for (size_t i = 0; i < count; ++i)
    table[i + 1] = static_cast<uint32_t>(i + 1 < count ? given[i].words
                                                       : segments[i].size());
  auto end = reinterpret_cast<const char*>(segments.back().end());
  auto size = static_cast<size_t>(end - (buffer_.data() + offset));
  auto shared = buffer_pool::instance().share(std::move(buffer_));
  return envelope{std::move(shared), offset, size};
}

} // namespace colony
