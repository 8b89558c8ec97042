#pragma once

#include "messages/wire.capnp.h"
#include "runtime/identity.hpp"
#include "runtime/peer_id.hpp"

#include <caf/error.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>

namespace colony {

/// One side of colony's connection handshake. Pure logic, no I/O: both sides
/// send a Hello (version, swarm id, public key, fresh nonce), then a Proof
/// signing the other side's nonce. The connection is usable once our proof
/// is sent and theirs verified.
class handshake {
 public:
  /// Domain separation for the signed bytes.
  static constexpr char signing_context[] = "colony-handshake-v1";

  /// `expected` is the peer id the dialer was told to reach, if any.
  handshake(const identity& me, std::string swarm_id, uint16_t listen_port,
            std::optional<peer_id> expected);

  /// Fills our Hello.
  void write_hello(wire::Hello::Builder hello) const;

  /// Checks the other side's Hello; on success remembers its key and nonce.
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

 private:
  std::string signed_bytes(const uint8_t* nonce, const uint8_t* key) const;

  const identity& me_;
  std::string swarm_id_;
  uint16_t listen_port_;
  std::optional<peer_id> expected_;
  std::array<uint8_t, 32> my_nonce_{};
  std::array<uint8_t, 32> their_nonce_{};
  std::array<uint8_t, 32> their_key_{};
  std::optional<peer_id> remote_;
  uint16_t remote_listen_port_ = 0;
  bool verified_ = false;
};

} // namespace colony
