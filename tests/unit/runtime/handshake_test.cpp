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
