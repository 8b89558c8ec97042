#include "actors/averaging/detail/snapshot_store.hpp"

#include <algorithm>

namespace colony::averaging::detail {

snapshot_store::snapshot_store(size_t capacity) noexcept
    : capacity_(std::max<size_t>(capacity, 1)) {
  // nop
}

size_t snapshot_store::add(state_snapshot snapshot, clock::time_point now) {
  entries_.push_back(entry{std::move(snapshot), now});
  size_t dropped = 0;
  while (entries_.size() > capacity_) {
    entries_.pop_front();
    ++dropped;
  }
  return dropped;
}

const state_snapshot* snapshot_store::find(uint64_t id, clock::time_point now) {
  for (auto& e : entries_)
    if (e.snapshot.id() == id) {
      e.last_used = std::max(e.last_used, now);
      return &e.snapshot;
    }
  return nullptr;
}

bool snapshot_store::contains(uint64_t id) const noexcept {
  return std::any_of(entries_.begin(), entries_.end(),
                     [id](const entry& e) { return e.snapshot.id() == id; });
}

size_t snapshot_store::drop_idle(clock::time_point now, clock::duration idle) {
  auto before = entries_.size();
  entries_.erase(
      std::remove_if(entries_.begin(), entries_.end(),
                     [&](const entry& e) { return now - e.last_used >= idle; }),
      entries_.end());
  return before - entries_.size();
}

} // namespace colony::averaging::detail
