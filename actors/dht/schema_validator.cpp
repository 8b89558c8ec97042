#include "actors/dht/schema_validator.hpp"

#include "runtime/peer_id.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>

namespace colony::dht {

namespace {

/// Whether `text` is well-formed UTF-8 (no overlong forms, no surrogates,
/// nothing above U+10FFFF).
bool is_utf8(std::string_view text) {
  size_t i = 0;
  auto byte = [&](size_t k) {
    return static_cast<uint8_t>(text[k]);
  };
  auto continuation = [&](size_t k) {
    return k < text.size() && (byte(k) & 0xC0) == 0x80;
  };
  while (i < text.size()) {
    auto b = byte(i);
    if (b < 0x80) {
      ++i;
    } else if (b >= 0xC2 && b <= 0xDF) {
      if (!continuation(i + 1))
        return false;
      i += 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
      if (!continuation(i + 1) || !continuation(i + 2))
        return false;
      auto b1 = byte(i + 1);
      if ((b == 0xE0 && b1 < 0xA0) || (b == 0xED && b1 > 0x9F))
        return false; // overlong, or a surrogate
      i += 3;
    } else if (b >= 0xF0 && b <= 0xF4) {
      if (!continuation(i + 1) || !continuation(i + 2) || !continuation(i + 3))
        return false;
      auto b1 = byte(i + 1);
      if ((b == 0xF0 && b1 < 0x90) || (b == 0xF4 && b1 > 0x8F))
        return false; // overlong, or above U+10FFFF
      i += 4;
    } else {
      return false;
    }
  }
  return true;
}

/// Only a peer id's canonical text: one peer, one subkey.
bool is_peer_id(std::string_view text) {
  auto id = peer_id::parse(text);
  return id && id->to_string() == text;
}

bool fits_kind(byte_kind kind, std::string_view bytes) {
  switch (kind) {
  case byte_kind::any:
    return true;
  case byte_kind::utf8:
    return is_utf8(bytes);
  case byte_kind::peer_id:
    return is_peer_id(bytes);
  case byte_kind::owner_marker:
    return signed_record_validator::owner_in(bytes).has_value();
  }
  return false;
}

/// How specific `schema` is for a key it names: exact beats any prefix, a
/// longer prefix beats a shorter one.
size_t specificity(const record_schema& schema) {
  return schema.match == key_match::exact ? std::numeric_limits<size_t>::max()
                                          : schema.key.size();
}

bool same_slot(const record_schema& a, const record_schema& b) {
  return a.key == b.key && a.match == b.match && a.name == b.name;
}

} // namespace

// -- byte_schema --------------------------------------------------------------

byte_schema byte_schema::any(size_t max_bytes) {
  return byte_schema{byte_kind::any, max_bytes, {}};
}

byte_schema byte_schema::utf8(size_t max_bytes) {
  return byte_schema{byte_kind::utf8, max_bytes, {}};
}

byte_schema byte_schema::peer_id_text() {
  return byte_schema{byte_kind::peer_id, no_byte_bound, {}};
}

byte_schema byte_schema::owner_marker() {
  return byte_schema{byte_kind::owner_marker, no_byte_bound, {}};
}

byte_schema byte_schema::checked(std::function<bool(std::string_view)> check,
                                 size_t max_bytes) {
  return byte_schema{byte_kind::any, max_bytes, std::move(check)};
}

bool byte_schema::fits(std::string_view bytes) const {
  // The bound first: a custom check never sees what the bound refuses.
  return bytes.size() <= max_bytes && fits_kind(kind, bytes) &&
         (!check || check(bytes));
}

// -- record_schema ------------------------------------------------------------

bool record_schema::names(std::string_view k) const {
  if (match == key_match::exact)
    return k == key;
  return k.substr(0, key.size()) == key;
}

bool record_schema::fits(const dht_record& record) const {
  switch (subkey) {
  case subkey_rule::required:
    if (!record.has_subkey)
      return false;
    break;
  case subkey_rule::forbidden:
    if (record.has_subkey)
      return false;
    break;
  case subkey_rule::optional:
    break;
  }
  if (record.has_subkey && !subkey_form.fits(record.subkey))
    return false;
  return value.fits(record.value);
}

// -- schema_validator ---------------------------------------------------------

schema_validator::schema_validator(std::vector<record_schema> schemas,
                                   bool allow_extra_keys)
    : allow_extra_keys_(allow_extra_keys) {
  for (auto& s : schemas) {
    auto same = std::find_if(schemas_.begin(), schemas_.end(),
                             [&](const auto& x) { return same_slot(x, s); });
    if (same != schemas_.end())
      *same = std::move(s);
    else
      schemas_.push_back(std::move(s));
  }
}

bool schema_validator::validate(const dht_record& record) const {
  // Few schemas per node (one per run or prefix): a scan is cheap enough.
  const record_schema* best = nullptr;
  for (auto& s : schemas_)
    if (s.names(record.key) && (!best || specificity(s) > specificity(*best)))
      best = &s;
  if (!best)
    return allow_extra_keys_;
  auto top = specificity(*best);
  for (auto& s : schemas_)
    if (s.names(record.key) && specificity(s) == top && s.fits(record))
      return true;
  return false;
}

std::string schema_validator::sign_value(const dht_record& record) const {
  return std::string{record.value};
}

std::string_view schema_validator::strip_value(const dht_record& record) const {
  return record.value;
}

std::shared_ptr<const record_validator>
schema_validator::merged_with(const record_validator& other) const {
  auto* that = dynamic_cast<const schema_validator*>(&other);
  if (!that)
    return nullptr;
  auto schemas = schemas_;
  schemas.insert(schemas.end(), that->schemas_.begin(), that->schemas_.end());
  return std::make_shared<schema_validator>(
      std::move(schemas), allow_extra_keys_ || that->allow_extra_keys_);
}

} // namespace colony::dht
