#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace colony::dht {

/// Tunables of a DHT node, with hivemind's defaults. Each is a key of the
/// `[dht]` table of a node config.
struct dht_options {
  /// k: nodes per k-bucket.
  size_t bucket_size = 20;
  /// b: a full bucket not holding our id splits only at depths not a
  /// multiple of this.
  size_t depth_modulo = 5;
  /// Copies of each value, on the nodes nearest its key.
  size_t num_replicas = 5;
  /// alpha: requests in flight per lookup.
  size_t parallel_rpc = 3;
  /// Deadline of one DHT request to one peer.
  std::chrono::milliseconds wait_timeout{3000};
  /// Stale buckets are refreshed this often (0: never).
  std::chrono::milliseconds refresh_period{60000};
  /// Found values are kept in the local cache.
  bool cache_locally = true;
  /// Found values are also cached on the nearest node that lacked them.
  bool cache_nearest = true;
  /// A cached value that was read is fetched again this long before it
  /// expires (seconds).
  double cache_refresh_before_expiry = 5.0;
  /// Most records (plain values and subkeys) kept in storage, as hivemind
  /// bounds it (0: no bound). When full, the earliest-expiring record of
  /// the peer holding the most goes.
  size_t storage_maxsize = 100000;
  /// Largest fraction of storage_maxsize (and of cache_maxsize) one peer's
  /// records may take; its stores of new records beyond are refused.
  double max_storage_share = 0.1;
  /// Stores served per peer a minute (token bucket, bursts of a minute's
  /// worth); beyond, stores are refused (0: no limit).
  size_t stores_per_peer_per_minute = 12000;
  /// Longest a record may live past now (stores beyond are refused).
  std::chrono::milliseconds max_expiration_horizon{86400 * 1000};
  /// Largest value a record may hold, signature included (bytes).
  size_t max_value_bytes = 8192;
  /// Most records kept in the cache (shared as storage is).
  size_t cache_maxsize = 10000;
  /// Failed peers are skipped for base * 2^(failures-1) seconds.
  double blacklist_base_seconds = 5.0;
  /// Make requests, never enter anyone's routing table.
  bool client_mode = false;
  /// Fail bootstrap when no initial peer answers (else start alone).
  bool ensure_bootstrap_success = true;
};

} // namespace colony::dht
