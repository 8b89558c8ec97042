#include "actors/dht/store_rate_limiter.hpp"

#include <algorithm>

namespace colony::dht {

bool store_rate_limiter::allow(const std::string& peer, double now) {
  if (per_minute_ == 0)
    return true;
  auto it = buckets_.find(peer);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_tracked_peers)
      forget_idle(now);
    it = buckets_.emplace(peer, bucket{static_cast<double>(per_minute_), now})
             .first;
  }
  auto& b = it->second;
  refill(b, now);
  if (b.tokens < 1.0)
    return false;
  b.tokens -= 1.0;
  return true;
}

void store_rate_limiter::refill(bucket& b, double now) const {
  if (!(now > b.updated))
    return; // a clock that stood still (or a NaN) adds nothing
  auto capacity = static_cast<double>(per_minute_);
  b.tokens = std::min(capacity, b.tokens + (now - b.updated) * capacity / 60.0);
  b.updated = now;
}

void store_rate_limiter::forget_idle(double now) {
  auto capacity = static_cast<double>(per_minute_);
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    refill(it->second, now);
    if (it->second.tokens >= capacity)
      it = buckets_.erase(it);
    else
      ++it;
  }
}

} // namespace colony::dht
