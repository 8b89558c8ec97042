#include "actors/moe/server/detail/batch_queue.hpp"

#include <algorithm>

namespace colony::moe {

batch_queue::batch_queue(size_t min_batch_size, size_t max_batch_size,
                         clock::duration timeout) noexcept
    : min_batch_size_(std::clamp<size_t>(min_batch_size, 1,
                                         std::max<size_t>(max_batch_size, 1))),
      max_batch_size_(max_batch_size), timeout_(timeout) {
  // nop
}

bool batch_queue::push(uint64_t id, size_t rows, clock::time_point now,
                       uint64_t peer) {
  if (!accepts(rows))
    return false;
  entries_.push(peer, entry{id, rows, now, peer});
  rows_ += rows;
  return true;
}

std::optional<batch_queue::clock::time_point>
batch_queue::oldest() const noexcept {
  if (entries_.empty())
    return std::nullopt;
  // Each peer's first request is its oldest; the oldest of those is the
  // oldest of all.
  auto oldest = clock::time_point::max();
  entries_.for_each_first(
      [&](const entry& e) { oldest = std::min(oldest, e.enqueued); });
  return oldest;
}

std::optional<batch_queue::clock::time_point>
batch_queue::deadline() const noexcept {
  if (entries_.empty())
    return std::nullopt;
  return *oldest() + timeout_;
}

bool batch_queue::ready(clock::time_point now) const noexcept {
  if (entries_.empty())
    return false;
  return rows_ >= min_batch_size_ || now >= *oldest() + timeout_;
}

std::vector<batch_queue::entry> batch_queue::take_batch() {
  std::vector<entry> result;
  size_t rows = 0;
  while (!entries_.empty()) {
    auto& next = entries_.front();
    if (!result.empty() && rows + next.rows > max_batch_size_)
      break;
    rows += next.rows;
    result.push_back(entries_.pop());
  }
  rows_ -= rows;
  return result;
}

std::vector<batch_queue::entry> batch_queue::take_all() {
  std::vector<entry> result;
  result.reserve(entries_.size());
  while (!entries_.empty())
    result.push_back(entries_.pop());
  std::stable_sort(
      result.begin(), result.end(),
      [](const entry& a, const entry& b) { return a.enqueued < b.enqueued; });
  rows_ = 0;
  return result;
}

} // namespace colony::moe
