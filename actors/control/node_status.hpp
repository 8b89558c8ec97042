#pragma once

// What a node reports through its control service: the fault-injection
// harness samples it from every node (and a live swarm monitor could).

#include "actors/trainer/training_record.hpp"
#include "runtime/transport/fault_settings.hpp"

#include <caf/allowed_unsafe_message_type.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace colony::control {

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

  /// A trainer's latest progress record, with the latest test accuracy
  /// even when the record itself is not an evaluation; unset unless the
  /// node trains.
  std::optional<trainer::training_record> training;
  /// The trainer ended (its final evaluation is in training).
  bool training_finished = false;
};

} // namespace colony::control

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(colony::control::node_status)
