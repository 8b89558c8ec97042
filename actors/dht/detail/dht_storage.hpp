#pragma once

#include "actors/dht/dht_id.hpp"

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

/// A node's local key-value storage with expiration, with hivemind's rules
/// (DHTLocalStorage): the newer expiration wins, values vanish when they
/// expire, and a key holds either a plain value or a dictionary of subkeys.
///
/// A value is alive while `now <= expiration`. Expired values are dropped
/// lazily when touched, and all at once by `remove_expired`. With a
/// `maxsize`, storing a key beyond it evicts the key expiring first.
///
/// Pure logic: every call takes the current DHT time `now` (seconds since
/// the epoch, the same clock as expirations); no locking (one owner). The
/// node's cache is a second instance.
class dht_storage {
 public:
  /// Makes an empty storage holding at most `maxsize` keys (0: no bound).
  explicit dht_storage(size_t maxsize = 0) noexcept : maxsize_(maxsize) {}

  /// Stores the plain `value` under `key` until `expiration`. Refused
  /// (false) if `expiration < now` or `key` holds a value (plain or
  /// dictionary) expiring at or after `expiration`; otherwise replaces it.
  /// `serialized_key` (the bytes `key` is the SHA-1 of) is kept for
  /// `records_of`. Also false if `maxsize` made the new key the one evicted.
  bool store(const dht_id& key, std::string value, double expiration,
             double now,
             std::optional<std::string_view> serialized_key = std::nullopt);

  /// Stores `value` under `subkey` of the dictionary at `key` until
  /// `expiration`. Refused (false) if `expiration < now`; if `key` holds a
  /// plain value expiring at or after `expiration` (a later one is replaced
  /// by a new dictionary); or if the subkey holds a value expiring at or
  /// after `expiration`. The dictionary expires with its latest subkey.
  bool
  store_subkey(const dht_id& key, std::string subkey, std::string value,
               double expiration, double now,
               std::optional<std::string_view> serialized_key = std::nullopt);

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

  /// Returns the bound on the number of keys (0: none).
  [[nodiscard]] size_t maxsize() const noexcept { return maxsize_; }

 private:
  struct entry {
    dht_value value;
    std::optional<std::string> serialized_key;
  };

  /// Returns the entry at `key` if alive at `now`, with its expired
  /// subkeys dropped; drops it and returns nullptr if expired.
  entry* live(const dht_id& key, double now);

  /// Adds a key that is not held, then enforces `maxsize`; returns whether
  /// the key survived.
  bool insert(const dht_id& key, dht_value value,
              std::optional<std::string_view> serialized_key);

  /// Moves `key` in the expiration order from `e.value.expiration` to
  /// `expiration` and sets it.
  void set_expiration(const dht_id& key, entry& e, double expiration);

  /// Keeps the serialized key if we had none.
  static void remember(entry& e,
                       std::optional<std::string_view> serialized_key);

  /// Drops the keys expired at `now` (not expired subkeys of live keys).
  void drop_expired_keys(double now);

  size_t maxsize_;
  std::unordered_map<dht_id, entry> data_;
  std::set<std::pair<double, dht_id>> by_expiration_; ///< earliest first
};

} // namespace colony::dht
