#include "actors/dht/detail/traversal.hpp"

#include <algorithm>

namespace colony::dht {

traversal::traversal(const dht_id& target, size_t beam_size,
                     size_t parallel) noexcept
    : target_(target), beam_size_(beam_size), parallel_(parallel) {
  // nop
}

void traversal::add_candidates(const std::vector<node_ref>& nodes, size_t hop) {
  for (auto& n : nodes)
    if (seen_.insert(n.id).second) {
      candidates_.emplace(distance(n.id, target_), n);
      hop_of_.emplace(n.id, hop);
    }
}

bool traversal::worth_asking(const dht_id& d) const {
  if (responded_.size() < beam_size_)
    return true;
  auto kth = std::next(responded_.begin(),
                       static_cast<std::ptrdiff_t>(beam_size_ - 1));
  return d < kth->first;
}

std::vector<node_ref> traversal::next_requests() {
  std::vector<node_ref> result;
  while (in_flight_ < parallel_ && !candidates_.empty() &&
         worth_asking(candidates_.begin()->first)) {
    result.push_back(candidates_.begin()->second);
    candidates_.erase(candidates_.begin());
    ++in_flight_;
    ++sent_;
  }
  return result;
}

void traversal::on_response(const node_ref& from,
                            const std::vector<node_ref>& nearest) {
  if (in_flight_ > 0)
    --in_flight_;
  seen_.insert(from.id);
  responded_.emplace(distance(from.id, target_), from);
  auto hop = hop_of_.count(from.id) ? hop_of_[from.id] : 1;
  hops_ = std::max(hops_, hop);
  add_candidates(nearest, hop + 1);
}

void traversal::on_failure(const dht_id&) {
  if (in_flight_ > 0)
    --in_flight_;
}

bool traversal::done() const {
  if (in_flight_ > 0)
    return false;
  return candidates_.empty() || !worth_asking(candidates_.begin()->first);
}

std::vector<node_ref> traversal::nearest_responded(size_t n) const {
  std::vector<node_ref> result;
  for (auto& [d, node] : responded_) {
    if (result.size() >= n)
      break;
    result.push_back(node);
  }
  return result;
}

} // namespace colony::dht
