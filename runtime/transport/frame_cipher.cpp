#include "runtime/transport/frame_cipher.hpp"

#include "messages/error.hpp"

#include <openssl/evp.h>

#include <climits>
#include <cstring>

namespace colony {

namespace {

constexpr size_t nonce_bytes = 12;

const EVP_CIPHER* evp_cipher(cipher_suite suite) {
  return suite == cipher_suite::aes256_gcm ? EVP_aes_256_gcm()
                                           : EVP_chacha20_poly1305();
}

EVP_CIPHER_CTX* evp(void* ctx) {
  return static_cast<EVP_CIPHER_CTX*>(ctx);
}

} // namespace

std::string to_string(cipher_suite suite) {
  return suite == cipher_suite::aes256_gcm ? "aes256-gcm" : "chacha20-poly1305";
}

bool cpu_has_fast_aes_gcm() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  return __builtin_cpu_supports("aes") && __builtin_cpu_supports("pclmul");
#else
  return false;
#endif
}

void frame_cipher::context_deleter::operator()(void* ctx) const noexcept {
  EVP_CIPHER_CTX_free(evp(ctx));
}

frame_cipher::frame_cipher(cipher_suite suite, direction dir,
                           void* ctx) noexcept
    : suite_(suite), dir_(dir), ctx_(ctx) {
  // nop
}

frame_cipher::frame_cipher(frame_cipher&&) noexcept = default;
frame_cipher& frame_cipher::operator=(frame_cipher&&) noexcept = default;
frame_cipher::~frame_cipher() = default;

caf::expected<frame_cipher>
frame_cipher::make(cipher_suite suite, const session_key& key, direction dir) {
  if (suite != cipher_suite::aes256_gcm &&
      suite != cipher_suite::chacha20_poly1305)
    return make_error(errc::invalid_argument, "unknown cipher suite");
  auto* ctx = EVP_CIPHER_CTX_new();
  if (ctx == nullptr)
    return make_error(errc::io_error, "cannot allocate a cipher context");
  frame_cipher result{suite, dir, ctx};
  // The key schedule runs once here; each frame only sets its nonce.
  int ok = dir == direction::seal
               ? EVP_EncryptInit_ex(ctx, evp_cipher(suite), nullptr, nullptr,
                                    nullptr)
               : EVP_DecryptInit_ex(ctx, evp_cipher(suite), nullptr, nullptr,
                                    nullptr);
  ok = ok &&
       EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, nonce_bytes, nullptr);
  ok = ok &&
       (dir == direction::seal
            ? EVP_EncryptInit_ex(ctx, nullptr, nullptr, key.data(), nullptr)
            : EVP_DecryptInit_ex(ctx, nullptr, nullptr, key.data(), nullptr));
  if (!ok)
    return make_error(errc::io_error,
                      "cannot set up " + to_string(suite) + " in OpenSSL");
  return result;
}

void frame_cipher::next_nonce(uint8_t* nonce) {
  // Little-endian frame counter in the first 8 bytes, zeros after.
  std::memset(nonce, 0, nonce_bytes);
  auto x = counter_++;
  for (size_t i = 0; i < 8; ++i)
    nonce[i] = static_cast<uint8_t>(x >> (8 * i));
}

caf::error frame_cipher::seal(uint8_t* data, size_t n, const uint8_t* aad,
                              size_t aad_n, uint8_t* tag) {
  if (dir_ != direction::seal)
    return make_error(errc::invalid_argument, "cipher opens, cannot seal");
  if (n > INT_MAX || aad_n > INT_MAX)
    return make_error(errc::too_large, "frame too large to seal");
  if (counter_ == UINT64_MAX)
    return make_error(errc::io_error, "nonces exhausted; reconnect");
  uint8_t nonce[nonce_bytes];
  next_nonce(nonce);
  auto* ctx = evp(ctx_.get());
  int len = 0;
  int ok = EVP_EncryptInit_ex(ctx, nullptr, nullptr, nullptr, nonce);
  if (ok && aad_n > 0)
    ok = EVP_EncryptUpdate(ctx, nullptr, &len, aad, static_cast<int>(aad_n));
  if (ok && n > 0)
    ok = EVP_EncryptUpdate(ctx, data, &len, data, static_cast<int>(n));
  ok = ok && EVP_EncryptFinal_ex(ctx, data + n, &len);
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, tag_bytes, tag);
  if (!ok)
    return make_error(errc::io_error, "sealing a frame failed");
  return caf::none;
}

caf::error frame_cipher::open(uint8_t* data, size_t n, const uint8_t* aad,
                              size_t aad_n, const uint8_t* tag) {
  if (dir_ != direction::open)
    return make_error(errc::invalid_argument, "cipher seals, cannot open");
  if (n > INT_MAX || aad_n > INT_MAX)
    return make_error(errc::too_large, "frame too large to open");
  if (counter_ == UINT64_MAX)
    return make_error(errc::malformed, "nonces exhausted");
  uint8_t nonce[nonce_bytes];
  next_nonce(nonce);
  auto* ctx = evp(ctx_.get());
  int len = 0;
  uint8_t tag_copy[tag_bytes];
  std::memcpy(tag_copy, tag, tag_bytes);
  int ok = EVP_DecryptInit_ex(ctx, nullptr, nullptr, nullptr, nonce);
  if (ok && aad_n > 0)
    ok = EVP_DecryptUpdate(ctx, nullptr, &len, aad, static_cast<int>(aad_n));
  if (ok && n > 0)
    ok = EVP_DecryptUpdate(ctx, data, &len, data, static_cast<int>(n));
  ok = ok &&
       EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, tag_bytes, tag_copy);
  if (!ok)
    return make_error(errc::io_error, "opening a frame failed");
  if (EVP_DecryptFinal_ex(ctx, data + n, &len) <= 0)
    return make_error(errc::malformed,
                      "frame " + std::to_string(counter_ - 1) +
                          " failed authentication (changed, dropped, "
                          "replayed or reordered bytes)");
  return caf::none;
}

} // namespace colony
