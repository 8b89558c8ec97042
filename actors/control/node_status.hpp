#pragma once

// What a node reports through its control service: the fault-injection
// harness samples it from every node (and a live swarm monitor could).

#include "runtime/transport/fault_settings.hpp"

#include <caf/allowed_unsafe_message_type.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace colony::control {

/// A trainer's latest progress, as `training_record` reports it.
struct training_status {
  double time_s = 0;
  uint64_t step = 0;
  uint64_t samples = 0;
  double train_loss = 0;
  double samples_per_s = 0;
  uint32_t live_experts = 0;
  double failed_calls = 0;
  /// The latest test accuracy, once evaluated.
  std::optional<double> test_accuracy;
  /// The trainer ended (its final evaluation is in test_accuracy).
  bool finished = false;
};

struct node_status {
  std::string peer_id;
  /// "HOST:PORT" it listens on (empty in client mode).
  std::string address;
  double uptime_s = 0;
  /// Resident set size of the whole process.
  uint64_t rss_bytes = 0;
  /// Log lines at warning level / at error level or worse (log_tally).
  uint64_t warnings = 0;
  uint64_t errors = 0;
  uint32_t connections = 0;

  bool has_dht = false;
  uint64_t dht_gets = 0;
  uint64_t dht_gets_found = 0;
  uint64_t dht_stores = 0;
  uint64_t dht_stores_accepted = 0;
  uint32_t routing_table_size = 0;

  uint32_t experts_served = 0;
  uint32_t experts_poisoned = 0;

  fault_settings faults;
  fault_counters fault_counts;

  std::optional<training_status> training;
};

} // namespace colony::control

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(colony::control::node_status)
