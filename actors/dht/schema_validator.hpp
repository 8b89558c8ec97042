#pragma once

// Schema validation of DHT records (hivemind's SchemaValidator): a key, or
// every key with a given prefix, declares the form of its records: whether
// they have a subkey and what the subkey looks like, and what the value
// must be. Records that do not fit are refused on store and ignored when
// found; records under keys no schema names pass (unless the validator
// refuses extra keys). Pure: no actor inside.
//
// Installing a schema: its owner (e.g. the progress tracker of a run) sends
// the dht_node `add_validator_atom` with a schema_validator at run time, as
// hivemind's `DHT.add_validators`. A schema belongs to what a node runs (a
// run id, an averaging prefix), which dht_options cannot know at spawn time
// and the DHT layer may not name (actors/dht includes nothing above it).
// Every node running the same part runs the same schema, so each of them
// refuses what does not fit; a node running none of it stores such records
// as opaque bytes, and the nodes with the schema still ignore them on read.
//
// In a validator_chain a schema validator sits below signed_record_validator
// (priority 0 < signature_priority): it judges the payload the signature
// covers, after the signature was checked and stripped.

#include "actors/dht/record_validator.hpp"

#include <cstddef>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace colony::dht {

/// No bound on a byte string's size (beyond the DHT's frame bound).
constexpr size_t no_byte_bound = std::numeric_limits<size_t>::max();

/// Built-in forms of a byte string (a subkey or a value).
enum class byte_kind {
  any,          ///< any bytes
  utf8,         ///< valid UTF-8 text
  peer_id,      ///< the text of a peer id (`peer_id::parse` takes it)
  owner_marker, ///< exactly one owner marker with a valid peer id
                ///< (`signed_record_validator::owner_in`): a signed record
};

/// The form of a subkey or a value: a built-in kind, a size bound and an
/// optional custom check (e.g. "decodes as this Cap'n Proto struct with
/// its fields in bounds"). Bytes fit if all three accept them; the check
/// sees only bytes within the bound.
struct byte_schema {
  byte_kind kind = byte_kind::any;
  size_t max_bytes = no_byte_bound;
  /// Must be thread-safe and must not throw; empty: no check.
  std::function<bool(std::string_view)> check;

  /// Any bytes, at most `max_bytes`.
  [[nodiscard]] static byte_schema any(size_t max_bytes = no_byte_bound);
  /// Valid UTF-8, at most `max_bytes`.
  [[nodiscard]] static byte_schema utf8(size_t max_bytes = no_byte_bound);
  /// A peer id's text.
  [[nodiscard]] static byte_schema peer_id_text();
  /// One owner marker (the record must then be signed by that owner).
  [[nodiscard]] static byte_schema owner_marker();
  /// Bytes, at most `max_bytes`, that `check` accepts.
  [[nodiscard]] static byte_schema
  checked(std::function<bool(std::string_view)> check,
          size_t max_bytes = no_byte_bound);

  [[nodiscard]] bool fits(std::string_view bytes) const;
};

/// Whether the records under a key have a subkey (dictionary values).
enum class subkey_rule {
  optional,  ///< plain values and subkeys alike
  required,  ///< dictionary values only
  forbidden, ///< plain values only
};

/// How a schema names its keys.
enum class key_match {
  exact,  ///< the key itself
  prefix, ///< every key starting with it
};

/// The schema of the records stored under one key or key prefix.
struct record_schema {
  /// What the records are ("training progress"); a schema registered again
  /// under the same key, match and name replaces the earlier one.
  std::string name;
  std::string key;
  key_match match = key_match::exact;
  subkey_rule subkey = subkey_rule::optional;
  /// The form of a subkey, when the record has one.
  byte_schema subkey_form;
  byte_schema value;

  /// Whether this schema names `key`.
  [[nodiscard]] bool names(std::string_view key) const;

  /// Whether `record` (whose key this schema names) fits: subkey presence,
  /// subkey form and value.
  [[nodiscard]] bool fits(const dht_record& record) const;
};

/// A record_validator holding record schemas. Of the schemas that name a
/// record's key, the most specific decide (the exact key, else the longest
/// prefix); the record passes if one of those fits it (schemas of one key
/// registered by different parts widen each other, as hivemind's merged
/// schemas do). Signs and strips nothing. Immutable, so thread-safe.
class schema_validator final : public record_validator {
 public:
  /// `allow_extra_keys` false refuses records under keys no schema names
  /// (hivemind's strict mode); the default lets them pass.
  explicit schema_validator(std::vector<record_schema> schemas,
                            bool allow_extra_keys = true);

  [[nodiscard]] const std::vector<record_schema>& schemas() const noexcept {
    return schemas_;
  }
  [[nodiscard]] bool allows_extra_keys() const noexcept {
    return allow_extra_keys_;
  }

  [[nodiscard]] bool validate(const dht_record& record) const override;
  [[nodiscard]] std::string sign_value(const dht_record& record) const override;
  [[nodiscard]] std::string_view
  strip_value(const dht_record& record) const override;

  /// Merges with another schema_validator: the schemas of both (a schema
  /// of `other` replaces one of the same key, match and name), allowing
  /// extra keys if either did, so that a part that lets unknown keys pass
  /// is not made to refuse them by another's strict schema.
  [[nodiscard]] std::shared_ptr<const record_validator>
  merged_with(const record_validator& other) const override;

 private:
  std::vector<record_schema> schemas_;
  bool allow_extra_keys_;
};

} // namespace colony::dht
