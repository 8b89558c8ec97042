#include "actors/dht/detail/dht_storage.hpp"

#include <algorithm>
#include <limits>

namespace colony::dht {

namespace {

record_ref plain_record_ref(const dht_id& key) {
  return record_ref{key, std::nullopt};
}

record_ref subkey_record_ref(const dht_id& key, const std::string& subkey) {
  return record_ref{key, subkey};
}

} // namespace

const char* to_string(store_outcome outcome) noexcept {
  switch (outcome) {
  case store_outcome::stored:
    return "stored";
  case store_outcome::expired:
    return "expired";
  case store_outcome::not_newer:
    return "not_newer";
  case store_outcome::over_share:
    return "over_share";
  case store_outcome::no_room:
    return "storage_full";
  }
  return "unknown";
}

store_result dht_storage::store(const dht_id& key, std::string value,
                                double expiration, double now,
                                std::optional<std::string_view> serialized_key,
                                const std::string& owner) {
  // Also refuses NaN, which would corrupt the expiration order.
  if (!(expiration >= now))
    return {store_outcome::expired};
  drop_expired(now);
  auto ref = plain_record_ref(key);
  auto it = data_.find(key);
  if (it != data_.end() && it->second.value.expiration >= expiration)
    return {store_outcome::not_newer};
  if (over_share(owner, ref))
    return {store_outcome::over_share};
  if (it == data_.end()) {
    it = data_.emplace(key, entry{}).first;
  } else {
    forget_records(key, it->second);
    it->second.value.subkeys.clear();
  }
  auto& e = it->second;
  e.value.plain = std::move(value);
  e.value.expiration = expiration;
  remember(e, serialized_key);
  ledger_.add(ref, owner, expiration);
  return enforce_bound(ref);
}

store_result
dht_storage::store_subkey(const dht_id& key, std::string subkey,
                          std::string value, double expiration, double now,
                          std::optional<std::string_view> serialized_key,
                          const std::string& owner) {
  // Also refuses NaN, which would corrupt the expiration order.
  if (!(expiration >= now))
    return {store_outcome::expired};
  drop_expired(now);
  auto ref = subkey_record_ref(key, subkey);
  auto it = data_.find(key);
  if (it != data_.end()) {
    auto& v = it->second.value;
    // A dictionary replaces a plain value only as a newer value would.
    if (!v.is_dictionary() && expiration <= v.expiration)
      return {store_outcome::not_newer};
    if (v.is_dictionary()) {
      auto held = v.subkeys.find(subkey);
      if (held != v.subkeys.end() && held->second.expiration >= expiration)
        return {store_outcome::not_newer};
    }
  }
  if (over_share(owner, ref))
    return {store_outcome::over_share};
  if (it == data_.end()) {
    it = data_.emplace(key, entry{}).first;
    it->second.value.plain.reset();
  } else if (!it->second.value.is_dictionary()) {
    forget_records(key, it->second);
    it->second.value.plain.reset();
    it->second.value.expiration = 0;
  }
  auto& e = it->second;
  e.value.subkeys[subkey] = value_with_expiration{std::move(value), expiration};
  e.value.expiration = std::max(e.value.expiration, expiration);
  remember(e, serialized_key);
  ledger_.add(ref, owner, expiration);
  return enforce_bound(ref);
}

std::optional<dht_value> dht_storage::get(const dht_id& key, double now) {
  drop_expired(now);
  auto it = data_.find(key);
  if (it == data_.end())
    return std::nullopt;
  return it->second.value;
}

std::vector<std::pair<dht_id, dht_value>> dht_storage::items(double now) {
  drop_expired(now);
  std::vector<std::pair<dht_id, dht_value>> out;
  out.reserve(data_.size());
  for (auto& [key, e] : data_)
    out.emplace_back(key, e.value);
  return out;
}

std::vector<stored_record> dht_storage::records_of(const dht_id& key,
                                                   double now) {
  std::vector<stored_record> out;
  drop_expired(now);
  auto it = data_.find(key);
  if (it == data_.end())
    return out;
  auto& e = it->second;
  auto serialized = e.serialized_key.value_or(std::string{});
  if (!e.value.is_dictionary()) {
    out.push_back(stored_record{
        std::move(serialized), {}, false, *e.value.plain, e.value.expiration});
    return out;
  }
  out.reserve(e.value.subkeys.size());
  for (const auto& [subkey, v] : e.value.subkeys)
    out.push_back(
        stored_record{serialized, subkey, true, v.value, v.expiration});
  return out;
}

bool dht_storage::erase(const dht_id& key) {
  auto it = data_.find(key);
  if (it == data_.end())
    return false;
  forget_records(key, it->second);
  data_.erase(it);
  return true;
}

void dht_storage::remove_expired(double now) {
  drop_expired(now);
}

size_t dht_storage::size(double now) {
  drop_expired(now);
  return data_.size();
}

size_t dht_storage::record_count(double now) {
  drop_expired(now);
  return ledger_.size();
}

size_t dht_storage::record_count_of(const std::string& owner, double now) {
  drop_expired(now);
  return ledger_.count_of(owner);
}

size_t dht_storage::share_limit() const noexcept {
  if (maxsize_ == 0)
    return std::numeric_limits<size_t>::max();
  if (!(max_share_ < 1.0))
    return maxsize_;
  auto limit = static_cast<size_t>(static_cast<double>(maxsize_) *
                                   std::max(max_share_, 0.0));
  return std::max<size_t>(limit, 1);
}

bool dht_storage::over_share(const std::string& owner,
                             const record_ref& ref) const {
  if (owner.empty() || maxsize_ == 0)
    return false;
  if (const auto* held_by = ledger_.owner_of(ref); held_by && *held_by == owner)
    return false; // a replacement: the owner holds no more than before
  return ledger_.count_of(owner) + 1 > share_limit();
}

store_result dht_storage::enforce_bound(const record_ref& ref) {
  if (maxsize_ != 0)
    while (ledger_.size() > maxsize_)
      remove_record(*ledger_.eviction_victim());
  if (ledger_.owner_of(ref) == nullptr)
    return {store_outcome::no_room};
  return {store_outcome::stored};
}

void dht_storage::remove_record(const record_ref& ref) {
  ledger_.remove(ref);
  auto it = data_.find(ref.key);
  if (it == data_.end())
    return;
  auto& v = it->second.value;
  if (!ref.subkey) {
    if (!v.is_dictionary())
      data_.erase(it);
    return;
  }
  if (!v.is_dictionary())
    return;
  v.subkeys.erase(*ref.subkey);
  if (v.subkeys.empty()) {
    data_.erase(it);
    return;
  }
  double latest = 0;
  for (auto& [subkey, sv] : v.subkeys)
    latest = std::max(latest, sv.expiration);
  v.expiration = latest;
}

void dht_storage::forget_records(const dht_id& key, const entry& e) {
  if (!e.value.is_dictionary()) {
    ledger_.remove(plain_record_ref(key));
    return;
  }
  for (auto& [subkey, sv] : e.value.subkeys)
    ledger_.remove(subkey_record_ref(key, subkey));
}

void dht_storage::remember(entry& e,
                           std::optional<std::string_view> serialized_key) {
  if (serialized_key && !e.serialized_key)
    e.serialized_key.emplace(*serialized_key);
}

void dht_storage::drop_expired(double now) {
  for (auto first = ledger_.earliest(); first && first->first < now;
       first = ledger_.earliest())
    remove_record(first->second);
}

} // namespace colony::dht
