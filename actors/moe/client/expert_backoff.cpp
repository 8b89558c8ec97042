#include "actors/moe/client/expert_backoff.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace colony::moe {

expert_backoff::expert_backoff(expert_backoff_options options)
    : options_(std::move(options)) {}

double expert_backoff::now() const {
  if (options_.clock)
    return options_.clock();
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void expert_backoff::failed(const std::string& uid) {
  if (!enabled())
    return;
  auto t = now();
  std::lock_guard<std::mutex> guard{mtx_};
  if (entries_.size() >= max_entries && entries_.count(uid) == 0) {
    for (auto i = entries_.begin(); i != entries_.end();)
      i = i->second.until <= t ? entries_.erase(i) : std::next(i);
    if (entries_.size() >= max_entries)
      entries_.clear();
  }
  auto& e = entries_[uid];
  // A failure of a call that started before the skip began (concurrent
  // calls of one step) does not double it again.
  if (e.until > t)
    return;
  e.failures = std::min(e.failures + 1, 64u);
  auto skip = std::min(options_.max_s,
                       options_.initial_s *
                           std::ldexp(1.0, static_cast<int>(e.failures - 1)));
  e.until = t + skip;
}

void expert_backoff::answered(const std::string& uid) {
  std::lock_guard<std::mutex> guard{mtx_};
  entries_.erase(uid);
}

bool expert_backoff::skipped(const std::string& uid) const {
  if (!enabled())
    return false;
  auto t = now();
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = entries_.find(uid);
  return i != entries_.end() && i->second.until > t;
}

std::unordered_set<std::string> expert_backoff::skipped_uids() const {
  std::unordered_set<std::string> result;
  if (!enabled())
    return result;
  auto t = now();
  std::lock_guard<std::mutex> guard{mtx_};
  for (const auto& [uid, e] : entries_)
    if (e.until > t)
      result.insert(uid);
  return result;
}

} // namespace colony::moe
