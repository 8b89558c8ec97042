#include "actors/dht/record_validator.hpp"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <optional>

namespace colony::dht {

namespace {

constexpr std::string_view owner_prefix = "[owner:";
constexpr std::string_view signature_prefix = "[signature:";

/// Peer ids named by owner markers in `text`.
std::vector<std::string_view> owners_in(std::string_view text) {
  std::vector<std::string_view> result;
  size_t pos = 0;
  while ((pos = text.find(owner_prefix, pos)) != std::string_view::npos) {
    auto start = pos + owner_prefix.size();
    auto end = text.find(']', start);
    if (end == std::string_view::npos)
      break;
    result.push_back(text.substr(start, end - start));
    pos = end + 1;
  }
  return result;
}

/// The bytes an owner signs: length-prefixed fields, so no two different
/// records share them.
std::string signed_bytes(const dht_record& r, std::string_view payload) {
  std::string out;
  auto field = [&](std::string_view x) {
    auto n = static_cast<uint64_t>(x.size());
    out.append(reinterpret_cast<const char*>(&n), sizeof(n));
    out.append(x);
  };
  field(r.key);
  field(r.has_subkey ? r.subkey : std::string_view{});
  out.push_back(r.has_subkey ? 1 : 0);
  field(payload);
  out.append(reinterpret_cast<const char*>(&r.expiration),
             sizeof(r.expiration));
  return out;
}

/// Splits "payload[signature:SIG]" into payload and SIG.
std::optional<std::pair<std::string_view, std::string_view>>
split_signature(std::string_view value) {
  if (value.empty() || value.back() != ']')
    return std::nullopt;
  auto pos = value.rfind(signature_prefix);
  if (pos == std::string_view::npos)
    return std::nullopt;
  auto sig = value.substr(pos + signature_prefix.size());
  sig.remove_suffix(1);
  return std::make_pair(value.substr(0, pos), sig);
}

std::vector<std::string_view> owners_of(const dht_record& r) {
  auto owners = owners_in(r.key);
  if (r.has_subkey) {
    auto more = owners_in(r.subkey);
    owners.insert(owners.end(), more.begin(), more.end());
  }
  return owners;
}

} // namespace

void validator_chain::add(std::shared_ptr<const record_validator> validator) {
  if (!validator)
    return;
  for (auto& present : chain_)
    if (auto merged = present->merged_with(*validator)) {
      present = std::move(merged);
      return;
    }
  // Kept sorted by priority; equal priorities stay in the order added.
  auto pos =
      std::upper_bound(chain_.begin(), chain_.end(), validator->priority(),
                       [](int p, const auto& v) { return p < v->priority(); });
  chain_.insert(pos, std::move(validator));
}

bool validator_chain::validate(const dht_record& record) const {
  // Outermost layer first: each validator judges what it signed, and the
  // next one down sees the value without that layer.
  dht_record layer = record;
  std::string value;
  for (auto i = chain_.rbegin(); i != chain_.rend(); ++i) {
    if (!(*i)->validate(layer))
      return false;
    if (std::next(i) != chain_.rend()) {
      value = std::string{(*i)->strip_value(layer)};
      layer.value = value;
    }
  }
  return true;
}

std::string validator_chain::sign_value(dht_record record) const {
  std::string value{record.value};
  for (auto& v : chain_) {
    record.value = value;
    value = v->sign_value(record);
  }
  return value;
}

std::string validator_chain::strip_value(dht_record record) const {
  std::string value{record.value};
  for (auto i = chain_.rbegin(); i != chain_.rend(); ++i) {
    record.value = value;
    value = std::string{(*i)->strip_value(record)};
  }
  return value;
}

signed_record_validator::signed_record_validator(
    std::shared_ptr<const identity> me)
    : me_(std::move(me)) {
  // nop
}

std::string signed_record_validator::owner_marker(const peer_id& id) {
  return std::string{owner_prefix} + id.to_string() + "]";
}

std::optional<peer_id>
signed_record_validator::owner_in(std::string_view text) {
  auto owners = owners_in(text);
  if (owners.size() != 1)
    return std::nullopt;
  auto owner = peer_id::parse(owners.front());
  if (!owner)
    return std::nullopt;
  return *owner;
}

bool signed_record_validator::validate(const dht_record& record) const {
  auto owners = owners_of(record);
  if (owners.empty())
    return true;
  if (owners.size() > 1)
    return false; // one record, one owner
  auto owner = peer_id::parse(owners.front());
  if (!owner)
    return false;
  auto parts = split_signature(record.value);
  if (!parts)
    return false;
  auto sig = base58_decode(parts->second);
  ed25519_signature signature{};
  if (!sig || sig->size() != signature.size())
    return false;
  std::memcpy(signature.data(), sig->data(), signature.size());
  auto msg = signed_bytes(record, parts->first);
  return identity::verify(owner->public_key(), msg.data(), msg.size(),
                          signature);
}

std::string
signed_record_validator::sign_value(const dht_record& record) const {
  auto owners = owners_of(record);
  if (owners.size() != 1 || !me_ ||
      owners.front() != me_->peer_id().to_string())
    return std::string{record.value};
  auto msg = signed_bytes(record, record.value);
  auto sig = me_->sign(msg.data(), msg.size());
  return std::string{record.value} + std::string{signature_prefix} +
         base58_encode(sig.data(), sig.size()) + "]";
}

std::string_view
signed_record_validator::strip_value(const dht_record& record) const {
  if (owners_of(record).empty())
    return record.value;
  auto parts = split_signature(record.value);
  return parts ? parts->first : record.value;
}

} // namespace colony::dht
