#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <unordered_map>
#include <utility>

namespace colony::moe {

/// A queue that serves its keys (peers) in turn: one FIFO per key, and the
/// keys with something queued take turns round-robin, so a key with a
/// thousand items queued delays another key's one item by one item, not a
/// thousand. Within a key, items keep their order. A key joins the end of
/// the turn order when its first item arrives. Pure logic; not
/// thread-safe, one owner.
template <class T>
class fair_queue {
 public:
  using key_type = uint64_t;

  /// Appends `item` to `key`'s FIFO.
  void push(key_type key, T item) {
    auto& q = queues_[key];
    if (q.empty())
      turns_.push_back(key);
    q.push_back(std::move(item));
    ++size_;
  }

  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }

  /// Items queued over all keys.
  [[nodiscard]] size_t size() const noexcept { return size_; }

  /// Keys with an item queued.
  [[nodiscard]] size_t keys() const noexcept { return turns_.size(); }

  /// The next item: the first of the key whose turn it is. Not empty().
  [[nodiscard]] const T& front() const {
    return queues_.find(turns_.front())->second.front();
  }

  /// Removes and returns front(); the turn passes to the next key. Not
  /// empty().
  T pop() {
    auto key = turns_.front();
    turns_.pop_front();
    auto i = queues_.find(key);
    T item = std::move(i->second.front());
    i->second.pop_front();
    if (i->second.empty())
      queues_.erase(i);
    else
      turns_.push_back(key);
    --size_;
    return item;
  }

  /// Calls `f(item)` with the first item of each key, in turn order.
  template <class F>
  void for_each_first(F&& f) const {
    for (auto key : turns_)
      f(queues_.find(key)->second.front());
  }

  /// Removes everything.
  void clear() noexcept {
    queues_.clear();
    turns_.clear();
    size_ = 0;
  }

 private:
  std::unordered_map<key_type, std::deque<T>> queues_;
  std::deque<key_type> turns_;
  size_t size_ = 0;
};

} // namespace colony::moe
