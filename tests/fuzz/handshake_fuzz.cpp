// Fuzz target: the connection handshake. Input: byte 0 holds flags (what
// the dialer expects of the peer), the rest is the peer's side of a new
// connection as a raw stream (its Hello, its Proof, ...). Each frame goes
// through frame_reader and into a `handshake` the way the transport's
// `on_handshake_frame` does, until the connection would be closed or is
// established.
//
// Extending it: new Hello/Proof fields (key exchange, tokens) need nothing
// here. The seeds are written by a second `handshake` (write_hello,
// write_proof), so they carry every field the code writes, and mutation
// works on the whole frames, so it reaches every field the code reads. A
// new handshake frame or step gets a case in `on_frame`; a new result of a
// complete handshake (session keys) gets its check next to `remote()`'s.
//
// libsodium's RNG is replaced by a deterministic one: the local nonce is the
// same for every input, so a seed can carry a valid Proof of it and mutation
// starts past the signature check.

#include "fuzz_rng.hpp"
#include "fuzz_target.hpp"

#include "messages/error.hpp"
#include "messages/wire.capnp.h"
#include "runtime/access_token.hpp"
#include "runtime/identity.hpp"
#include "runtime/transport/frame_reader.hpp"
#include "runtime/transport/handshake.hpp"

#include <capnp/serialize.h>
#include <kj/exception.h>

#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace colony::fuzz {

namespace {

constexpr size_t max_frame_bytes = 64 << 10;
constexpr const char* swarm = "fuzz-swarm";
constexpr uint16_t local_port = 4000;
constexpr uint16_t remote_port = 5000;

// Flags in the first input byte.
constexpr uint8_t expect_remote = 1;  ///< dialer expects the remote's id
constexpr uint8_t expect_other = 2;   ///< dialer expects some other id
constexpr uint8_t with_authority = 4; ///< the swarm admits token holders only
constexpr uint8_t plain_text = 8;     ///< the local side turned encryption off

/// The two parties, made once with the deterministic RNG in place (before
/// anything starts libsodium, which fixes its RNG on start).
struct parties {
  std::optional<identity> local;
  std::optional<identity> remote;
  std::optional<identity> other;
  std::optional<identity> authority;

  parties() {
    FUZZ_CHECK(install_deterministic_rng());
    reset_rng(1);
    local = *identity::generate();
    remote = *identity::generate();
    other = *identity::generate();
    authority = *identity::generate();
  }
};

const parties& the_parties() {
  static const parties p;
  return p;
}

/// Our side of a connection whose peer sends `flags`; its nonce is the same
/// for every input.
std::unique_ptr<handshake> local_handshake(uint8_t flags) {
  auto& p = the_parties();
  std::optional<peer_id> expected;
  if (flags & expect_remote)
    expected = p.remote->peer_id();
  else if (flags & expect_other)
    expected = p.other->peer_id();
  handshake_settings settings;
  settings.swarm_id = swarm;
  settings.encrypt = (flags & plain_text) == 0;
  if (flags & with_authority)
    settings.authority = p.authority->peer_id();
  reset_rng(1000);
  return std::make_unique<handshake>(*p.local, settings, local_port,
                                     std::move(expected));
}

// -- the transport's handling of handshake frames ----------------------------

enum class step { more, closed, established };

/// As transport.cpp's `on_handshake_frame`.
step on_frame(handshake& hs, wire::Frame::Reader root) {
  switch (root.which()) {
  case wire::Frame::HELLO: {
    if (hs.read_hello(root.getHello())) {
      count("hello refused");
      return step::closed;
    }
    count("hello accepted");
    FUZZ_CHECK(hs.hello_received());
    (void)hs.remote().to_string();
    (void)hs.remote_listen_port();
    capnp::MallocMessageBuilder reply;
    hs.write_proof(reply.initRoot<wire::Frame>().initProof());
    return step::more;
  }
  case wire::Frame::PROOF:
    if (hs.read_proof(root.getProof())) {
      count("proof refused");
      return step::closed;
    }
    count("established");
    if (hs.session())
      count("established: sealed");
    if (hs.remote_token_expiry())
      count("established: token checked");
    return step::established;
  case wire::Frame::GOODBYE:
    (void)std::string(root.getGoodbye().getReason().cStr());
    return step::closed;
  case wire::Frame::ERROR:
    return step::more;
  default:
    return step::closed;
  }
}

bytes framed(const std::function<void(wire::Frame::Builder)>& fill) {
  capnp::MallocMessageBuilder msg;
  fill(msg.initRoot<wire::Frame>());
  return frame_bytes(msg);
}

bytes join(uint8_t flags, std::initializer_list<bytes> frames) {
  bytes out{flags};
  for (auto& f : frames)
    out.insert(out.end(), f.begin(), f.end());
  return out;
}

} // namespace

