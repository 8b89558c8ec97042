#pragma once

// progress_model: what a progress tracker knows and computes, without the
// DHT: this peer's progress and throughput, the other peers' last records,
// and the swarm's progress aggregated from both as hivemind's
// ProgressTracker does (samples of peers at the latest epoch, throughput of
// all, an estimate of when the target is reached, and when to look again).
// Times are DHT times (seconds). Not thread-safe.

#include "actors/optim/global_progress.hpp"
#include "actors/optim/progress_record.hpp"
#include "actors/optim/throughput_ema.hpp"

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace colony::optim {

struct progress_model_options {
  uint64_t target_batch_size = 1;
  bool client_mode = false;
  /// Bounds of the time between two reads of the records.
  std::chrono::milliseconds min_refresh_period{500};
  std::chrono::milliseconds max_refresh_period{10000};
  /// Read again sooner when peers may join: the estimate of the time to the
  /// next epoch is scaled by num_peers / max(num_peers + drift_peers,
  /// num_peers * (1 + drift_rate)) (hivemind's expected_drift_*).
  double expected_drift_peers = 3;
  double expected_drift_rate = 0.2;
};

class progress_model {
 public:
  progress_model(progress_model_options options, double now);

  /// This peer is at `epoch` with `samples` accumulated in it.
  void report(uint64_t epoch, uint64_t samples, double now);

  /// This peer moved to `epoch` (never back) with nothing accumulated; the
  /// time since the last report (averaging) does not count as training.
  void update_epoch(uint64_t epoch, double now);

  /// The other peers' records as last read (peer_progress()).
  void set_peers(std::map<std::string, progress_record> peers);

  /// `peers` (keys as in set_peers) moved on to `epoch` together with this
  /// peer: the members of its averaging round. Until their own records say
  /// so, they count at `epoch` with nothing accumulated at `now` and their
  /// last throughput, so that the swarm's samples of the new epoch are
  /// estimated from the start instead of missing until the next read (a
  /// peer would take twice its share of steps per epoch otherwise).
  void assume_moved_on(const std::vector<std::string>& peers, uint64_t epoch,
                       double now);

  /// The record this peer publishes.
  [[nodiscard]] progress_record local_record() const;

  [[nodiscard]] global_progress aggregate(double now) const;

  [[nodiscard]] uint64_t local_epoch() const noexcept { return epoch_; }

 private:
  progress_model_options options_;
  uint64_t epoch_ = 0;
  uint64_t samples_ = 0;
  double reported_at_ = 0;
  throughput_ema throughput_;
  std::map<std::string, progress_record> peers_;
  /// assume_moved_on's: peer -> (epoch, time).
  std::map<std::string, std::pair<uint64_t, double>> assumed_;

  /// Applies the assumptions older records do not yet overrule; forgets
  /// those overruled and those of peers gone from the records.
  void apply_assumptions();
};

} // namespace colony::optim
