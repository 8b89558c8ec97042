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
class record_validator {
 public:
  virtual ~record_validator() = default;

  /// Returns true if `record` may be stored or returned to a caller.
  [[nodiscard]] virtual bool validate(const dht_record& record) const = 0;

  /// Returns the value to store for `record` (e.g. with a signature added).
  [[nodiscard]] virtual std::string
  sign_value(const dht_record& record) const = 0;

  /// Returns the value a reader sees (e.g. without the signature).
  [[nodiscard]] virtual std::string_view
  strip_value(const dht_record& record) const = 0;
};

/// Validators applied in order: a record passes if every validator accepts;
/// signing applies every validator, stripping undoes them in reverse.
class validator_chain {
 public:
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

 private:
  std::shared_ptr<const identity> me_;
};

} // namespace colony::dht
