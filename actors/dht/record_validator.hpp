#pragma once

#include "runtime/identity.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace colony::dht {

/// A record as validators see it: what a store would write.
struct dht_record {
  std::string_view key;    ///< serialized key
  std::string_view subkey; ///< serialized subkey (empty if none)
  bool has_subkey = false;
  std::string_view value; ///< value as stored (with any signature)
  double expiration = 0;  ///< DHT time, seconds
};

/// Decides whether a record may be stored, and prepares records for storing.
/// Validators form a chain (`validator_chain`); every node of a swarm runs
/// the same chain, so a record refused by one is refused by all.
/// Implementations are immutable once built: a chain may share them.
class record_validator {
 public:
  virtual ~record_validator() = default;

  /// Returns true if `record` may be stored or returned to a caller. In a
  /// chain, `record.value` is the value with the layers of every validator
  /// of higher priority stripped: what this validator's `sign_value` made.
  [[nodiscard]] virtual bool validate(const dht_record& record) const = 0;

  /// Returns the value to store for `record` (e.g. with a signature added).
  [[nodiscard]] virtual std::string
  sign_value(const dht_record& record) const = 0;

  /// Returns the value a reader sees (e.g. without the signature).
  [[nodiscard]] virtual std::string_view
  strip_value(const dht_record& record) const = 0;

  /// Where this validator sits in a chain. A higher priority is an outer
  /// layer of the stored value: it signs last, and validates and strips
  /// first, so lower ones see the value without its layer.
  [[nodiscard]] virtual int priority() const noexcept { return 0; }

  /// One validator doing the work of this one and `other`, or nullptr if
  /// the two do not merge. A chain merges what it can, so that e.g. two
  /// schemas, one of which refuses keys it does not know, judge together.
  [[nodiscard]] virtual std::shared_ptr<const record_validator>
  merged_with(const record_validator& other) const {
    (void)other;
    return nullptr;
  }
};

/// Validators layered by priority (hivemind's CompositeValidator): signing
/// applies them from the lowest priority up; validating and stripping go
/// from the highest down, each validator seeing the value with the higher
/// layers already stripped. A record passes if every validator accepts.
/// Example: a schema (priority 0) under signatures (signature_priority)
/// judges the payload, not the payload plus signature.
class validator_chain {
 public:
  /// Merges `validator` into a validator of the chain that takes it (see
  /// `record_validator::merged_with`), else inserts it after those of its
  /// priority.
  void add(std::shared_ptr<const record_validator> validator);

  [[nodiscard]] bool validate(const dht_record& record) const;
  [[nodiscard]] std::string sign_value(dht_record record) const;
  [[nodiscard]] std::string strip_value(dht_record record) const;

 private:
  std::vector<std::shared_ptr<const record_validator>> chain_;
};

/// Signed records: a key or subkey containing `[owner:PEER_ID]` may only be
/// written with a value that ends in `[signature:SIG]`, where SIG (base58)
/// is the Ed25519 signature of PEER_ID's key over the key, subkey, value and
/// expiration. Records without an owner marker pass untouched. A forger
/// cannot overwrite an owner's record, also after the owner has left.
class signed_record_validator : public record_validator {
 public:
  /// Signatures are the outermost layer: they cover what every other
  /// validator of a chain made of the value.
  static constexpr int signature_priority = 100;

  /// `me` signs records whose marker names this node's peer id.
  explicit signed_record_validator(std::shared_ptr<const identity> me);

  /// Returns the marker that makes a key or subkey owned by `id`.
  [[nodiscard]] static std::string owner_marker(const peer_id& id);

  /// The owner `text` (a key or subkey) names, if it holds exactly one
  /// owner marker with a valid peer id.
  [[nodiscard]] static std::optional<peer_id> owner_in(std::string_view text);

  [[nodiscard]] bool validate(const dht_record& record) const override;
  [[nodiscard]] std::string sign_value(const dht_record& record) const override;
  [[nodiscard]] std::string_view
  strip_value(const dht_record& record) const override;
  [[nodiscard]] int priority() const noexcept override {
    return signature_priority;
  }

 private:
  std::shared_ptr<const identity> me_;
};

} // namespace colony::dht
