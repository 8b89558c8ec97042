#pragma once

#include "runtime/peer_id.hpp"

#include <caf/expected.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace colony {

/// An Ed25519 signature (64 bytes).
using ed25519_signature = std::array<uint8_t, 64>;

/// The Ed25519 key pair of a node (libsodium); its peer id is derived from
/// the public key.
///
/// The secret key is wiped when an identity is destroyed. Signing and
/// verifying are thread-safe (they only read the keys).
///
/// On disk an identity is libp2p's marshalled private key, 68 bytes:
/// protobuf `PrivateKey {Type = Ed25519, Data = seed || public key}`, i.e.
/// `08 01 12 40 <32-byte seed> <32-byte public key>`, the format go-libp2p
/// and js-libp2p write for Ed25519 keys.
class identity {
 public:
  /// Size of an identity file (bytes).
  static constexpr size_t file_size = 68;

  /// Makes a fresh random identity; fails only if libsodium cannot start.
  [[nodiscard]] static caf::expected<identity> generate();

  /// Loads the identity kept in `path`, or, if no file is there, generates
  /// one and writes it (mode 0600, parent directories created). Creation is
  /// atomic: concurrent callers on one path end with the same identity.
  /// Fails with `errc::io_error` if the file cannot be read or written and
  /// with `errc::bad_config` if it exists but is not a valid identity (short,
  /// corrupt, mismatched keys): such a file is never replaced. An empty
  /// `path` is `errc::invalid_argument`.
  [[nodiscard]] static caf::expected<identity>
  load_or_create(const std::string& path);

  identity(const identity& other) noexcept;
  identity& operator=(const identity& other) noexcept;
  ~identity();

  /// Returns the public key.
  [[nodiscard]] const ed25519_public_key& public_key() const noexcept {
    return public_key_;
  }

  /// Returns the peer id of this identity.
  [[nodiscard]] colony::peer_id peer_id() const noexcept {
    return colony::peer_id::from_public_key(public_key_);
  }

  /// Signs `n` bytes at `data` (detached signature).
  [[nodiscard]] ed25519_signature sign(const void* data,
                                       size_t n) const noexcept;

  /// Returns true if `signature` is a valid signature of the `n` bytes at
  /// `data` by the owner of `key`.
  [[nodiscard]] static bool verify(const ed25519_public_key& key,
                                   const void* data, size_t n,
                                   const ed25519_signature& signature) noexcept;

 private:
  identity() noexcept = default;

  /// Builds the identity of a 32-byte seed; the public key follows from it.
  [[nodiscard]] static identity from_seed(const uint8_t* seed) noexcept;

  ed25519_public_key public_key_{};
  /// libsodium's secret key layout: seed || public key.
  std::array<uint8_t, 64> secret_key_{};
};

} // namespace colony
