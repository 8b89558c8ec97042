#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

namespace colony {

/// Keeps a flood of like events from flooding the log: counts events per
/// key and says when a line is due, at most once per `interval` per key.
/// The line then reports how many events it stands for. Not thread-safe;
/// one owner.
class log_throttle {
 public:
  using clock = std::chrono::steady_clock;

  /// At most one line per key per `interval`.
  explicit log_throttle(clock::duration interval) noexcept
      : interval_(interval) {}

  /// Counts one event of `key` at `now`. Returns the events to report
  /// (this one and those held back since the last line) if a line is due,
  /// none if it is not.
  [[nodiscard]] std::optional<uint64_t> note(const std::string& key,
                                             clock::time_point now) {
    auto& s = keys_[key];
    ++s.held;
    ++total_;
    if (s.logged && now - *s.logged < interval_)
      return std::nullopt;
    s.logged = now;
    auto n = s.held;
    s.held = 0;
    return n;
  }

  /// Events counted since construction, over all keys.
  [[nodiscard]] uint64_t total() const noexcept { return total_; }

  /// Forgets keys without a line for `idle` (bounds memory when keys are
  /// many and short-lived); their held counts are lost.
  void forget_idle(clock::time_point now, clock::duration idle) {
    for (auto i = keys_.begin(); i != keys_.end();)
      i = i->second.logged && now - *i->second.logged > idle ? keys_.erase(i)
                                                             : std::next(i);
  }

  /// Keys remembered.
  [[nodiscard]] size_t keys() const noexcept { return keys_.size(); }

 private:
  struct state {
    std::optional<clock::time_point> logged;
    uint64_t held = 0;
  };
  clock::duration interval_;
  std::unordered_map<std::string, state> keys_;
  uint64_t total_ = 0;
};

} // namespace colony
