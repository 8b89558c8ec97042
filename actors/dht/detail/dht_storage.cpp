#include "actors/dht/detail/dht_storage.hpp"

namespace colony::dht {

namespace {

/// Drops the subkeys of a dictionary expired at `now`.
void drop_expired_subkeys(dht_value& v, double now) {
  for (auto it = v.subkeys.begin(); it != v.subkeys.end();) {
    if (it->second.expiration < now)
      it = v.subkeys.erase(it);
    else
      ++it;
  }
}

} // namespace

bool dht_storage::store(const dht_id& key, std::string value, double expiration,
                        double now,
                        std::optional<std::string_view> serialized_key) {
  // Also refuses NaN, which would corrupt the expiration order.
  if (!(expiration >= now))
    return false;
  auto* e = live(key, now);
  if (e == nullptr)
    return insert(key, dht_value{std::move(value), {}, expiration},
                  serialized_key);
  if (e->value.expiration >= expiration)
    return false;
  set_expiration(key, *e, expiration);
  e->value.plain = std::move(value);
  e->value.subkeys.clear();
  remember(*e, serialized_key);
  return true;
}

bool dht_storage::store_subkey(const dht_id& key, std::string subkey,
                               std::string value, double expiration, double now,
                               std::optional<std::string_view> serialized_key) {
  // Also refuses NaN, which would corrupt the expiration order.
  if (!(expiration >= now))
    return false;
  auto* e = live(key, now);
  if (e == nullptr) {
    dht_value dict;
    dict.subkeys.emplace(std::move(subkey),
                         value_with_expiration{std::move(value), expiration});
    dict.expiration = expiration;
    return insert(key, std::move(dict), serialized_key);
  }
  auto& v = e->value;
  if (!v.is_dictionary()) {
    // A dictionary replaces a plain value only as a newer value would.
    if (expiration <= v.expiration)
      return false;
    v.plain.reset();
    v.subkeys.emplace(std::move(subkey),
                      value_with_expiration{std::move(value), expiration});
    set_expiration(key, *e, expiration);
    remember(*e, serialized_key);
    return true;
  }
  auto it = v.subkeys.find(subkey);
  if (it != v.subkeys.end()) {
    if (it->second.expiration >= expiration)
      return false;
    it->second = value_with_expiration{std::move(value), expiration};
  } else {
    v.subkeys.emplace(std::move(subkey),
                      value_with_expiration{std::move(value), expiration});
  }
  if (expiration > v.expiration)
    set_expiration(key, *e, expiration);
  remember(*e, serialized_key);
  return true;
}

std::optional<dht_value> dht_storage::get(const dht_id& key, double now) {
  if (auto* e = live(key, now))
    return e->value;
  return std::nullopt;
}

std::vector<std::pair<dht_id, dht_value>> dht_storage::items(double now) {
  drop_expired_keys(now);
  std::vector<std::pair<dht_id, dht_value>> out;
  out.reserve(data_.size());
  for (auto& [key, e] : data_) {
    drop_expired_subkeys(e.value, now);
    out.emplace_back(key, e.value);
  }
  return out;
}

std::vector<stored_record> dht_storage::records_of(const dht_id& key,
                                                   double now) {
  std::vector<stored_record> out;
  auto* e = live(key, now);
  if (e == nullptr)
    return out;
  auto serialized = e->serialized_key.value_or(std::string{});
  if (!e->value.is_dictionary()) {
    out.push_back(stored_record{std::move(serialized),
                                {},
                                false,
                                *e->value.plain,
                                e->value.expiration});
    return out;
  }
  out.reserve(e->value.subkeys.size());
  for (const auto& [subkey, v] : e->value.subkeys)
    out.push_back(
        stored_record{serialized, subkey, true, v.value, v.expiration});
  return out;
}

bool dht_storage::erase(const dht_id& key) {
  auto it = data_.find(key);
  if (it == data_.end())
    return false;
  by_expiration_.erase({it->second.value.expiration, key});
  data_.erase(it);
  return true;
}

void dht_storage::remove_expired(double now) {
  drop_expired_keys(now);
  for (auto& [key, e] : data_)
    drop_expired_subkeys(e.value, now);
}

size_t dht_storage::size(double now) {
  drop_expired_keys(now);
  return data_.size();
}

dht_storage::entry* dht_storage::live(const dht_id& key, double now) {
  auto it = data_.find(key);
  if (it == data_.end())
    return nullptr;
  auto& e = it->second;
  if (e.value.expiration < now) {
    by_expiration_.erase({e.value.expiration, key});
    data_.erase(it);
    return nullptr;
  }
  drop_expired_subkeys(e.value, now);
  return &e;
}

bool dht_storage::insert(const dht_id& key, dht_value value,
                         std::optional<std::string_view> serialized_key) {
  by_expiration_.emplace(value.expiration, key);
  auto& e = data_[key];
  e.value = std::move(value);
  remember(e, serialized_key);
  if (maxsize_ == 0)
    return true;
  while (data_.size() > maxsize_) {
    auto first = by_expiration_.begin();
    data_.erase(first->second);
    by_expiration_.erase(first);
  }
  return data_.count(key) != 0;
}

void dht_storage::set_expiration(const dht_id& key, entry& e,
                                 double expiration) {
  by_expiration_.erase({e.value.expiration, key});
  by_expiration_.emplace(expiration, key);
  e.value.expiration = expiration;
}

void dht_storage::remember(entry& e,
                           std::optional<std::string_view> serialized_key) {
  if (serialized_key && !e.serialized_key)
    e.serialized_key.emplace(*serialized_key);
}

void dht_storage::drop_expired_keys(double now) {
  while (!by_expiration_.empty() && by_expiration_.begin()->first < now) {
    data_.erase(by_expiration_.begin()->second);
    by_expiration_.erase(by_expiration_.begin());
  }
}

} // namespace colony::dht
