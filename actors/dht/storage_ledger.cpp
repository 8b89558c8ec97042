#include "actors/dht/storage_ledger.hpp"

namespace colony::dht {

void storage_ledger::add(const record_ref& ref, const std::string& owner,
                         double expiration) {
  remove(ref);
  records_.emplace(ref, info{owner, expiration});
  by_expiration_.emplace(expiration, ref);
  auto& mine = by_owner_[owner];
  owners_by_count_.erase({mine.size(), owner});
  mine.emplace(expiration, ref);
  owners_by_count_.emplace(mine.size(), owner);
}

bool storage_ledger::remove(const record_ref& ref) {
  auto it = records_.find(ref);
  if (it == records_.end())
    return false;
  auto& [owner, expiration] = it->second;
  by_expiration_.erase({expiration, ref});
  auto mine = by_owner_.find(owner);
  owners_by_count_.erase({mine->second.size(), owner});
  mine->second.erase({expiration, ref});
  if (mine->second.empty())
    by_owner_.erase(mine);
  else
    owners_by_count_.emplace(mine->second.size(), owner);
  records_.erase(it);
  return true;
}

size_t storage_ledger::count_of(const std::string& owner) const {
  auto it = by_owner_.find(owner);
  return it == by_owner_.end() ? 0 : it->second.size();
}

const std::string* storage_ledger::owner_of(const record_ref& ref) const {
  auto it = records_.find(ref);
  return it == records_.end() ? nullptr : &it->second.owner;
}

std::optional<std::pair<double, record_ref>> storage_ledger::earliest() const {
  if (by_expiration_.empty())
    return std::nullopt;
  return *by_expiration_.begin();
}

std::optional<record_ref> storage_ledger::eviction_victim() const {
  if (owners_by_count_.empty())
    return std::nullopt;
  const auto& owner = owners_by_count_.rbegin()->second;
  return by_owner_.at(owner).begin()->second;
}

} // namespace colony::dht
