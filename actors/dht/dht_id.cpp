#include "actors/dht/dht_id.hpp"

#include "messages/error.hpp"
#include "runtime/peer_id.hpp"

#include <boost/uuid/detail/sha1.hpp>
#include <sodium.h>

#include <algorithm>

namespace colony::dht {

namespace {

dht_id sha1_of(const void* data, size_t n) noexcept {
  boost::uuids::detail::sha1 hash;
  hash.process_bytes(data, n);
  // Boost 1.74 hands out the five 32-bit state words as integers; standard
  // SHA-1 output is each word big-endian, word 0 first.
  boost::uuids::detail::sha1::digest_type words;
  hash.get_digest(words);
  dht_id::bytes_type out;
  for (size_t i = 0; i < 5; ++i)
    for (size_t j = 0; j < 4; ++j)
      out[i * 4 + j] = static_cast<uint8_t>(words[i] >> (24 - 8 * j));
  return dht_id{out};
}

// sodium_init is idempotent but picks its RNG implementation on first use;
// a function-local static runs it exactly once, even across threads.
void ensure_sodium() noexcept {
  static const bool ready = sodium_init() >= 0;
  (void)ready;
}

int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

} // namespace

dht_id dht_id::of_key(std::string_view serialized_key) noexcept {
  return sha1_of(serialized_key.data(), serialized_key.size());
}

dht_id dht_id::of_peer(const peer_id& peer) noexcept {
  const auto& b = peer.bytes();
  return sha1_of(b.data(), b.size());
}

dht_id dht_id::random() {
  ensure_sodium();
  bytes_type out;
  randombytes_buf(out.data(), out.size());
  return dht_id{out};
}

dht_id dht_id::random_with_prefix(const dht_id& prefix, size_t depth) {
  depth = std::min(depth, bits);
  auto out = random().bytes_;
  size_t whole = depth / 8;
  std::copy_n(prefix.bytes_.begin(), whole, out.begin());
  if (size_t rest = depth % 8; rest != 0) {
    auto mask = static_cast<uint8_t>(0xFFu << (8 - rest));
    out[whole] = static_cast<uint8_t>((prefix.bytes_[whole] & mask) |
                                      (out[whole] & ~mask));
  }
  return dht_id{out};
}

caf::expected<dht_id> dht_id::from_bytes(const uint8_t* data, size_t n) {
  if (n != size)
    return make_error(errc::invalid_argument,
                      "a DHT id has " + std::to_string(size) + " bytes, not " +
                          std::to_string(n));
  bytes_type out;
  std::copy_n(data, size, out.begin());
  return dht_id{out};
}

caf::expected<dht_id> dht_id::from_hex(std::string_view text) {
  if (text.size() != hex_size)
    return make_error(errc::invalid_argument,
                      "a DHT id has " + std::to_string(hex_size) +
                          " hex digits, not " + std::to_string(text.size()));
  bytes_type out;
  for (size_t i = 0; i < size; ++i) {
    int hi = hex_digit(text[2 * i]);
    int lo = hex_digit(text[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return make_error(errc::invalid_argument,
                        "not a hex digit in DHT id at position " +
                            std::to_string(hi < 0 ? 2 * i : 2 * i + 1));
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return dht_id{out};
}

std::string dht_id::to_hex() const {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(hex_size, '0');
  for (size_t i = 0; i < size; ++i) {
    out[2 * i] = digits[bytes_[i] >> 4];
    out[2 * i + 1] = digits[bytes_[i] & 0x0F];
  }
  return out;
}

dht_id dht_id::prefix(size_t depth) const noexcept {
  depth = std::min(depth, bits);
  dht_id out;
  size_t whole = depth / 8;
  std::copy_n(bytes_.begin(), whole, out.bytes_.begin());
  if (size_t rest = depth % 8; rest != 0)
    out.bytes_[whole] =
        static_cast<uint8_t>(bytes_[whole] & (0xFFu << (8 - rest)));
  return out;
}

bool dht_id::shares_prefix(const dht_id& other, size_t depth) const noexcept {
  return common_prefix_length(other) >= std::min(depth, bits);
}

size_t dht_id::common_prefix_length(const dht_id& other) const noexcept {
  for (size_t i = 0; i < size; ++i) {
    unsigned x = bytes_[i] ^ other.bytes_[i];
    if (x != 0)
      return i * 8 + static_cast<size_t>(__builtin_clz(x)) - 24;
  }
  return bits;
}

bool dht_id::is_zero() const noexcept {
  return std::all_of(bytes_.begin(), bytes_.end(),
                     [](uint8_t b) { return b == 0; });
}

} // namespace colony::dht
