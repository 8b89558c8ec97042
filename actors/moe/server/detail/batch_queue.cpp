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

bool batch_queue::push(uint64_t id, size_t rows, clock::time_point now) {
  if (!accepts(rows))
    return false;
  entries_.push_back(entry{id, rows, now});
  rows_ += rows;
  return true;
}

std::optional<batch_queue::clock::time_point>
batch_queue::oldest() const noexcept {
  if (entries_.empty())
    return std::nullopt;
  return entries_.front().enqueued;
}

std::optional<batch_queue::clock::time_point>
batch_queue::deadline() const noexcept {
  if (entries_.empty())
    return std::nullopt;
  return entries_.front().enqueued + timeout_;
}

bool batch_queue::ready(clock::time_point now) const noexcept {
  if (entries_.empty())
    return false;
  return rows_ >= min_batch_size_ ||
         now >= entries_.front().enqueued + timeout_;
}

std::vector<batch_queue::entry> batch_queue::take_batch() {
  std::vector<entry> result;
  size_t rows = 0;
  while (!entries_.empty()) {
    auto& next = entries_.front();
    if (!result.empty() && rows + next.rows > max_batch_size_)
      break;
    rows += next.rows;
    result.push_back(next);
    entries_.pop_front();
  }
  rows_ -= rows;
  return result;
}

std::vector<batch_queue::entry> batch_queue::take_all() {
  std::vector<entry> result(entries_.begin(), entries_.end());
  entries_.clear();
  rows_ = 0;
  return result;
}

} // namespace colony::moe
