#pragma once

#include "actors/dht/dht_id.hpp"
#include "actors/dht/node_ref.hpp"
#include "runtime/peer_id.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace colony::dht {

/// One k-bucket: the nodes whose ids share the first `depth()` bits of
/// `lower()`, i.e. lie in [lower, lower + 2^(160 - depth)).
///
/// Since every split halves a range at its midpoint, starting from the
/// whole id space, each bucket's range is exactly such a binary prefix.
class k_bucket {
 public:
  /// Makes an empty bucket for the ids starting with the first `depth` bits
  /// of `lower` (whose other bits must be zero).
  k_bucket(const dht_id& lower, size_t depth, double last_updated) noexcept
      : lower_(lower), depth_(depth), last_updated_(last_updated) {}

  /// Returns the smallest id in range (the prefix, padded with zeros).
  [[nodiscard]] const dht_id& lower() const noexcept { return lower_; }

  /// Returns the largest id in range (the prefix, padded with ones): the
  /// exclusive upper bound minus one, which may be 2^160 and not fit an id.
  [[nodiscard]] dht_id last() const noexcept;

  /// Returns the number of leading bits all ids in range share.
  [[nodiscard]] size_t depth() const noexcept { return depth_; }

  /// Returns true if `id` lies in this bucket's range.
  [[nodiscard]] bool covers(const dht_id& id) const noexcept {
    return lower_.shares_prefix(id, depth_);
  }

  /// Returns when a node was last added to, updated in or offered to this
  /// bucket (caller's clock, seconds).
  [[nodiscard]] double last_updated() const noexcept { return last_updated_; }

  /// Returns the live nodes, least recently seen first.
  [[nodiscard]] const std::vector<node_ref>& nodes() const noexcept {
    return nodes_;
  }

  /// Returns the nodes waiting for a free place, least recently seen first.
  [[nodiscard]] const std::vector<node_ref>& replacements() const noexcept {
    return replacements_;
  }

 private:
  friend class routing_table;

  dht_id lower_;
  size_t depth_;
  double last_updated_;
  std::vector<node_ref> nodes_;        ///< at most bucket_size
  std::vector<node_ref> replacements_; ///< at most bucket_size
};

/// A Kademlia routing table with hivemind's rules (hivemind/dht/routing.py):
/// k-buckets of `bucket_size` nodes over [0, 2^160); a full bucket splits
/// at its midpoint if it covers our own id or its depth is not a multiple
/// of `depth_modulo`, otherwise a new node waits in the bucket's
/// replacement list and the caller is asked to ping the bucket's least
/// recently seen node.
///
/// Pure logic: no clock (callers pass `now`, seconds), no I/O, no locking
/// (one owner, the dht_node actor). Our own id is never stored.
class routing_table {
 public:
  /// Default k: nodes per bucket (hivemind's and Kademlia's 20).
  static constexpr size_t default_bucket_size = 20;

  /// Default b: full buckets away from our id split down to depths that
  /// are multiples of this (number of bits).
  static constexpr size_t default_depth_modulo = 5;

  /// Makes a table with one bucket covering everything. `bucket_size` and
  /// `depth_modulo` below 1 are taken as 1.
  explicit routing_table(const dht_id& own_id,
                         size_t bucket_size = default_bucket_size,
                         size_t depth_modulo = default_depth_modulo);

  /// Records that node `id` (peer `peer`, reachable at `address`) is alive
  /// at time `now`: it becomes the most recently seen of its bucket, joining
  /// it if there is room or after splitting the bucket. If its bucket is
  /// full and may not split, the node goes to the bucket's replacement list
  /// (most recent kept) and the result is the bucket's least recently seen
  /// node: the caller should ping it, then call `add_or_update_node` for it
  /// if it answers or `remove_node` if not. Returns nullopt otherwise, and
  /// for our own id (ignored).
  std::optional<node_ref> add_or_update_node(const dht_id& id,
                                             const peer_id& peer,
                                             std::string address, double now);

  /// Forgets node `id` (it failed to answer). If it was in its bucket, the
  /// most recently seen replacement takes its place. Returns true if the
  /// node was in the bucket or its replacement list.
  bool remove_node(const dht_id& id);

  /// Returns up to `k` nodes of the table nearest to `query` by XOR
  /// distance, nearest first, leaving out `exclude`. Exact: the same as
  /// sorting all nodes by distance, but visits only the buckets needed.
  [[nodiscard]] std::vector<node_ref>
  get_nearest_neighbors(const dht_id& query, size_t k,
                        const std::optional<dht_id>& exclude = {}) const;

  /// Returns node `id` if it is in its bucket (replacements do not count).
  [[nodiscard]] const node_ref* find(const dht_id& id) const noexcept;

  /// Returns true if node `id` is in its bucket (not a mere replacement).
  [[nodiscard]] bool contains(const dht_id& id) const noexcept {
    return find(id) != nullptr;
  }

  /// Returns the number of nodes in buckets (replacements not counted).
  [[nodiscard]] size_t size() const noexcept { return size_; }

  /// Returns the buckets, ordered by range (lowest ids first); they
  /// partition the id space.
  [[nodiscard]] const std::vector<k_bucket>& buckets() const noexcept {
    return buckets_;
  }

  /// Returns the index in `buckets()` of the bucket covering `id`.
  [[nodiscard]] size_t bucket_index(const dht_id& id) const noexcept;

  /// For bucket refresh: returns a random id in the range of each bucket
  /// last updated before `updated_before`, and marks those buckets updated
  /// at `now` so that the next refresh skips them unless they went stale
  /// again. The caller runs a node lookup towards each returned id.
  std::vector<dht_id> stale_bucket_ids(double updated_before, double now);

  /// Returns the id of the node owning this table.
  [[nodiscard]] const dht_id& own_id() const noexcept { return own_id_; }

  /// Returns k, the capacity of each bucket and of its replacement list.
  [[nodiscard]] size_t bucket_size() const noexcept { return bucket_size_; }

  /// Returns b (see `default_depth_modulo`).
  [[nodiscard]] size_t depth_modulo() const noexcept { return depth_modulo_; }

 private:
  /// Splits bucket `index` at its midpoint, redistributing its nodes and
  /// replacements; the lower half stays at `index`.
  void split(size_t index, double now);

  /// Appends to `out` the nodes of buckets [first, last), which together
  /// cover the ids sharing some `depth`-bit prefix, nearest to `query`
  /// first, until `out` holds `k` nodes.
  void
  collect_nearest(size_t first, size_t last, size_t depth, const dht_id& query,
                  size_t k, const std::optional<dht_id>& exclude,
                  std::vector<std::pair<dht_id, const node_ref*>>& out) const;

  dht_id own_id_;
  size_t bucket_size_;
  size_t depth_modulo_;
  size_t size_ = 0;
  std::vector<k_bucket> buckets_; ///< sorted by lower(), never empty
};

} // namespace colony::dht
