#include "messages/flat_builder.hpp"

#include "messages/buffer_pool.hpp"

#include <algorithm>

#if defined(__linux__)
#  include <sys/mman.h>
#  include <unistd.h>
#endif

namespace colony {

namespace {

/// Bytes of the segment table of a one-segment message.
constexpr size_t single_segment_table = sizeof(capnp::word);

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

/// A message builder whose first segment is the caller's zeroed buffer,
/// left as built (MallocMessageBuilder zeroes a caller's segment again when
/// it is destroyed, so it cannot build a message in its final place).
/// Further segments, needed only if the estimate was short, come from the
/// heap.
class flat_builder::segment_source final : public capnp::MessageBuilder {
 public:
  explicit segment_source(kj::ArrayPtr<capnp::word> first) : first_(first) {}

  kj::ArrayPtr<capnp::word> allocateSegment(unsigned minimum_size) override {
    if (!first_taken_) {
      first_taken_ = true;
      if (first_.size() >= minimum_size)
        return first_;
    }
    // Grow geometrically, as capnp's own builder does.
    size_t words = std::max<size_t>(minimum_size, allocated_);
    words = std::min<size_t>(std::max<size_t>(words, 1024),
                             capnp::MAX_SEGMENT_WORDS);
    words = std::max<size_t>(words, minimum_size);
    extra_.emplace_back(new uint64_t[words]()); // zeroed, as capnp requires
    allocated_ += words;
    return {reinterpret_cast<capnp::word*>(extra_.back().get()), words};
  }

  [[nodiscard]] const capnp::word* first() const noexcept {
    return first_.begin();
  }

 private:
  kj::ArrayPtr<capnp::word> first_;
  bool first_taken_ = false;
  size_t allocated_ = 0;
  std::vector<std::unique_ptr<uint64_t[]>> extra_;
};

flat_builder::flat_builder(uint64_t words) {
  words = std::clamp<uint64_t>(words, 1, capnp::MAX_SEGMENT_WORDS);
  auto bytes = single_segment_table + words * sizeof(capnp::word);
  // Zeroed, as capnp requires. A pooled buffer is warm memory (a fresh one
  // costs a page fault and the kernel's zeroing per 4 KiB); a large one
  // gets huge pages instead.
  if (bytes < huge_page_threshold) {
    buffer_ = buffer_pool::instance().take_zeroed(bytes);
  } else {
    buffer_.reserve(bytes);
    prefer_huge_pages(buffer_.data(), bytes);
    buffer_.resize(bytes);
  }
  message_ = std::make_unique<segment_source>(kj::ArrayPtr<capnp::word>{
      reinterpret_cast<capnp::word*>(buffer_.data() + single_segment_table),
      static_cast<size_t>(words)});
}

flat_builder::~flat_builder() = default;

capnp::MessageBuilder& flat_builder::message() noexcept {
  return *message_;
}

envelope flat_builder::finish() {
  auto segments = message_->getSegmentsForOutput();
  if (segments.size() != 1 || segments[0].begin() != message_->first())
    return to_envelope(*message_);
  auto* table = reinterpret_cast<uint32_t*>(buffer_.data());
  table[0] = 0; // segment count - 1
  table[1] = static_cast<uint32_t>(segments[0].size());
  buffer_.resize(single_segment_table +
                 segments[0].size() * sizeof(capnp::word));
  return envelope{std::move(buffer_)};
}

} // namespace colony
