#include "actors/dht/detail/routing_table.hpp"

#include <algorithm>

namespace colony::dht {

namespace {

template <class Nodes>
auto find_node(Nodes& nodes, const dht_id& id) noexcept {
  return std::find_if(nodes.begin(), nodes.end(),
                      [&](const node_ref& n) { return n.id == id; });
}

} // namespace

dht_id k_bucket::last() const noexcept {
  auto out = lower_;
  for (size_t i = depth_; i < dht_id::bits; ++i)
    out = out.with_bit(i, true);
  return out;
}

routing_table::routing_table(const dht_id& own_id, size_t bucket_size,
                             size_t depth_modulo)
    : own_id_(own_id), bucket_size_(std::max<size_t>(bucket_size, 1)),
      depth_modulo_(std::max<size_t>(depth_modulo, 1)) {
  // Never updated yet: the first refresh finds the root bucket stale.
  buckets_.emplace_back(dht_id{}, 0, 0.0);
}

size_t routing_table::bucket_index(const dht_id& id) const noexcept {
  // The covering bucket is the last one starting at or below `id`.
  auto it = std::upper_bound(
      buckets_.begin(), buckets_.end(), id,
      [](const dht_id& x, const k_bucket& b) { return x < b.lower(); });
  return static_cast<size_t>(it - buckets_.begin()) - 1;
}

std::optional<node_ref> routing_table::add_or_update_node(const dht_id& id,
                                                          const peer_id& peer,
                                                          std::string address,
                                                          double now) {
  if (id == own_id_)
    return std::nullopt;
  for (;;) {
    auto index = bucket_index(id);
    auto& bucket = buckets_[index];
    bucket.last_updated_ = now;
    auto& nodes = bucket.nodes_;
    if (auto it = find_node(nodes, id); it != nodes.end()) {
      // Seen again: refresh its contact and move it to the recent end.
      node_ref node = std::move(*it);
      node.peer = peer;
      node.address = std::move(address);
      nodes.erase(it);
      nodes.push_back(std::move(node));
      return std::nullopt;
    }
    auto& spares = bucket.replacements_;
    if (nodes.size() < bucket_size_) {
      if (auto it = find_node(spares, id); it != spares.end())
        spares.erase(it);
      nodes.push_back(node_ref{id, peer, std::move(address)});
      ++size_;
      return std::nullopt;
    }
    // Kademlia section 4.2: split the bucket holding our id (we want to know
    // our neighbourhood well) or one not at a multiple of b (so that far
    // ranges are kept at a resolution of b bits, not 1).
    bool may_split =
        bucket.depth_ < dht_id::bits &&
        (bucket.covers(own_id_) || bucket.depth_ % depth_modulo_ != 0);
    if (may_split) {
      split(index, now);
      continue;
    }
    if (auto it = find_node(spares, id); it != spares.end())
      spares.erase(it);
    spares.push_back(node_ref{id, peer, std::move(address)});
    if (spares.size() > bucket_size_)
      spares.erase(spares.begin());
    return nodes.front();
  }
}

void routing_table::split(size_t index, double now) {
  auto& old = buckets_[index];
  auto depth = old.depth_ + 1;
  k_bucket low{old.lower_, depth, now};
  k_bucket high{old.lower_.with_bit(old.depth_, true), depth, now};
  auto half_of = [&](const dht_id& id) -> k_bucket& {
    return id.bit(old.depth_) ? high : low;
  };
  // Oldest first, so that each half keeps the recency order.
  for (auto& n : old.nodes_)
    half_of(n.id).nodes_.push_back(std::move(n));
  for (auto& n : old.replacements_) {
    auto& half = half_of(n.id);
    if (half.nodes_.size() < bucket_size_) {
      half.nodes_.push_back(std::move(n));
      ++size_;
    } else {
      half.replacements_.push_back(std::move(n));
    }
  }
  buckets_[index] = std::move(low);
  buckets_.insert(buckets_.begin() + static_cast<ptrdiff_t>(index) + 1,
                  std::move(high));
}

bool routing_table::remove_node(const dht_id& id) {
  auto& bucket = buckets_[bucket_index(id)];
  auto& nodes = bucket.nodes_;
  auto& spares = bucket.replacements_;
  if (auto it = find_node(nodes, id); it != nodes.end()) {
    nodes.erase(it);
    --size_;
    if (!spares.empty()) {
      nodes.push_back(std::move(spares.back()));
      spares.pop_back();
      ++size_;
    }
    return true;
  }
  if (auto it = find_node(spares, id); it != spares.end()) {
    spares.erase(it);
    return true;
  }
  return false;
}

const node_ref* routing_table::find(const dht_id& id) const noexcept {
  const auto& nodes = buckets_[bucket_index(id)].nodes_;
  auto it = find_node(nodes, id);
  return it != nodes.end() ? &*it : nullptr;
}

std::vector<node_ref> routing_table::get_nearest_neighbors(
    const dht_id& query, size_t k, const std::optional<dht_id>& exclude) const {
  std::vector<node_ref> result;
  if (k == 0 || size_ == 0)
    return result;
  std::vector<std::pair<dht_id, const node_ref*>> found;
  found.reserve(std::min(k, size_) + bucket_size_);
  collect_nearest(0, buckets_.size(), 0, query, k, exclude, found);
  auto n = std::min(k, found.size());
  result.reserve(n);
  for (size_t i = 0; i < n; ++i)
    result.push_back(*found[i].second);
  return result;
}

void routing_table::collect_nearest(
    size_t first, size_t last, size_t depth, const dht_id& query, size_t k,
    const std::optional<dht_id>& exclude,
    std::vector<std::pair<dht_id, const node_ref*>>& out) const {
  if (out.size() >= k)
    return;
  if (last - first == 1) {
    // All ids of one bucket are nearer to `query` than those of any bucket
    // visited later: sorting within the bucket gives the global order.
    auto start = out.size();
    for (const auto& n : buckets_[first].nodes_)
      if (!exclude || n.id != *exclude)
        out.emplace_back(distance(n.id, query), &n);
    std::sort(out.begin() + static_cast<ptrdiff_t>(start), out.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    return;
  }
  // Several buckets share this prefix, so they split on bit `depth`: the
  // half agreeing with `query` on that bit holds every nearer id.
  auto begin = buckets_.begin();
  auto mid = static_cast<size_t>(
      std::partition_point(
          begin + static_cast<ptrdiff_t>(first),
          begin + static_cast<ptrdiff_t>(last),
          [depth](const k_bucket& b) { return !b.lower().bit(depth); }) -
      begin);
  if (query.bit(depth)) {
    collect_nearest(mid, last, depth + 1, query, k, exclude, out);
    collect_nearest(first, mid, depth + 1, query, k, exclude, out);
  } else {
    collect_nearest(first, mid, depth + 1, query, k, exclude, out);
    collect_nearest(mid, last, depth + 1, query, k, exclude, out);
  }
}

std::vector<dht_id> routing_table::stale_bucket_ids(double updated_before,
                                                    double now) {
  std::vector<dht_id> out;
  for (auto& b : buckets_) {
    if (b.last_updated_ < updated_before) {
      out.push_back(dht_id::random_with_prefix(b.lower_, b.depth_));
      b.last_updated_ = now;
    }
  }
  return out;
}

} // namespace colony::dht
