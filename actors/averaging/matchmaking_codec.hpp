#pragma once

// Matchmaking messages on the wire (the Matchmaking section of
// messages/averaging.capnp) and the DHT declaration value. Pure: encode,
// decode and bound what other peers send, no actors.

#include "actors/averaging/group_info.hpp"
#include "actors/averaging/group_key.hpp"
#include "actors/averaging/matchmaking.hpp"
#include "messages/envelope.hpp"

#include <caf/expected.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace colony::averaging {

// -- bounds on what a decoder accepts ------------------------------------

/// Gathered bytes of one member (bytes): a step gathers a few numbers, not
/// tensors.
constexpr size_t max_gathered_bytes = size_t{1} << 20;

/// A schema hash (bytes): a digest.
constexpr size_t max_schema_hash_bytes = 64;

/// An address `HOST:PORT` (bytes).
constexpr size_t max_address_bytes = 256;

/// A group key `{prefix}.0b{bits}` (bytes).
constexpr size_t max_group_key_bytes = max_prefix_size + 3 + max_group_bits;

/// A DHT declaration value (bytes).
constexpr size_t max_declaration_bytes = 1024;

// -- messages ----------------------------------------------------------------

/// What an averager's matchmaking serves (`wire::MatchmakingRequest`).
struct matchmaking_request {
  enum class kind_type : uint8_t {
    join,        ///< `join` asks the callee to lead
    await_group, ///< the caller waits for its group's `leader_message`
    leave,       ///< the caller no longer follows the callee
  };
  kind_type kind = kind_type::join;
  /// With `join`; its peer id is the authenticated caller.
  join_request join;
  /// With `await_group` and `leave`.
  std::string group_key;
};

/// A leader's word to an accepted follower (`wire::LeaderMessage`).
struct leader_message {
  enum class kind_type : uint8_t { begin_all_reduce, disbanded };
  kind_type kind = kind_type::begin_all_reduce;
  /// With `begin_all_reduce`.
  group_info group;
  /// With `disbanded`: the leader to ask instead, if any.
  std::optional<peer_contact> suggested_leader;
};

/// The DHT value of a peer declared under a group key.
struct group_declaration {
  /// False once withdrawn.
  bool looking = true;
  /// Where the peer listens.
  std::string address;
};

/// Encodes `request` as a `join` (its peer id is left out: the callee's
/// transport knows the caller).
[[nodiscard]] envelope encode_join_request(const join_request& request);

/// Encodes an `awaitGroup` for the group under `group_key`.
[[nodiscard]] envelope encode_await_group(std::string_view group_key);

/// Encodes a `leave` of the group under `group_key`.
[[nodiscard]] envelope encode_leave(std::string_view group_key);

/// Decodes a matchmaking request of `caller`. Errors: errc::malformed
/// (undecodable bytes), errc::too_large (a field over its bound above),
/// errc::invalid_argument (an unknown kind or mode, a non-finite
/// expiration, a negative or infinite bandwidth, a node without address).
[[nodiscard]] caf::expected<matchmaking_request>
decode_matchmaking_request(const envelope& message, const peer_id& caller);

[[nodiscard]] envelope encode_join_response(const join_response& response);

/// Errors: errc::malformed, errc::too_large, errc::invalid_argument (an
/// unknown reason, a bad suggested leader).
[[nodiscard]] caf::expected<join_response>
decode_join_response(const envelope& message);

[[nodiscard]] envelope encode_leader_message(const leader_message& message);

/// Errors: errc::malformed, errc::too_large (too many members, gathered
/// bytes over the bound), errc::invalid_argument (a group id not of 16
/// bytes, no members, a member twice, a bad peer id, an unknown mode, a
/// bad bandwidth, a member that reduces without address).
[[nodiscard]] caf::expected<leader_message>
decode_leader_message(const envelope& message);

/// The reply to a `leave`.
[[nodiscard]] envelope encode_matchmaking_ack();

/// Encodes `declaration` as the bytes stored in the DHT.
[[nodiscard]] std::string
encode_group_declaration(const group_declaration& declaration);

/// Decodes a DHT value made by `encode_group_declaration`. Errors:
/// errc::malformed (not a declaration, over `max_declaration_bytes`),
/// errc::too_large (an address over its bound), errc::invalid_argument (a
/// looking peer without address).
[[nodiscard]] caf::expected<group_declaration>
decode_group_declaration(std::string_view bytes);

} // namespace colony::averaging
