#pragma once

#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace colony::moe {

/// Settings of an `expert_backoff`.
struct expert_backoff_options {
  /// How long an expert is skipped after its first failure in a row
  /// (seconds); 0 turns the back-off off.
  double initial_s = 1;

  /// Cap on the skip time, which doubles with each further failure in a row
  /// (seconds).
  double max_s = 30;

  /// Time source (seconds, any epoch); a steady clock if empty. Tests pass
  /// a fake clock.
  std::function<double()> clock;
};

/// Remembers experts that failed a call (no answer in time, an error, NaN,
/// a wrong shape) so that a trainer's beam search skips them for a while
/// instead of choosing them again on every step. hivemind re-picks a dead or
/// poisoned expert until its DHT entry expires, and a poisoned server keeps
/// re-declaring its experts; every sample routed to it then loses that
/// expert, and a sample whose chosen experts all failed gets zeros. The
/// gating never learns to avoid them (failed experts get no gradient).
///
/// An expert that fails n times in a row is skipped for
/// min(max_s, initial_s * 2^(n-1)) seconds; when that passes it may be
/// chosen again (one probe), and an answer forgets its failures. Like the
/// transport's back-off for dead peers, but per expert: a server may host
/// healthy and broken experts side by side.
///
/// Thread-safe: forward and backward may record from different threads.
class expert_backoff {
 public:
  explicit expert_backoff(expert_backoff_options options = {});

  /// Records a failed call of `uid`.
  void failed(const std::string& uid);

  /// Records an answer of `uid`: its failures are forgotten.
  void answered(const std::string& uid);

  /// True while `uid` is being skipped.
  [[nodiscard]] bool skipped(const std::string& uid) const;

  /// The experts being skipped now: one snapshot for a whole search, instead
  /// of a lock and a clock read per candidate.
  [[nodiscard]] std::unordered_set<std::string> skipped_uids() const;

  /// Number of experts being skipped now.
  [[nodiscard]] size_t skipped_count() const { return skipped_uids().size(); }

  /// False if the options turned the back-off off.
  [[nodiscard]] bool enabled() const noexcept { return options_.initial_s > 0; }

  /// Bound on remembered experts; past it, entries whose skip time passed
  /// are dropped, then all (entries).
  static constexpr size_t max_entries = size_t{1} << 16;

 private:
  struct entry {
    unsigned failures = 0; // in a row
    double until = 0;      // skipped before this time
  };

  double now() const;

  expert_backoff_options options_;
  mutable std::mutex mtx_;
  std::unordered_map<std::string, entry> entries_;
};

} // namespace colony::moe
