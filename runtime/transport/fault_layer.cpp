#include "runtime/transport/fault_layer.hpp"

#include <algorithm>
#include <string>

namespace colony {

fault_layer::fault_layer() : rng_(std::random_device{}()) {}

void fault_layer::configure(fault_settings settings) {
  settings_ = std::move(settings);
  settings_.drop_rate = std::clamp(settings_.drop_rate, 0.0, 1.0);
  active_ = settings_.any();
  partitioned_ = {settings_.partitioned.begin(), settings_.partitioned.end()};
  exempt_ = {settings_.exempt.begin(), settings_.exempt.end()};
  rng_.seed(settings_.seed != 0
                ? settings_.seed
                : static_cast<uint64_t>(std::random_device{}()));
}

std::optional<fault_layer::clock_type::time_point>
fault_layer::schedule(int64_t connection, clock_type::time_point now) {
  if (settings_.drop_rate > 0 && std::uniform_real_distribution<double>{0, 1}(
                                     rng_) < settings_.drop_rate) {
    ++counters_.messages_dropped;
    return std::nullopt;
  }
  auto delay =
      std::chrono::duration_cast<clock_type::duration>(settings_.delay);
  if (settings_.jitter.count() > 0) {
    auto j = settings_.jitter.count();
    auto draw = std::uniform_int_distribution<int64_t>{-j, j}(rng_);
    delay += std::chrono::duration_cast<clock_type::duration>(
        std::chrono::milliseconds(draw));
  }
  auto release = now + std::max(delay, clock_type::duration::zero());
  auto& last = last_release_[connection];
  release = std::max(release, last);
  last = release;
  if (release > now)
    ++counters_.messages_delayed;
  return release;
}

bool fault_layer::is_exempt(std::string_view peer_id) const {
  return !exempt_.empty() && exempt_.count(std::string{peer_id}) > 0;
}

bool fault_layer::is_partitioned(std::string_view address,
                                 std::string_view peer_id) const {
  if (partitioned_.empty())
    return false;
  return (!address.empty() && partitioned_.count(std::string{address}) > 0) ||
         (!peer_id.empty() && partitioned_.count(std::string{peer_id}) > 0);
}

} // namespace colony
