#include "runtime/transport/handshake.hpp"

#include "messages/error.hpp"

#include <sodium.h>

#include <cstring>

namespace colony {

handshake::handshake(const identity& me, std::string swarm_id,
                     uint16_t listen_port, std::optional<peer_id> expected)
    : me_(me), swarm_id_(std::move(swarm_id)), listen_port_(listen_port),
      expected_(std::move(expected)) {
  randombytes_buf(my_nonce_.data(), my_nonce_.size());
}

void handshake::write_hello(wire::Hello::Builder hello) const {
  hello.setProtocolVersion(wire::PROTOCOL_VERSION);
  hello.setSwarmId(swarm_id_);
  auto key = me_.public_key();
  hello.setPublicKey(kj::arrayPtr(key.data(), key.size()));
  hello.setNonce(kj::arrayPtr(my_nonce_.data(), my_nonce_.size()));
  hello.setListenPort(listen_port_);
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
  if (swarm != swarm_id_)
    return make_error(errc::handshake_failed, "swarm id '" + swarm +
                                                  "', this node is in '" +
                                                  swarm_id_ + "'");
  auto key = hello.getPublicKey();
  auto nonce = hello.getNonce();
  if (key.size() != their_key_.size() || nonce.size() != their_nonce_.size())
    return make_error(errc::handshake_failed,
                      "public key or nonce of wrong length");
  std::memcpy(their_key_.data(), key.begin(), key.size());
  std::memcpy(their_nonce_.data(), nonce.begin(), nonce.size());
  auto id = peer_id::from_public_key(their_key_);
  if (expected_ && id != *expected_)
    return make_error(errc::handshake_failed, "peer is " + id.to_string() +
                                                  ", expected " +
                                                  expected_->to_string());
  if (id == me_.peer_id())
    return make_error(errc::handshake_failed, "connected to itself");
  remote_ = std::move(id);
  remote_listen_port_ = hello.getListenPort();
  return caf::none;
}

std::string handshake::signed_bytes(const uint8_t* nonce,
                                    const uint8_t* key) const {
  std::string out(signing_context);
  out.append(reinterpret_cast<const char*>(nonce), 32);
  out.append(reinterpret_cast<const char*>(key), 32);
  out += swarm_id_;
  return out;
}

void handshake::write_proof(wire::Proof::Builder proof) const {
  auto key = me_.public_key();
  auto msg = signed_bytes(their_nonce_.data(), key.data());
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
  auto msg = signed_bytes(my_nonce_.data(), their_key_.data());
  if (!identity::verify(their_key_, msg.data(), msg.size(), signature))
    return make_error(errc::handshake_failed,
                      "bad signature from " + remote_->to_string());
  verified_ = true;
  return caf::none;
}

} // namespace colony
