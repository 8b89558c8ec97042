#pragma once

#include "actors/dht/node_ref.hpp"

#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace colony::dht {

/// One iterative Kademlia lookup towards `target`: a beam over the nearest
/// nodes heard of, at most `parallel` requests in flight. Pure logic: the
/// dht_node actor sends the requests it is told to and reports the
/// outcomes. A lookup ends when no unqueried node is closer than the
/// `beam_size`-th nearest node that answered, and nothing is in flight.
class traversal {
 public:
  traversal(const dht_id& target, size_t beam_size, size_t parallel) noexcept;

  /// Adds nodes to consider (duplicates and known nodes are ignored);
  /// `hop` counts the requests between us and where we heard of them (1
  /// for our own routing table).
  void add_candidates(const std::vector<node_ref>& nodes, size_t hop = 1);

  /// Nodes to query now; they count as in flight until answered or failed.
  [[nodiscard]] std::vector<node_ref> next_requests();

  /// `from` answered; `nearest` are the nodes it knows nearest the target.
  void on_response(const node_ref& from, const std::vector<node_ref>& nearest);

  /// `from` failed or timed out.
  void on_failure(const dht_id& from);

  /// True once the lookup cannot make progress.
  [[nodiscard]] bool done() const;

  /// The up to `n` nearest nodes that answered, nearest first.
  [[nodiscard]] std::vector<node_ref> nearest_responded(size_t n) const;

  [[nodiscard]] size_t in_flight() const noexcept { return in_flight_; }
  /// Hops to the farthest node that answered: the depth of the lookup.
  [[nodiscard]] size_t hops() const noexcept { return hops_; }
  [[nodiscard]] size_t requests_sent() const noexcept { return sent_; }
  [[nodiscard]] const dht_id& target() const noexcept { return target_; }

 private:
  /// The distance below which a candidate is still worth asking.
  [[nodiscard]] bool worth_asking(const dht_id& distance) const;

  dht_id target_;
  size_t beam_size_;
  size_t parallel_;
  size_t in_flight_ = 0;
  size_t sent_ = 0;
  std::map<dht_id, node_ref> candidates_; ///< by distance, not yet asked
  std::map<dht_id, node_ref> responded_;  ///< by distance
  std::set<dht_id> seen_;                 ///< node ids ever added
  std::map<dht_id, size_t> hop_of_;       ///< node id -> hop it was heard at
  size_t hops_ = 0;
};

} // namespace colony::dht
