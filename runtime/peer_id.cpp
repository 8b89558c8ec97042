#include "runtime/peer_id.hpp"

#include "messages/error.hpp"

#include <algorithm>
#include <cstring>

namespace colony {

namespace {

constexpr char base58_alphabet[] =
    "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

// Multihash "identity" (0x00) of 0x24 bytes, then protobuf PublicKey:
// field 1 (Type, varint) = 1 (Ed25519), field 2 (Data, bytes) of length 32.
constexpr std::array<uint8_t, 6> ed25519_id_prefix{0x00, 0x24, 0x08,
                                                   0x01, 0x12, 0x20};

int base58_digit(char c) noexcept {
  const char* pos = std::strchr(base58_alphabet, c);
  return c != '\0' && pos != nullptr ? static_cast<int>(pos - base58_alphabet)
                                     : -1;
}

} // namespace

std::string base58_encode(const uint8_t* data, size_t n) {
  size_t zeros = 0;
  while (zeros < n && data[zeros] == 0)
    ++zeros;
  // Base-58 digits, least significant first; log(256)/log(58) < 1.37.
  std::vector<uint8_t> digits;
  digits.reserve((n - zeros) * 137 / 100 + 1);
  for (size_t i = zeros; i < n; ++i) {
    unsigned carry = data[i];
    for (auto& d : digits) {
      carry += static_cast<unsigned>(d) << 8;
      d = static_cast<uint8_t>(carry % 58);
      carry /= 58;
    }
    while (carry > 0) {
      digits.push_back(static_cast<uint8_t>(carry % 58));
      carry /= 58;
    }
  }
  std::string out(zeros, '1');
  out.reserve(zeros + digits.size());
  for (auto it = digits.rbegin(); it != digits.rend(); ++it)
    out.push_back(base58_alphabet[*it]);
  return out;
}

std::optional<std::vector<uint8_t>> base58_decode(std::string_view text) {
  size_t ones = 0;
  while (ones < text.size() && text[ones] == '1')
    ++ones;
  // Base-256 digits, least significant first.
  std::vector<uint8_t> bytes;
  bytes.reserve(text.size());
  for (size_t i = ones; i < text.size(); ++i) {
    int digit = base58_digit(text[i]);
    if (digit < 0)
      return std::nullopt;
    auto carry = static_cast<unsigned>(digit);
    for (auto& b : bytes) {
      carry += static_cast<unsigned>(b) * 58;
      b = static_cast<uint8_t>(carry & 0xff);
      carry >>= 8;
    }
    while (carry > 0) {
      bytes.push_back(static_cast<uint8_t>(carry & 0xff));
      carry >>= 8;
    }
  }
  std::vector<uint8_t> out(ones, 0);
  out.insert(out.end(), bytes.rbegin(), bytes.rend());
  return out;
}

peer_id peer_id::from_public_key(const ed25519_public_key& key) noexcept {
  peer_id result;
  std::copy(ed25519_id_prefix.begin(), ed25519_id_prefix.end(),
            result.bytes_.begin());
  std::copy(key.begin(), key.end(),
            result.bytes_.begin() + ed25519_id_prefix.size());
  return result;
}

caf::expected<peer_id> peer_id::parse(std::string_view text) {
  auto quoted = "peer id '" + std::string{text} + "'";
  if (text.empty())
    return make_error(errc::invalid_argument, "empty peer id");
  // Bound the input before the quadratic decode.
  if (text.size() != text_size) {
    auto reason = quoted + ": expected " + std::to_string(text_size) +
                  " base58 characters, got " + std::to_string(text.size());
    if (text.substr(0, 2) == "Qm")
      reason += " (a SHA-256 peer id of an RSA key; only Ed25519 ids, "
                "12D3KooW..., are supported)";
    return make_error(errc::invalid_argument, std::move(reason));
  }
  auto bytes = base58_decode(text);
  if (!bytes) {
    auto bad = std::find_if(text.begin(), text.end(),
                            [](char c) { return base58_digit(c) < 0; });
    return make_error(errc::invalid_argument,
                      quoted + ": '" + std::string(1, *bad) +
                          "' is not a base58 character");
  }
  auto result = from_bytes(bytes->data(), bytes->size());
  if (!result)
    return make_error(errc::invalid_argument,
                      quoted + ": not an Ed25519 peer id (12D3KooW...)");
  return result;
}

caf::expected<peer_id> peer_id::from_bytes(const uint8_t* data, size_t n) {
  if (n != size)
    return make_error(errc::invalid_argument,
                      "peer id of " + std::to_string(n) + " bytes, expected " +
                          std::to_string(size));
  if (!std::equal(ed25519_id_prefix.begin(), ed25519_id_prefix.end(), data))
    return make_error(errc::invalid_argument,
                      "peer id is not an identity multihash of an Ed25519 "
                      "public key");
  peer_id result;
  std::copy(data, data + n, result.bytes_.begin());
  return result;
}

std::string peer_id::to_string() const {
  if (is_nil())
    return "nil";
  return base58_encode(bytes_.data(), bytes_.size());
}

std::string peer_id::short_id() const {
  auto text = to_string();
  return text.size() <= short_size ? text
                                   : text.substr(text.size() - short_size);
}

ed25519_public_key peer_id::public_key() const noexcept {
  ed25519_public_key key;
  std::copy(bytes_.begin() + ed25519_id_prefix.size(), bytes_.end(),
            key.begin());
  return key;
}

bool peer_id::is_nil() const noexcept {
  return std::all_of(bytes_.begin(), bytes_.end(),
                     [](uint8_t b) { return b == 0; });
}

} // namespace colony
