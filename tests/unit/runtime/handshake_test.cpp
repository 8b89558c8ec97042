#include "runtime/transport/handshake.hpp"

#include "messages/error.hpp"

#include <capnp/message.h>
#include <gtest/gtest.h>

using namespace colony;

namespace {

struct side {
  identity id = *identity::generate();
  std::unique_ptr<handshake> hs;
};

/// Runs hello and proof between two handshakes; returns the errors seen.
std::pair<caf::error, caf::error> exchange(handshake& a, handshake& b) {
  capnp::MallocMessageBuilder ha, hb;
  a.write_hello(ha.initRoot<wire::Hello>());
  b.write_hello(hb.initRoot<wire::Hello>());
  auto e1 = b.read_hello(ha.getRoot<wire::Hello>().asReader());
  auto e2 = a.read_hello(hb.getRoot<wire::Hello>().asReader());
  if (e1 || e2)
    return {e1, e2};
  capnp::MallocMessageBuilder pa, pb;
  a.write_proof(pa.initRoot<wire::Proof>());
  b.write_proof(pb.initRoot<wire::Proof>());
  return {b.read_proof(pa.getRoot<wire::Proof>().asReader()),
          a.read_proof(pb.getRoot<wire::Proof>().asReader())};
}

} // namespace

TEST(handshake, both_sides_learn_each_others_id) {
  side a, b;
  b.hs = std::make_unique<handshake>(b.id, "swarm", 0, std::nullopt);
  a.hs = std::make_unique<handshake>(a.id, "swarm", 1000, b.id.peer_id());
  auto [e1, e2] = exchange(*a.hs, *b.hs);
  EXPECT_FALSE(e1) << describe(e1);
  EXPECT_FALSE(e2) << describe(e2);
  EXPECT_TRUE(a.hs->complete());
  EXPECT_TRUE(b.hs->complete());
  EXPECT_EQ(a.hs->remote(), b.id.peer_id());
  EXPECT_EQ(b.hs->remote(), a.id.peer_id());
  EXPECT_EQ(b.hs->remote_listen_port(), 1000);
}

TEST(handshake, swarm_mismatch_is_refused) {
  side a, b;
  a.hs = std::make_unique<handshake>(a.id, "one", 0, std::nullopt);
  b.hs = std::make_unique<handshake>(b.id, "two", 0, std::nullopt);
  auto [e1, e2] = exchange(*a.hs, *b.hs);
  EXPECT_TRUE(is_error(e1, errc::handshake_failed));
  EXPECT_NE(describe(e1).find("swarm"), std::string::npos);
}

TEST(handshake, unexpected_peer_is_refused) {
  side a, b, c;
  a.hs = std::make_unique<handshake>(a.id, "s", 0, c.id.peer_id());
  b.hs = std::make_unique<handshake>(b.id, "s", 0, std::nullopt);
  auto [e1, e2] = exchange(*a.hs, *b.hs);
  EXPECT_TRUE(is_error(e2, errc::handshake_failed));
  EXPECT_NE(describe(e2).find("expected"), std::string::npos);
}

TEST(handshake, forged_signature_is_refused) {
  side a, b;
  a.hs = std::make_unique<handshake>(a.id, "s", 0, std::nullopt);
  b.hs = std::make_unique<handshake>(b.id, "s", 0, std::nullopt);
  capnp::MallocMessageBuilder ha, hb;
  a.hs->write_hello(ha.initRoot<wire::Hello>());
  b.hs->write_hello(hb.initRoot<wire::Hello>());
  ASSERT_FALSE(b.hs->read_hello(ha.getRoot<wire::Hello>().asReader()));
  ASSERT_FALSE(a.hs->read_hello(hb.getRoot<wire::Hello>().asReader()));
  capnp::MallocMessageBuilder pa;
  a.hs->write_proof(pa.initRoot<wire::Proof>());
  auto sig = pa.getRoot<wire::Proof>().getSignature();
  sig[0] ^= 0x01;
  auto err = b.hs->read_proof(pa.getRoot<wire::Proof>().asReader());
  EXPECT_TRUE(is_error(err, errc::handshake_failed));
  EXPECT_FALSE(b.hs->complete());
}

TEST(handshake, proof_before_hello_and_bad_version_are_refused) {
  side a, b;
  a.hs = std::make_unique<handshake>(a.id, "s", 0, std::nullopt);
  capnp::MallocMessageBuilder p;
  p.initRoot<wire::Proof>().initSignature(64);
  EXPECT_TRUE(is_error(a.hs->read_proof(p.getRoot<wire::Proof>().asReader()),
                       errc::handshake_failed));
  capnp::MallocMessageBuilder h;
  auto hello = h.initRoot<wire::Hello>();
  b.hs = std::make_unique<handshake>(b.id, "s", 0, std::nullopt);
  b.hs->write_hello(hello);
  hello.setProtocolVersion(99);
  EXPECT_TRUE(
      is_error(a.hs->read_hello(hello.asReader()), errc::handshake_failed));
}

namespace {

/// Hello and proof as in `exchange`, but `tamper` may change a's Hello on
/// its way to b (an attacker on the path).
template <class Tamper>
std::pair<caf::error, caf::error> exchange_via(handshake& a, handshake& b,
                                               Tamper tamper) {
  capnp::MallocMessageBuilder ha, hb;
  a.write_hello(ha.initRoot<wire::Hello>());
  b.write_hello(hb.initRoot<wire::Hello>());
  tamper(ha.getRoot<wire::Hello>());
  auto e1 = b.read_hello(ha.getRoot<wire::Hello>().asReader());
  auto e2 = a.read_hello(hb.getRoot<wire::Hello>().asReader());
  if (e1 || e2)
    return {e1, e2};
  capnp::MallocMessageBuilder pa, pb;
  a.write_proof(pa.initRoot<wire::Proof>());
  b.write_proof(pb.initRoot<wire::Proof>());
  return {b.read_proof(pa.getRoot<wire::Proof>().asReader()),
          a.read_proof(pb.getRoot<wire::Proof>().asReader())};
}

handshake_settings settings(bool encrypt = true) {
  handshake_settings s;
  s.swarm_id = "s";
  s.encrypt = encrypt;
  return s;
}

} // namespace

