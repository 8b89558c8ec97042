#pragma once

#include <caf/expected.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>

namespace colony {
class peer_id;
} // namespace colony

namespace colony::dht {

/// A 160-bit Kademlia id: of a key (SHA-1 of its serialized bytes) or of a
/// node (SHA-1 of its peer id bytes).
///
/// The bytes are a big-endian unsigned integer: byte 0 is the most
/// significant, so comparing ids compares the integers and the XOR
/// `distance` of two ids orders like hivemind's `DHTID.xor_distance`.
/// Bit `i` (see `bit`) counts from the most significant bit, which is the
/// bit a k-bucket at depth `i` splits on. A default-constructed id is zero.
class dht_id {
 public:
  /// Length of the binary form (bytes).
  static constexpr size_t size = 20;

  /// Number of bits, the deepest a k-bucket can go.
  static constexpr size_t bits = size * 8;

  /// Length of the hex form (characters).
  static constexpr size_t hex_size = size * 2;

  /// The binary form, most significant byte first.
  using bytes_type = std::array<uint8_t, size>;

  /// Makes the zero id.
  constexpr dht_id() noexcept = default;

  /// Adopts `bytes` as the big-endian binary form.
  explicit constexpr dht_id(const bytes_type& bytes) noexcept : bytes_(bytes) {}

  /// Returns the id of a key: SHA-1 of its serialized bytes.
  [[nodiscard]] static dht_id of_key(std::string_view serialized_key) noexcept;

  /// Returns the id of a node: SHA-1 of the binary form of its peer id.
  [[nodiscard]] static dht_id of_peer(const peer_id& peer) noexcept;

  /// Returns a uniformly random id (libsodium's CSPRNG).
  [[nodiscard]] static dht_id random();

  /// Returns a uniformly random id whose first `depth` bits equal those of
  /// `prefix`, i.e. a random id in the k-bucket [prefix, prefix + 2^(160 -
  /// depth)). Used to pick the target of a bucket refresh.
  [[nodiscard]] static dht_id random_with_prefix(const dht_id& prefix,
                                                 size_t depth);

  /// Adopts a binary form (e.g. from a wire message); fails with
  /// `errc::invalid_argument` unless `n == size`.
  [[nodiscard]] static caf::expected<dht_id> from_bytes(const uint8_t* data,
                                                        size_t n);

  /// Parses the hex form (`hex_size` characters, either case); fails with
  /// `errc::invalid_argument` on a wrong length or a non-hex character.
  [[nodiscard]] static caf::expected<dht_id> from_hex(std::string_view text);

  /// Returns the hex form: `hex_size` lowercase characters.
  [[nodiscard]] std::string to_hex() const;

  /// Returns the binary form.
  [[nodiscard]] constexpr const bytes_type& bytes() const noexcept {
    return bytes_;
  }

  /// Returns bit `index` (0 = most significant, < `bits`).
  [[nodiscard]] constexpr bool bit(size_t index) const noexcept {
    return (bytes_[index / 8] >> (7 - index % 8)) & 1u;
  }

  /// Returns a copy with bit `index` (0 = most significant) set to `value`.
  /// With `index` = a bucket's depth, `with_bit(depth, true)` of its lower
  /// bound is the bucket's midpoint, where it splits.
  [[nodiscard]] constexpr dht_id with_bit(size_t index,
                                          bool value) const noexcept {
    dht_id out = *this;
    auto mask = static_cast<uint8_t>(0x80u >> (index % 8));
    if (value)
      out.bytes_[index / 8] |= mask;
    else
      out.bytes_[index / 8] &= static_cast<uint8_t>(~mask);
    return out;
  }

  /// Returns a copy keeping the first `depth` bits and clearing the rest:
  /// the lower bound of the depth-`depth` bucket holding this id.
  [[nodiscard]] dht_id prefix(size_t depth) const noexcept;

  /// Returns true if the first `depth` bits of this id and `other` agree,
  /// i.e. both lie in the same bucket of depth `depth`.
  [[nodiscard]] bool shares_prefix(const dht_id& other,
                                   size_t depth) const noexcept;

  /// Returns the number of leading bits this id and `other` share (`bits`
  /// for equal ids): the depth of the deepest bucket holding both.
  [[nodiscard]] size_t common_prefix_length(const dht_id& other) const noexcept;

  /// Returns true for the zero id.
  [[nodiscard]] bool is_zero() const noexcept;

  friend constexpr dht_id distance(const dht_id& a, const dht_id& b) noexcept {
    dht_id out;
    for (size_t i = 0; i < size; ++i)
      out.bytes_[i] = static_cast<uint8_t>(a.bytes_[i] ^ b.bytes_[i]);
    return out;
  }

  friend bool operator==(const dht_id& a, const dht_id& b) noexcept {
    return std::memcmp(a.bytes_.data(), b.bytes_.data(), size) == 0;
  }
  friend bool operator!=(const dht_id& a, const dht_id& b) noexcept {
    return !(a == b);
  }
  friend bool operator<(const dht_id& a, const dht_id& b) noexcept {
    return std::memcmp(a.bytes_.data(), b.bytes_.data(), size) < 0;
  }
  friend bool operator>(const dht_id& a, const dht_id& b) noexcept {
    return b < a;
  }
  friend bool operator<=(const dht_id& a, const dht_id& b) noexcept {
    return !(b < a);
  }
  friend bool operator>=(const dht_id& a, const dht_id& b) noexcept {
    return !(a < b);
  }

 private:
  bytes_type bytes_{};
};

/// Returns the XOR distance of `a` and `b` as an id; ids compare as
/// big-endian unsigned integers, so `distance(a, x) < distance(b, x)` means
/// `a` is nearer to `x` than `b` is.
constexpr dht_id distance(const dht_id& a, const dht_id& b) noexcept;

} // namespace colony::dht

/// Hashes a dht id by its first 8 bytes (SHA-1 output: uniformly random).
template <>
struct std::hash<colony::dht::dht_id> {
  size_t operator()(const colony::dht::dht_id& id) const noexcept {
    uint64_t h;
    std::memcpy(&h, id.bytes().data(), sizeof(h));
    return static_cast<size_t>(h);
  }
};
