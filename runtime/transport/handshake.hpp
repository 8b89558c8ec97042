#pragma once

#include "messages/wire.capnp.h"
#include "runtime/access_token.hpp"
#include "runtime/identity.hpp"
#include "runtime/peer_id.hpp"
#include "runtime/transport/frame_cipher.hpp"

#include <caf/error.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace colony {

/// What a node asks of every connection's handshake.
struct handshake_settings {
  /// Peers with another swarm id are refused.
  std::string swarm_id = "colony";
  /// Seal the stream after the handshake; plain text only if both ends
  /// turned it off (a mismatch is refused).
  bool encrypt = true;
  /// The swarm authority: when set, every peer must present a valid token
  /// it signed for that peer.
  std::optional<peer_id> authority;
  /// Our own token, presented to every peer (needed when the swarm has an
  /// authority).
  std::optional<access_token> token;
};

/// The keys both ends derived for a sealed stream.
struct session_keys {
  cipher_suite suite = cipher_suite::chacha20_poly1305;
  session_key seal{}; ///< our direction
  session_key open{}; ///< theirs
};

/// One side of colony's connection handshake. Pure logic, no I/O: both sides
/// send a Hello (version, swarm id, public key, fresh nonce, an X25519 key
/// made for this connection, cipher wishes, access token), then a Proof
/// signing the other side's nonce and their own Hello's key-exchange fields.
/// Largest frame read before the handshake completes (bytes). Hello and
/// Proof take a few hundred bytes with a token; a peer that has proven
/// nothing cannot make a node hold more than this per connection.
constexpr size_t handshake_max_frame_bytes = size_t{64} << 10;

/// The connection is usable once our proof is sent and theirs verified;
/// unless both asked for plain text, everything after the proofs is sealed
/// with `session()`'s keys.
class handshake {
 public:
  /// Domain separation for the signed bytes.
  static constexpr char signing_context[] = "colony-handshake-v2";

  /// `expected` is the peer id the dialer was told to reach, if any.
  handshake(const identity& me, handshake_settings settings,
            uint16_t listen_port, std::optional<peer_id> expected);

  /// An encrypting handshake in swarm `swarm_id` without an authority.
  handshake(const identity& me, std::string swarm_id, uint16_t listen_port,
            std::optional<peer_id> expected);

  ~handshake();

  /// Fills our Hello.
  void write_hello(wire::Hello::Builder hello) const;

  /// Checks the other side's Hello; on success remembers its key and nonce
  /// and derives the session keys.
  [[nodiscard]] caf::error read_hello(wire::Hello::Reader hello);

  /// Fills our Proof; requires a successful `read_hello`.
  void write_proof(wire::Proof::Builder proof) const;

  /// Verifies the other side's Proof.
  [[nodiscard]] caf::error read_proof(wire::Proof::Reader proof);

  [[nodiscard]] bool hello_received() const noexcept {
    return remote_.has_value();
  }
  [[nodiscard]] bool complete() const noexcept { return verified_; }

  /// The other side's id; valid after `read_hello`.
  [[nodiscard]] const peer_id& remote() const { return *remote_; }

  /// Port the other side listens on (0: none); valid after `read_hello`.
  [[nodiscard]] uint16_t remote_listen_port() const noexcept {
    return remote_listen_port_;
  }

  /// The sealed stream's keys after `read_hello`; empty when both ends
  /// chose plain text.
  [[nodiscard]] const std::optional<session_keys>& session() const noexcept {
    return session_;
  }

  /// Expiry (unix seconds) of the token the other side presented, when the
  /// swarm has an authority; the connection must close by then.
  [[nodiscard]] std::optional<int64_t> remote_token_expiry() const noexcept {
    return remote_token_expiry_;
  }

 private:
  std::string signed_bytes(const uint8_t* nonce, const uint8_t* key,
                           const uint8_t* kx_key, uint8_t flags,
                           uint8_t ciphers) const;
  uint8_t my_flags() const noexcept;
  caf::error check_token(wire::Hello::Reader hello, const peer_id& id);
  caf::error derive_session();

  const identity& me_;
  handshake_settings settings_;
  uint16_t listen_port_;
  std::optional<peer_id> expected_;
  uint8_t my_ciphers_ = 0;
  std::array<uint8_t, 32> my_nonce_{};
  std::array<uint8_t, 32> my_kx_public_{};
  std::array<uint8_t, 32> my_kx_secret_{};
  std::array<uint8_t, 32> their_nonce_{};
  std::array<uint8_t, 32> their_key_{};
  std::array<uint8_t, 32> their_kx_public_{};
  uint8_t their_flags_ = 0;
  uint8_t their_ciphers_ = 0;
  std::optional<peer_id> remote_;
  uint16_t remote_listen_port_ = 0;
  std::optional<session_keys> session_;
  std::optional<int64_t> remote_token_expiry_;
  bool verified_ = false;
};

} // namespace colony
