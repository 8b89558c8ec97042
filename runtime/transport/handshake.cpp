#include "runtime/transport/handshake.hpp"

#include "messages/error.hpp"

#include <sodium.h>

#include <cstring>

namespace colony {

namespace {

constexpr uint8_t cipher_chacha = 1;
constexpr uint8_t cipher_aes = 2;
constexpr uint8_t flag_plaintext = 1;

std::string yes_no(bool encrypt) {
  return encrypt ? "transport.encryption = true"
                 : "transport.encryption = false";
}

} // namespace

handshake::handshake(const identity& me, handshake_settings settings,
                     uint16_t listen_port, std::optional<peer_id> expected)
    : me_(me), settings_(std::move(settings)), listen_port_(listen_port),
      expected_(std::move(expected)) {
  randombytes_buf(my_nonce_.data(), my_nonce_.size());
  crypto_kx_keypair(my_kx_public_.data(), my_kx_secret_.data());
  my_ciphers_ = cipher_chacha | (cpu_has_fast_aes_gcm() ? cipher_aes : 0);
}

namespace {

handshake_settings settings_of(std::string swarm_id) {
  handshake_settings settings;
  settings.swarm_id = std::move(swarm_id);
  return settings;
}

} // namespace

handshake::handshake(const identity& me, std::string swarm_id,
                     uint16_t listen_port, std::optional<peer_id> expected)
    : handshake(me, settings_of(std::move(swarm_id)), listen_port,
                std::move(expected)) {
  // nop
}

handshake::~handshake() {
  sodium_memzero(my_kx_secret_.data(), my_kx_secret_.size());
  if (session_) {
    sodium_memzero(session_->seal.data(), session_->seal.size());
    sodium_memzero(session_->open.data(), session_->open.size());
  }
}

uint8_t handshake::my_flags() const noexcept {
  return settings_.encrypt ? 0 : flag_plaintext;
}

void handshake::write_hello(wire::Hello::Builder hello) const {
  hello.setProtocolVersion(wire::PROTOCOL_VERSION);
  hello.setSwarmId(settings_.swarm_id);
  auto key = me_.public_key();
  hello.setPublicKey(kj::arrayPtr(key.data(), key.size()));
  hello.setNonce(kj::arrayPtr(my_nonce_.data(), my_nonce_.size()));
  hello.setListenPort(listen_port_);
  hello.setKxPublicKey(
      kj::arrayPtr(my_kx_public_.data(), my_kx_public_.size()));
  hello.setPlaintext(!settings_.encrypt);
  hello.setCiphers(my_ciphers_);
  if (settings_.token) {
    auto t = hello.initAccessToken();
    auto& id = settings_.token->holder.bytes();
    t.setPeerId(kj::arrayPtr(id.data(), id.size()));
    t.setExpiresAt(settings_.token->expires_at);
    auto& sig = settings_.token->signature;
    t.setSignature(kj::arrayPtr(sig.data(), sig.size()));
  }
}

caf::error handshake::check_token(wire::Hello::Reader hello,
                                  const peer_id& id) {
  if (!settings_.authority)
    return caf::none;
  if (!hello.hasAccessToken())
    return make_error(errc::handshake_failed,
                      "peer " + id.to_string() +
                          " presented no access token; this swarm admits "
                          "only peers with a token of its authority " +
                          settings_.authority->short_id());
  auto t = hello.getAccessToken();
  auto holder = t.getPeerId();
  auto sig = t.getSignature();
  access_token token;
  if (sig.size() != token.signature.size())
    return make_error(errc::handshake_failed,
                      "access token signature of wrong length");
  auto parsed = peer_id::from_bytes(holder.begin(), holder.size());
  if (!parsed)
    return make_error(errc::handshake_failed, "access token names no peer: " +
                                                  error_reason(parsed.error()));
  token.holder = *parsed;
  token.expires_at = t.getExpiresAt();
  std::memcpy(token.signature.data(), sig.begin(), sig.size());
  if (auto err = token.verify(*settings_.authority, id, unix_seconds()))
    return err;
  remote_token_expiry_ = token.expires_at;
  return caf::none;
}

caf::error handshake::derive_session() {
  bool they_encrypt = (their_flags_ & flag_plaintext) == 0;
  if (they_encrypt != settings_.encrypt)
    return make_error(errc::handshake_failed,
                      "peer " + remote_->to_string() + " has " +
                          yes_no(they_encrypt) + ", this node has " +
                          yes_no(settings_.encrypt) +
                          "; plain text needs both ends to turn encryption "
                          "off");
  if (!settings_.encrypt)
    return caf::none;
  if ((their_ciphers_ & cipher_chacha) == 0)
    return make_error(errc::handshake_failed,
                      "peer offers no cipher this node speaks");
  session_keys keys;
  keys.suite = (my_ciphers_ & their_ciphers_ & cipher_aes) != 0
                   ? cipher_suite::aes256_gcm
                   : cipher_suite::chacha20_poly1305;
  // crypto_kx needs a client and a server: the smaller key is the client,
  // so both ends agree without knowing who dialed.
  bool client = std::memcmp(my_kx_public_.data(), their_kx_public_.data(),
                            my_kx_public_.size()) < 0;
  int rc = client
               ? crypto_kx_client_session_keys(
                     keys.open.data(), keys.seal.data(), my_kx_public_.data(),
                     my_kx_secret_.data(), their_kx_public_.data())
               : crypto_kx_server_session_keys(
                     keys.open.data(), keys.seal.data(), my_kx_public_.data(),
                     my_kx_secret_.data(), their_kx_public_.data());
  if (rc != 0)
    return make_error(errc::handshake_failed,
                      "unusable key-exchange key from " + remote_->to_string());
  session_ = keys;
  return caf::none;
}

caf::error handshake::read_hello(wire::Hello::Reader hello) {
  if (remote_)
    return make_error(errc::handshake_failed, "second Hello");
  if (hello.getProtocolVersion() != wire::PROTOCOL_VERSION)
    return make_error(
        errc::handshake_failed,
        "protocol version " + std::to_string(hello.getProtocolVersion()) +
            ", this node speaks " + std::to_string(wire::PROTOCOL_VERSION));
  std::string swarm = hello.getSwarmId();
  if (swarm != settings_.swarm_id)
    return make_error(errc::handshake_failed, "swarm id '" + swarm +
                                                  "', this node is in '" +
                                                  settings_.swarm_id + "'");
  auto key = hello.getPublicKey();
  auto nonce = hello.getNonce();
  auto kx = hello.getKxPublicKey();
  if (key.size() != their_key_.size() || nonce.size() != their_nonce_.size() ||
      kx.size() != their_kx_public_.size())
    return make_error(errc::handshake_failed,
                      "public key, nonce or key-exchange key of wrong length");
  std::memcpy(their_key_.data(), key.begin(), key.size());
  std::memcpy(their_nonce_.data(), nonce.begin(), nonce.size());
  std::memcpy(their_kx_public_.data(), kx.begin(), kx.size());
  their_flags_ = hello.getPlaintext() ? flag_plaintext : 0;
  their_ciphers_ = hello.getCiphers();
  auto id = peer_id::from_public_key(their_key_);
  if (expected_ && id != *expected_)
    return make_error(errc::handshake_failed, "peer is " + id.to_string() +
                                                  ", expected " +
                                                  expected_->to_string());
  if (id == me_.peer_id())
    return make_error(errc::handshake_failed, "connected to itself");
  if (auto err = check_token(hello, id))
    return err;
  remote_ = std::move(id);
  remote_listen_port_ = hello.getListenPort();
  if (auto err = derive_session()) {
    remote_.reset();
    return err;
  }
  return caf::none;
}

std::string handshake::signed_bytes(const uint8_t* nonce, const uint8_t* key,
                                    const uint8_t* kx_key, uint8_t flags,
                                    uint8_t ciphers) const {
  std::string out(signing_context);
  out.append(reinterpret_cast<const char*>(nonce), 32);
  out.append(reinterpret_cast<const char*>(key), 32);
  // Length-prefixed: the fields after it cannot be shifted into it.
  out.push_back(static_cast<char>(settings_.swarm_id.size() & 0xff));
  out.push_back(static_cast<char>((settings_.swarm_id.size() >> 8) & 0xff));
  out += settings_.swarm_id;
  out.append(reinterpret_cast<const char*>(kx_key), 32);
  out.push_back(static_cast<char>(flags));
  out.push_back(static_cast<char>(ciphers));
  return out;
}

void handshake::write_proof(wire::Proof::Builder proof) const {
  auto key = me_.public_key();
  auto msg = signed_bytes(their_nonce_.data(), key.data(), my_kx_public_.data(),
                          my_flags(), my_ciphers_);
  auto sig = me_.sign(msg.data(), msg.size());
  proof.setSignature(kj::arrayPtr(sig.data(), sig.size()));
}

caf::error handshake::read_proof(wire::Proof::Reader proof) {
  if (!remote_)
    return make_error(errc::handshake_failed, "Proof before Hello");
  if (verified_)
    return make_error(errc::handshake_failed, "second Proof");
  auto sig = proof.getSignature();
  std::array<uint8_t, 64> signature{};
  if (sig.size() != signature.size())
    return make_error(errc::handshake_failed, "signature of wrong length");
  std::memcpy(signature.data(), sig.begin(), sig.size());
  auto msg =
      signed_bytes(my_nonce_.data(), their_key_.data(), their_kx_public_.data(),
                   their_flags_, their_ciphers_);
  if (!identity::verify(their_key_, msg.data(), msg.size(), signature))
    return make_error(errc::handshake_failed,
                      "bad signature from " + remote_->to_string());
  verified_ = true;
  return caf::none;
}

} // namespace colony