std::vector<bytes> seeds() {
  auto& p = the_parties();
  // The remote side of a handshake with our local one, as a peer runs it.
  auto local = local_handshake(0);
  reset_rng(2000);
  handshake remote{*p.remote, swarm, remote_port, p.local->peer_id()};
  auto hello = framed([&](auto f) { remote.write_hello(f.initHello()); });
  auto our_hello = framed([&](auto f) { local->write_hello(f.initHello()); });
  capnp::FlatArrayMessageReader our_reader{
      kj::arrayPtr(reinterpret_cast<const capnp::word*>(our_hello.data()),
                   our_hello.size() / sizeof(capnp::word))};
  FUZZ_CHECK(!remote.read_hello(our_reader.getRoot<wire::Frame>().getHello()));
  auto proof = framed([&](auto f) { remote.write_proof(f.initProof()); });
  // The same remote holding a token of the authority (far-future expiry,
  // so the seed stays valid).
  auto token_for = [&](const identity& signer, const peer_id& holder) {
    return access_token::issue(signer, holder, int64_t{4} << 30);
  };
  auto local_with_authority = local_handshake(with_authority);
  handshake_settings token_settings;
  token_settings.swarm_id = swarm;
  token_settings.token = token_for(*p.authority, p.remote->peer_id());
  reset_rng(3000);
  handshake token_remote{*p.remote, token_settings, remote_port,
                         p.local->peer_id()};
  auto token_hello =
      framed([&](auto f) { token_remote.write_hello(f.initHello()); });
  auto our_token_hello =
      framed([&](auto f) { local_with_authority->write_hello(f.initHello()); });
  capnp::FlatArrayMessageReader token_reader{
      kj::arrayPtr(reinterpret_cast<const capnp::word*>(our_token_hello.data()),
                   our_token_hello.size() / sizeof(capnp::word))};
  FUZZ_CHECK(
      !token_remote.read_hello(token_reader.getRoot<wire::Frame>().getHello()));
  auto token_proof =
      framed([&](auto f) { token_remote.write_proof(f.initProof()); });
  auto stolen_hello = framed([&](auto f) {
    token_remote.write_hello(f.initHello());
    auto t = token_for(*p.authority, p.other->peer_id());
    auto id = t.holder.bytes();
    f.getHello().getAccessToken().setPeerId(kj::arrayPtr(id.data(), id.size()));
  });
  // A remote that also turned encryption off, answering a plain local.
  auto local_plain = local_handshake(plain_text);
  handshake_settings plain_settings;
  plain_settings.swarm_id = swarm;
  plain_settings.encrypt = false;
  reset_rng(4000);
  handshake plain_remote{*p.remote, plain_settings, remote_port,
                         p.local->peer_id()};
  auto plain_hello =
      framed([&](auto f) { plain_remote.write_hello(f.initHello()); });
  auto our_plain_hello =
      framed([&](auto f) { local_plain->write_hello(f.initHello()); });
  capnp::FlatArrayMessageReader plain_reader{
      kj::arrayPtr(reinterpret_cast<const capnp::word*>(our_plain_hello.data()),
                   our_plain_hello.size() / sizeof(capnp::word))};
  FUZZ_CHECK(
      !plain_remote.read_hello(plain_reader.getRoot<wire::Frame>().getHello()));
  auto plain_proof =
      framed([&](auto f) { plain_remote.write_proof(f.initProof()); });
  auto self_hello = our_hello; // connected to itself
  auto other_swarm = framed([&](auto f) {
    remote.write_hello(f.initHello());
    f.getHello().setSwarmId("another-swarm");
  });
  auto old_version = framed([&](auto f) {
    remote.write_hello(f.initHello());
    f.getHello().setProtocolVersion(wire::PROTOCOL_VERSION + 1);
  });
  auto goodbye =
      framed([](auto f) { f.initGoodbye().setReason("not welcome"); });
  auto error = framed([](auto f) {
    auto e = f.initError();
    e.setCode(wire::ErrorCode::HANDSHAKE_FAILED);
    e.setMessage("bad");
  });
  auto request = framed([](auto f) {
    auto r = f.initRequest();
    r.setService("ping");
    r.initBody(8);
    r.setTotalBytes(8);
  });
  return {join(0, {hello, proof}),
          join(expect_remote, {hello, proof}),
          join(expect_other, {hello, proof}),
          join(0, {hello}),
          join(0, {proof}),
          join(0, {hello, hello, proof}),
          join(0, {hello, proof, proof}),
          join(0, {self_hello, proof}),
          join(0, {error, hello, proof, request}),
          join(0, {hello, goodbye}),
          join(0, {other_swarm, proof}),
          join(0, {old_version, proof}),
          join(0, {request}),
          join(with_authority, {token_hello, token_proof}),
          join(with_authority | expect_remote, {token_hello, token_proof}),
          join(with_authority, {hello, proof}),
          join(with_authority, {stolen_hello, token_proof}),
          join(0, {token_hello, token_proof}),
          join(plain_text, {plain_hello, plain_proof}),
          join(plain_text, {hello, proof}),
          join(0, {plain_hello, plain_proof})};
}

void run_one(const uint8_t* data, size_t size) {
  if (size == 0)
    return;
  auto hs = local_handshake(data[0]);
  frame_reader reader{max_frame_bytes};
  auto frames = reader.feed(reinterpret_cast<const char*>(data + 1), size - 1);
  if (!frames) {
    count("framing error"); // the transport closes the connection
    return;
  }
  for (auto& frame : *frames) {
    step next;
    try {
      capnp::SegmentArrayMessageReader msg(
          kj::arrayPtr(frame.segments.data(), frame.segments.size()),
          reader_limits{}.options());
      next = on_frame(*hs, msg.getRoot<wire::Frame>());
    } catch (const kj::Exception&) {
      count("frame undecodable"); // closed
      return;
    }
    if (next == step::closed)
      return;
    if (next == step::established) {
      // Only the remote can sign our nonce: a complete handshake names it.
      FUZZ_CHECK(hs->complete());
      FUZZ_CHECK(hs->remote() == the_parties().remote->peer_id());
      FUZZ_CHECK((data[0] & expect_remote) || !(data[0] & expect_other));
      // A swarm with an authority completes only with a checked token, and
      // a sealed session exactly when the local side encrypts.
      FUZZ_CHECK(!(data[0] & with_authority) || hs->remote_token_expiry());
      FUZZ_CHECK(static_cast<bool>(hs->session()) ==
                 ((data[0] & plain_text) == 0));
      return; // later frames are calls, not the handshake's
    }
  }
  FUZZ_CHECK(!hs->complete());
}

} // namespace colony::fuzz
