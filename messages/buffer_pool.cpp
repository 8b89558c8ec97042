#include "messages/buffer_pool.hpp"

#include <algorithm>
#include <utility>

namespace colony {

buffer_pool& buffer_pool::instance() {
  // Never destroyed: frames may outlive static destruction order.
  static auto* pool = new buffer_pool;
  return *pool;
}

std::vector<char> buffer_pool::take_pooled(size_t n) {
  std::vector<char> out;
  if (n < min_pooled_bytes)
    return out;
  std::lock_guard<std::mutex> guard{mtx_};
  // Best fit among buffers at most twice as large: a small frame must not
  // pin a large buffer.
  size_t best = idle_.size();
  for (size_t i = 0; i < idle_.size(); ++i) {
    auto cap = idle_[i].capacity();
    if (cap >= n && cap / 2 <= n &&
        (best == idle_.size() || cap < idle_[best].capacity()))
      best = i;
  }
  if (best < idle_.size()) {
    out = std::move(idle_[best]);
    idle_[best] = std::move(idle_.back());
    idle_.pop_back();
    idle_bytes_ -= out.capacity();
  }
  return out;
}

std::vector<char> buffer_pool::take(size_t n) {
  auto out = take_pooled(n);
  // Shrinking writes nothing; growing within the capacity zero-fills only
  // the grown tail.
  out.resize(n);
  return out;
}

std::vector<char> buffer_pool::take_zeroed(size_t n) {
  auto out = take_pooled(n);
  if (out.capacity() == 0) {
    out.resize(n);
    return out;
  }
  auto keep = std::min(out.size(), n);
  out.resize(n);
  std::memset(out.data(), 0, keep);
  return out;
}

void buffer_pool::give(std::vector<char>&& buf) noexcept {
  auto cap = buf.capacity();
  if (cap < min_pooled_bytes)
    return;
  std::lock_guard<std::mutex> guard{mtx_};
  if (idle_bytes_ + cap > max_idle_bytes)
    return;
  idle_bytes_ += cap;
  idle_.push_back(std::move(buf));
}

std::shared_ptr<const std::vector<char>>
buffer_pool::share(std::vector<char>&& buf) {
  if (buf.capacity() < min_pooled_bytes)
    return std::make_shared<const std::vector<char>>(std::move(buf));
  return std::shared_ptr<const std::vector<char>>(
      new std::vector<char>(std::move(buf)), [this](std::vector<char>* p) {
        give(std::move(*p));
        delete p;
      });
}

size_t buffer_pool::idle_bytes() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return idle_bytes_;
}

} // namespace colony
