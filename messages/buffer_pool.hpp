#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

namespace colony {

/// Recycles the large buffers that frames are read into. A stream of large
/// frames (all-reduce parts, state parts) then reuses warm memory instead
/// of faulting in and zero-filling fresh pages for each frame (measured:
/// a fifth of a state download's time). Thread-safe: a buffer comes back
/// from whichever thread drops the last reference to its frame.
class buffer_pool {
 public:
  /// Buffers smaller than this are neither pooled nor handed out (bytes).
  static constexpr size_t min_pooled_bytes = size_t{64} << 10;
  /// Most bytes the pool keeps idle; beyond it, returned buffers are freed.
  static constexpr size_t max_idle_bytes = size_t{64} << 20;

  /// The pool shared by every transport of the process.
  static buffer_pool& instance();

  /// A buffer of exactly `n` bytes of unspecified content: a pooled one
  /// of a fitting capacity if any (no allocation, no page faults), else a
  /// fresh one.
  [[nodiscard]] std::vector<char> take(size_t n);

  /// As `take`, all bytes zero (a fresh buffer is zeroed once, by the
  /// allocation; a pooled one by a memset over warm memory).
  [[nodiscard]] std::vector<char> take_zeroed(size_t n);

  /// Keeps `buf` for a later `take`, unless it is small or the pool full.
  void give(std::vector<char>&& buf) noexcept;

  /// Shares `buf` read-only; it returns to the pool when the last
  /// reference drops.
  [[nodiscard]] std::shared_ptr<const std::vector<char>>
  share(std::vector<char>&& buf);

  /// Bytes kept idle now (tests).
  [[nodiscard]] size_t idle_bytes() const;

 private:
  /// A pooled buffer of capacity in [n, 2n], or an empty one.
  std::vector<char> take_pooled(size_t n);

  mutable std::mutex mtx_;
  std::vector<std::vector<char>> idle_;
  size_t idle_bytes_ = 0;
};

} // namespace colony
