#pragma once

#include "actors/dht/dht_id.hpp"
#include "actors/dht/storage_ledger.hpp"

#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace colony::dht {

/// Bytes valid until an absolute DHT time (seconds since the Unix epoch).
struct value_with_expiration {
  std::string value;
  double expiration = 0;

  friend bool operator==(const value_with_expiration& a,
                         const value_with_expiration& b) noexcept {
    return a.value == b.value && a.expiration == b.expiration;
  }
  friend bool operator!=(const value_with_expiration& a,
                         const value_with_expiration& b) noexcept {
    return !(a == b);
  }
};

/// What a key holds: a plain value, or a dictionary of subkeys each with
/// its own value and expiration (hivemind's `DictionaryDHTValue`).
struct dht_value {
  /// The plain value; nullopt for a dictionary.
  std::optional<std::string> plain;
  /// The dictionary's unexpired subkeys (empty for a plain value).
  std::map<std::string, value_with_expiration> subkeys;
  /// The plain value's expiration, or the latest of the subkeys'.
  double expiration = 0;

  /// Returns true if this is a dictionary rather than a plain value.
  [[nodiscard]] bool is_dictionary() const noexcept {
    return !plain.has_value();
  }

  friend bool operator==(const dht_value& a, const dht_value& b) noexcept {
    return a.plain == b.plain && a.subkeys == b.subkeys &&
           a.expiration == b.expiration;
  }
  friend bool operator!=(const dht_value& a, const dht_value& b) noexcept {
    return !(a == b);
  }
};

/// One stored value in the shape of a store request: a plain value
/// (`has_subkey` false) or one subkey of a dictionary.
struct stored_record {
  std::string key; ///< serialized key, as given to store (empty if none was)
  std::string subkey;
  bool has_subkey = false;
  std::string value;
  double expiration = 0;
};

/// Why a store was refused, or that it was not (`stored`).
enum class store_outcome {
  stored,
  expired,    ///< the expiration is already past
  not_newer,  ///< the record held expires at or after the new one
  over_share, ///< the storing peer holds its whole share of the storage
  no_room,    ///< storage is full and the new record was the one evicted
};

/// The stable word naming `outcome` in refusal reasons (docs/wire.md):
/// "stored", "expired", "not_newer", "over_share", "storage_full".
[[nodiscard]] const char* to_string(store_outcome outcome) noexcept;

/// What a store did; true when it stored.
struct store_result {
  store_outcome outcome = store_outcome::stored;

  operator bool() const noexcept { return outcome == store_outcome::stored; }
};

/// A node's local key-value storage with expiration, with hivemind's rules
/// (DHTLocalStorage): the newer expiration wins, values vanish when they
/// expire, and a key holds either a plain value or a dictionary of subkeys.
///
/// A value is alive while `now <= expiration`. Expired values are dropped
/// whenever the storage is touched.
///
/// Bounds: storage counts records (a plain value, or one subkey of a
/// dictionary), each with the peer that stored it (its owner; the empty
/// owner is the node itself). With a `maxsize`, a store beyond it evicts
/// the earliest-expiring record of the owner holding the most records, and
/// a peer holding `max_share` of `maxsize` has its stores of new records
/// refused (`over_share`); replacing its own records is always allowed, and
/// the node's own stores have no share. So one peer cannot push out the
/// records of others: it runs into its share first.
///
/// Pure logic: every call takes the current DHT time `now` (seconds since
/// the epoch, the same clock as expirations); no locking (one owner). The
/// node's cache is a second instance.
class dht_storage {
 public:
  /// Makes an empty storage holding at most `maxsize` records (0: no
  /// bound), at most `max_share` of them stored by any one peer.
  explicit dht_storage(size_t maxsize = 0, double max_share = 1.0) noexcept
      : maxsize_(maxsize), max_share_(max_share) {}

  /// Stores the plain `value` under `key` until `expiration` for `owner`.
  /// Refused if `expiration < now` or `key` holds a value (plain or
  /// dictionary) expiring at or after `expiration`; otherwise replaces it.
  /// `serialized_key` (the bytes `key` is the SHA-1 of) is kept for
  /// `records_of`. Also refused over `owner`'s share, or if `maxsize` made
  /// the new record the one evicted.
  store_result
  store(const dht_id& key, std::string value, double expiration, double now,
        std::optional<std::string_view> serialized_key = std::nullopt,
        const std::string& owner = {});

  /// Stores `value` under `subkey` of the dictionary at `key` until
  /// `expiration` for `owner`. Refused if `expiration < now`; if `key` holds
  /// a plain value expiring at or after `expiration` (a later one is
  /// replaced by a new dictionary); if the subkey holds a value expiring at
  /// or after `expiration`; or by the bounds, as `store`. The dictionary
  /// expires with its latest subkey.
  store_result
  store_subkey(const dht_id& key, std::string subkey, std::string value,
               double expiration, double now,
               std::optional<std::string_view> serialized_key = std::nullopt,
               const std::string& owner = {});

  /// Returns the value at `key` if alive at `now`; for a dictionary, only
  /// its subkeys alive at `now`.
  [[nodiscard]] std::optional<dht_value> get(const dht_id& key, double now);

  /// Returns every key alive at `now` with its value (no particular order),
  /// e.g. to hand a new neighbour the keys it is now responsible for.
  [[nodiscard]] std::vector<std::pair<dht_id, dht_value>> items(double now);

  /// Returns the value at `key` as store requests (one per subkey for a
  /// dictionary), empty if there is none alive at `now`.
  [[nodiscard]] std::vector<stored_record> records_of(const dht_id& key,
                                                      double now);

  /// Drops `key`; returns true if it was held (even if expired).
  bool erase(const dht_id& key);

  /// Drops every key and subkey expired at `now`.
  void remove_expired(double now);

  /// Returns the number of keys alive at `now`.
  [[nodiscard]] size_t size(double now);

  /// Returns the number of records (plain values and subkeys) alive at
  /// `now`, and how many of them `owner` stored.
  [[nodiscard]] size_t record_count(double now);
  [[nodiscard]] size_t record_count_of(const std::string& owner, double now);

  /// Returns the bound on the number of records (0: none).
  [[nodiscard]] size_t maxsize() const noexcept { return maxsize_; }

  /// Returns the most records one peer may hold (maxsize x max_share, at
  /// least 1; unbounded without a maxsize).
  [[nodiscard]] size_t share_limit() const noexcept;

 private:
  struct entry {
    dht_value value;
    std::optional<std::string> serialized_key;
  };

  /// Whether storing `ref` for `owner` would take it beyond its share.
  bool over_share(const std::string& owner, const record_ref& ref) const;

  /// Evicts records while there are more than `maxsize`; returns whether
  /// `ref` survived.
  store_result enforce_bound(const record_ref& ref);

  /// Drops one record (and its key once nothing is left under it).
  void remove_record(const record_ref& ref);

  /// Forgets the ledger's records of the value at `key`.
  void forget_records(const dht_id& key, const entry& e);

  /// Keeps the serialized key if we had none.
  static void remember(entry& e,
                       std::optional<std::string_view> serialized_key);

  /// Drops every record expired at `now`.
  void drop_expired(double now);

  size_t maxsize_;
  double max_share_;
  std::unordered_map<dht_id, entry> data_;
  storage_ledger ledger_;
};

} // namespace colony::dht
