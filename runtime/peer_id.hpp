#pragma once

#include <caf/expected.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace colony {

/// An Ed25519 public key (32 bytes, as libsodium and libp2p store it).
using ed25519_public_key = std::array<uint8_t, 32>;

/// Encodes `n` bytes at `data` in base58btc (Bitcoin's alphabet), the
/// encoding libp2p uses for peer ids. Each leading zero byte becomes '1'.
[[nodiscard]] std::string base58_encode(const uint8_t* data, size_t n);

/// Decodes base58btc text; returns nullopt if `text` has a character outside
/// the alphabet. Quadratic in the length: callers bound the input first.
[[nodiscard]] std::optional<std::vector<uint8_t>>
base58_decode(std::string_view text);

/// The identity of a peer, derived from its Ed25519 public key exactly as
/// libp2p derives it, so ids read like hivemind's (`12D3KooW...`).
///
/// The bytes are an identity multihash (code 0x00, length 0x24) of the
/// protobuf `PublicKey {Type = Ed25519, Data = key}`:
/// `00 24 08 01 12 20 <32 key bytes>`. Since the key is inside the id, a
/// peer id alone suffices to check a handshake signature.
///
/// A default-constructed peer id is nil (all bytes zero); it renders as
/// "nil" and never equals the id of a key.
class peer_id {
 public:
  /// Length of the binary form (bytes).
  static constexpr size_t size = 38;

  /// Length of the text form (base58 characters) of every Ed25519 peer id.
  static constexpr size_t text_size = 52;

  /// Characters of the text form shown by `short_id`.
  static constexpr size_t short_size = 6;

  /// The binary form: multihash header, protobuf header, key.
  using bytes_type = std::array<uint8_t, size>;

  /// Makes the nil peer id.
  peer_id() noexcept = default;

  /// Returns the peer id of `key`.
  [[nodiscard]] static peer_id
  from_public_key(const ed25519_public_key& key) noexcept;

  /// Parses the base58 text form; fails with `errc::invalid_argument` naming
  /// the problem (bad character, wrong length, not an Ed25519 id).
  [[nodiscard]] static caf::expected<peer_id> parse(std::string_view text);

  /// Validates and adopts the binary form (e.g. from a wire message); fails
  /// with `errc::invalid_argument` unless it is an Ed25519 identity multihash.
  [[nodiscard]] static caf::expected<peer_id> from_bytes(const uint8_t* data,
                                                         size_t n);

  /// Returns the base58 text form, or "nil" for the nil id.
  [[nodiscard]] std::string to_string() const;

  /// Returns the last `short_size` characters of the text form, the tag of
  /// this peer in every log line.
  [[nodiscard]] std::string short_id() const;

  /// Returns the public key inside the id (all zeros for the nil id).
  [[nodiscard]] ed25519_public_key public_key() const noexcept;

  /// Returns the binary form.
  [[nodiscard]] const bytes_type& bytes() const noexcept { return bytes_; }

  /// Returns true for the default-constructed id.
  [[nodiscard]] bool is_nil() const noexcept;

  friend bool operator==(const peer_id& a, const peer_id& b) noexcept {
    return a.bytes_ == b.bytes_;
  }
  friend bool operator!=(const peer_id& a, const peer_id& b) noexcept {
    return a.bytes_ != b.bytes_;
  }
  friend bool operator<(const peer_id& a, const peer_id& b) noexcept {
    return a.bytes_ < b.bytes_;
  }
  friend bool operator>(const peer_id& a, const peer_id& b) noexcept {
    return b < a;
  }
  friend bool operator<=(const peer_id& a, const peer_id& b) noexcept {
    return !(b < a);
  }
  friend bool operator>=(const peer_id& a, const peer_id& b) noexcept {
    return !(a < b);
  }

 private:
  bytes_type bytes_{};
};

} // namespace colony

/// Hashes a peer id by its key bytes (uniformly random, so any 8 will do).
template <>
struct std::hash<colony::peer_id> {
  size_t operator()(const colony::peer_id& id) const noexcept {
    const auto& b = id.bytes();
    return std::hash<std::string_view>{}(
        std::string_view{reinterpret_cast<const char*>(b.data()), b.size()});
  }
};
