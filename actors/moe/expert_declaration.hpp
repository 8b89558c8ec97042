#pragma once

#include "actors/moe/expert_record.hpp"

#include <caf/expected.hpp>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace colony::moe {

// How a server announces its experts in the DHT, and how clients read the
// announcements back. For an expert `ffn.1.2.3` hosted by peer P:
//   `ffn.1.2.3`            -> ExpertRecord{ffn.1.2.3, P, address}
//   `ffn.`      subkey `1` -> ExpertRecord{ffn.1.2.3, P, address}
//   `ffn.1.`    subkey `2` -> ExpertRecord{ffn.1.2.3, P, address}
//   `ffn.1.2.`  subkey `3` -> ExpertRecord{ffn.1.2.3, P, address}
// A prefix key is thus a dictionary of its active successors: each subkey is
// a next coordinate, each value one expert (an exemplar) below it. Beam search
// reads these dictionaries level by level. Unlike hivemind, colony declares
// the root prefix (`ffn.`) too, so the first beam takes one lookup and a
// one-dimensional grid needs no special case.

/// One DHT write: `value` under `key` (and `subkey`, if any) until
/// `expiration` (DHT time, seconds since the Unix epoch).
struct dht_store_op {
  /// The key, e.g. `ffn.1.` or `ffn.1.2.3`.
  std::string key;

  /// The subkey of a dictionary value (a coordinate in decimal), or none for
  /// a plain value.
  std::optional<std::string> subkey;

  /// An encoded `wire::ExpertRecord`.
  std::string value;

  /// DHT time at which the value expires.
  double expiration = 0;

  friend bool operator==(const dht_store_op& a, const dht_store_op& b) {
    return a.key == b.key && a.subkey == b.subkey && a.value == b.value &&
           a.expiration == b.expiration;
  }
  friend bool operator!=(const dht_store_op& a, const dht_store_op& b) {
    return !(a == b);
  }
};

/// Returns the DHT writes that declare `uids` as hosted by `peer_id` at
/// `address` (`HOST:PORT`) until `expiration`: per uid, the plain value under
/// the uid, then one subkey per prefix, shortest prefix first. Writes to the
/// same key and subkey appear once: when several uids share a prefix and next
/// coordinate (`ffn.1.2`, `ffn.1.3` both give `ffn.` / `1`), the first of
/// them in `uids` stands for all, since the DHT keeps one value per subkey.
/// Fails with `errc::invalid_argument` on an invalid uid (naming it) or an
/// empty peer id or address.
[[nodiscard]] caf::expected<std::vector<dht_store_op>>
declare_experts_ops(const std::vector<std::string>& uids,
                    const std::string& peer_id, const std::string& address,
                    double expiration);

/// Returns the DHT keys to fetch to find `uids`: the uids themselves.
[[nodiscard]] std::vector<std::string>
get_experts_keys(const std::vector<std::string>& uids);

/// Decodes the plain value found under key `uid`. Fails with
/// `errc::malformed` if it is not a record or names another uid.
[[nodiscard]] caf::expected<expert_info>
decode_expert_value(std::string_view uid, std::string_view value);

/// Decodes the dictionary found under `prefix` (subkey -> value) into its
/// active successors keyed by next coordinate. Skips malformed entries: a
/// subkey that is not a coordinate, a value that is not a record, or a record
/// whose uid does not extend `prefix` by that coordinate. Returns an empty
/// map if `prefix` is not a valid prefix.
[[nodiscard]] std::map<int, expert_info>
decode_prefix_successors(std::string_view prefix,
                         const std::map<std::string, std::string>& subkeys);

/// Returns true if `uid` extends `prefix` by `coordinate`: `ffn.1.2.3` and
/// `ffn.1.2` extend `ffn.1.` by 2, `ffn.1.20` does not.
[[nodiscard]] bool uid_extends(std::string_view uid, std::string_view prefix,
                               int coordinate);

} // namespace colony::moe
