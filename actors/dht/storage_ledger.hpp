#pragma once

#include "actors/dht/dht_id.hpp"

#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>

namespace colony::dht {

/// Where one record lives in storage: a key, and the subkey for an entry of
/// a dictionary value.
struct record_ref {
  dht_id key;
  std::optional<std::string> subkey;

  friend bool operator<(const record_ref& a, const record_ref& b) noexcept {
    if (a.key != b.key)
      return a.key < b.key;
    return a.subkey < b.subkey;
  }
  friend bool operator==(const record_ref& a, const record_ref& b) noexcept {
    return a.key == b.key && a.subkey == b.subkey;
  }
};

/// Who stored each record of a storage and until when: the accounting
/// behind storage bounds and per-peer shares. An owner is the authenticated
/// peer id of the connection the store came on; the empty owner is the node
/// itself.
///
/// Pure bookkeeping, no policy: the storage decides what to admit and asks
/// which record to evict. No locking (one owner).
class storage_ledger {
 public:
  /// Records `ref` as stored by `owner` until `expiration`, replacing what
  /// the ledger held for `ref`.
  void add(const record_ref& ref, const std::string& owner, double expiration);

  /// Forgets `ref`; returns whether it was held.
  bool remove(const record_ref& ref);

  /// Returns the number of records held.
  [[nodiscard]] size_t size() const noexcept { return records_.size(); }

  /// Returns the number of records `owner` holds.
  [[nodiscard]] size_t count_of(const std::string& owner) const;

  /// Returns the owner of `ref`, or nullptr if it is not held.
  [[nodiscard]] const std::string* owner_of(const record_ref& ref) const;

  /// Returns the record expiring first, with its expiration.
  [[nodiscard]] std::optional<std::pair<double, record_ref>> earliest() const;

  /// Returns the record to evict when storage is full: the earliest to
  /// expire of the owner holding the most records (of owners holding
  /// equally many, the greatest id: a fixed choice).
  [[nodiscard]] std::optional<record_ref> eviction_victim() const;

 private:
  struct info {
    std::string owner;
    double expiration = 0;
  };
  using by_time = std::set<std::pair<double, record_ref>>;

  std::map<record_ref, info> records_;
  by_time by_expiration_;
  std::map<std::string, by_time> by_owner_;
  /// (records held, owner), to find the owner holding the most.
  std::set<std::pair<size_t, std::string>> owners_by_count_;
};

} // namespace colony::dht
