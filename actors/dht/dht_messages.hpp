#pragma once

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace colony::dht {

class record_validator;

/// A validator handed to a dht_node at run time (record_validator.hpp).
using validator_ptr = std::shared_ptr<const record_validator>;

/// One write: `value` under `key` (and `subkey`, if `has_subkey`) until
/// `expiration` (DHT time, seconds since the epoch).
struct store_request {
  std::string key;
  std::string subkey;
  bool has_subkey = false;
  std::string value;
  double expiration = 0;
};

/// The outcome of one store: whether some replica took it, and if none did,
/// why (the first refusal heard: "reason: detail", see docs/wire.md).
struct store_reply {
  bool stored = false;
  std::string refusal;
};

/// A subkey's value in a dictionary value.
struct subkey_value {
  std::string value;
  double expiration = 0;
};

/// What a get found for one key.
struct get_result {
  bool found = false;
  bool is_dictionary = false;
  std::string value;                           ///< plain values
  std::map<std::string, subkey_value> subkeys; ///< dictionary values
  double expiration = 0; ///< latest subkey's, for dictionaries
};

/// Counters a node reports.
struct dht_stats {
  size_t routing_table_size = 0;
  size_t storage_size = 0;
  size_t cache_size = 0;
  size_t lookups = 0;
  size_t lookup_hops = 0; ///< summed over finished lookups
  size_t requests_sent = 0;
  size_t requests_failed = 0;
  /// Keys local actors looked up, and how many of them were found.
  size_t gets = 0;
  size_t gets_found = 0;
  /// Values local actors stored, and how many some replica accepted.
  size_t stores = 0;
  size_t stores_accepted = 0;
  /// Records held in storage (plain values and subkeys).
  size_t storage_records = 0;
  /// Stores this node refused to serve for peers, and of those, how many
  /// by the rate limit and by the storing peer's share.
  size_t stores_refused = 0;
  size_t stores_rate_limited = 0;
  size_t stores_over_share = 0;
};

// The dht_node's interface for local actors:
/// (store_atom, vector<store_request>) -> vector<bool> (any replica took it)
using store_atom = caf::atom_constant<caf::atom("dht_store")>;
/// (store_checked_atom, vector<store_request>) -> vector<store_reply>: a
/// store that says why a refused request was refused
using store_checked_atom = caf::atom_constant<caf::atom("dht_stchk")>;
/// (get_atom, vector<string> keys, bool latest) -> vector<get_result>
using get_atom = caf::atom_constant<caf::atom("dht_get")>;
/// (bootstrap_atom) -> size_t routing table size, or error
using bootstrap_atom = caf::atom_constant<caf::atom("dht_boot")>;
/// (nearest_atom, string id_hex, size_t k) -> vector<string> peer ids of the
/// k nodes nearest the id, found by a lookup
using nearest_atom = caf::atom_constant<caf::atom("dht_near")>;
/// (add_validator_atom, validator_ptr) -> void: adds a validator to the
/// node's chain (merged with one it merges with) for every later store,
/// get and served request; e.g. a schema_validator of a run's keys.
using add_validator_atom = caf::atom_constant<caf::atom("dht_addval")>;
/// (stats_atom) -> dht_stats
using stats_atom = caf::atom_constant<caf::atom("dht_stats")>;
/// Internal: fetch a cached key again before it expires.
using cache_refresh_atom = caf::atom_constant<caf::atom("dht_cref")>;
/// Internal: periodic bucket refresh.
using refresh_atom = caf::atom_constant<caf::atom("dht_ref")>;

/// DHT time: seconds since the Unix epoch.
double dht_time();

} // namespace colony::dht

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<colony::dht::store_request>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<colony::dht::get_result>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<colony::dht::store_reply>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(colony::dht::dht_stats)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(colony::dht::validator_ptr)
