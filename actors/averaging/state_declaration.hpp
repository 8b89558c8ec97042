#pragma once

// How a state-sharing averager shows itself in the DHT, and how a
// downloader reads the peers to ask. Pure: the DHT value
// (`wire::StateDeclaration`), its bounds, and the order in which the
// declared peers are asked.
//
// A sharing peer stores its declaration under `{prefix}.all_averagers`,
// subkey = its peer id, expiring `declaration_lifetime(period)` after it
// is stored, and stores it again every period. Readers ignore subkeys that
// are not peer ids and values that do not decode.

#include "actors/averaging/group_info.hpp"
#include "actors/dht/dht_messages.hpp"

#include <caf/expected.hpp>

#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace colony::averaging {

/// The DHT value of a peer under `{prefix}.all_averagers`.
struct state_declaration {
  /// False once withdrawn.
  bool sharing = true;
  /// Where the peer serves its state (`HOST:PORT`).
  std::string address;
  /// Download priority: higher is asked first. Finite.
  double priority = 0;
};

/// A peer a downloader may ask for the state.
struct state_source {
  peer_contact peer;
  double priority = 0;
};

/// The DHT key under which the averagers of `prefix` that share their
/// state declare themselves.
[[nodiscard]] std::string state_declaration_key(const std::string& prefix);

/// How long a declaration stored now lives: two declaration periods, so
/// that one late re-declaration does not hide the peer.
[[nodiscard]] std::chrono::milliseconds
declaration_lifetime(std::chrono::milliseconds declare_state_period) noexcept;

/// `priority` as a declaration can carry it: NaN becomes 0 and infinities
/// the largest finite values of their sign.
[[nodiscard]] double declarable_priority(double priority) noexcept;

/// Encodes `declaration` as a DHT value. The priority travels as
/// `declarable_priority` makes it.
[[nodiscard]] std::string
encode_state_declaration(const state_declaration& declaration);

/// Decodes a DHT value, with the bounds of a group declaration
/// (`max_declaration_bytes`, `max_address_bytes` in matchmaking_codec.hpp).
/// Errors: malformed (undecodable bytes, a value above the bound, a
/// non-finite priority), too_large (an address above the bound),
/// invalid_argument (a sharing peer without an address).
[[nodiscard]] caf::expected<state_declaration>
decode_state_declaration(std::string_view bytes);

/// The peers declared in `found` (the result of a lookup of
/// `state_declaration_key`) that share their state, `self` left out, in the
/// order a downloader asks them: highest priority first, peers of equal
/// priority in an order drawn from `rng`. Subkeys that are not peer ids and
/// values that do not decode are skipped.
[[nodiscard]] std::vector<state_source>
sharing_peers(const dht::get_result& found, const peer_id& self,
              std::mt19937_64& rng);

} // namespace colony::averaging