TEST(handshake, both_sides_derive_mirrored_session_keys) {
  side a, b;
  a.hs = std::make_unique<handshake>(a.id, settings(), 0, std::nullopt);
  b.hs = std::make_unique<handshake>(b.id, settings(), 0, std::nullopt);
  auto [e1, e2] = exchange(*a.hs, *b.hs);
  ASSERT_FALSE(e1 || e2);
  ASSERT_TRUE(a.hs->session() && b.hs->session());
  EXPECT_EQ(a.hs->session()->seal, b.hs->session()->open);
  EXPECT_EQ(a.hs->session()->open, b.hs->session()->seal);
  EXPECT_NE(a.hs->session()->seal, a.hs->session()->open);
  EXPECT_EQ(a.hs->session()->suite, b.hs->session()->suite);
  // A second connection between the same two gets other keys.
  side c;
  handshake a2(a.id, settings(), 0, std::nullopt);
  handshake b2(b.id, settings(), 0, std::nullopt);
  ASSERT_FALSE(exchange(a2, b2).first);
  EXPECT_NE(a2.session()->seal, a.hs->session()->seal);
}

TEST(handshake, plain_text_needs_both_ends_and_a_mismatch_is_refused) {
  side a, b;
  a.hs = std::make_unique<handshake>(a.id, settings(false), 0, std::nullopt);
  b.hs = std::make_unique<handshake>(b.id, settings(false), 0, std::nullopt);
  auto [e1, e2] = exchange(*a.hs, *b.hs);
  ASSERT_FALSE(e1 || e2);
  EXPECT_FALSE(a.hs->session());
  EXPECT_FALSE(b.hs->session());
  handshake plain(a.id, settings(false), 0, std::nullopt);
  handshake sealed(b.id, settings(true), 0, std::nullopt);
  auto [m1, m2] = exchange(plain, sealed);
  EXPECT_TRUE(is_error(m1, errc::handshake_failed));
  EXPECT_NE(describe(m1).find("encryption"), std::string::npos) << describe(m1);
  EXPECT_TRUE(is_error(m2, errc::handshake_failed));
}

TEST(handshake, changing_the_key_exchange_fields_on_the_path_fails_the_proof) {
  // Each field an attacker might change to read or weaken the stream.
  for (int field = 0; field < 3; ++field) {
    side a, b;
    a.hs = std::make_unique<handshake>(a.id, settings(), 0, std::nullopt);
    b.hs = std::make_unique<handshake>(b.id, settings(), 0, std::nullopt);
    auto [e1, e2] = exchange_via(*a.hs, *b.hs, [&](wire::Hello::Builder h) {
      if (field == 0) {
        auto attacker = handshake(b.id, settings(), 0, std::nullopt);
        capnp::MallocMessageBuilder m;
        attacker.write_hello(m.initRoot<wire::Hello>());
        h.setKxPublicKey(m.getRoot<wire::Hello>().getKxPublicKey());
      } else if (field == 1) {
        h.setCiphers(1); // strip AES-GCM
      } else {
        h.setListenPort(h.getListenPort() + 1);
      }
    });
    if (field == 2) {
      // The listen port is advisory and not signed: no failure expected.
      EXPECT_FALSE(e1);
      continue;
    }
    EXPECT_TRUE(is_error(e1, errc::handshake_failed)) << field;
    EXPECT_NE(describe(e1).find("bad signature"), std::string::npos) << field;
  }
}

TEST(handshake, a_swarm_with_an_authority_admits_only_valid_tokens) {
  side a, b, stranger;
  auto authority = *identity::generate();
  auto now = unix_seconds();
  auto with = [&](const identity& who, std::optional<access_token> token) {
    auto s = settings();
    s.authority = authority.peer_id();
    s.token = std::move(token);
    return std::make_unique<handshake>(who, s, 0, std::nullopt);
  };
  auto valid_a = access_token::issue(authority, a.id.peer_id(), now + 60);
  auto valid_b = access_token::issue(authority, b.id.peer_id(), now + 60);
  {
    auto x = with(a.id, valid_a);
    auto y = with(b.id, valid_b);
    auto [e1, e2] = exchange(*x, *y);
    EXPECT_FALSE(e1) << describe(e1);
    EXPECT_FALSE(e2) << describe(e2);
    EXPECT_EQ(y->remote_token_expiry(), valid_a.expires_at);
  }
  struct refused_case {
    std::optional<access_token> token;
    std::string reason;
  };
  auto other_authority = *identity::generate();
  std::vector<refused_case> cases{
      {std::nullopt, "no access token"},
      {valid_b, "belongs to"}, // another node's token
      {access_token::issue(authority, a.id.peer_id(), now - 1), "expired"},
      {access_token::issue(other_authority, a.id.peer_id(), now + 60),
       "not signed"},
  };
  for (auto& c : cases) {
    auto x = with(a.id, c.token);
    auto y = with(b.id, valid_b);
    auto [e1, e2] = exchange(*x, *y);
    EXPECT_TRUE(is_error(e1, errc::handshake_failed)) << c.reason;
    EXPECT_NE(describe(e1).find(c.reason), std::string::npos) << describe(e1);
  }
}
