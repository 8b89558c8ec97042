#pragma once

// The swarm's progress toward its next epoch as one peer sees it: what a
// collaborative optimizer decides by (whether to end the epoch, whether it
// fell behind, how many peers to expect in a round).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace colony::optim {

struct global_progress {
  /// The latest epoch of any peer not in client mode (or this peer's).
  uint64_t epoch = 0;
  /// Samples the peers at `epoch` reported accumulating in it.
  uint64_t samples_accumulated = 0;
  uint64_t target_batch_size = 0;
  /// Peers with a live record, this one included (any epoch), and how many
  /// of them are in client mode.
  size_t num_peers = 1;
  size_t num_clients = 0;
  /// Of them, the peers whose record is at `epoch`.
  size_t num_peers_at_epoch = 1;
  /// The epoch of each of them (this peer's first).
  std::vector<uint64_t> peer_epochs;
  /// The throughput of all those peers together.
  double samples_per_second = 0;
  /// DHT time at which the swarm is expected to reach the target, from the
  /// reported samples and throughputs; nullopt while nobody reported one.
  std::optional<double> eta_next_epoch;
  /// DHT time at which the records should be read again.
  double next_fetch_time = 0;
};

} // namespace colony::optim
