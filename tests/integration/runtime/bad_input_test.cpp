#include "messages/tensor_codec.hpp"
#include "runtime/ping_client.hpp"
#include "tests/integration/raw_peer.hpp"
#include "tests/integration/test_nodes.hpp"

#include <random>

using namespace colony;
using namespace colony::testing;
using namespace std::chrono_literals;

namespace {

constexpr const char* node_toml = R"([node]
swarm_id = "test"
log_level = "info"
[transport]
handshake_timeout = 1.0
max_frame_bytes = 4194304
)";

/// A `colony run` process plus a client node to check that it still serves.
struct victim {
  temp_dir dir;
  std::optional<node_process> proc;
  std::unique_ptr<node> client;

  victim() {
    proc = node_process::start(dir, "victim", node_toml);
    client = start_node(test_config());
  }

  bool still_serves() {
    auto res =
        ping_once(client->system(), client->transport(), proc->address, 0, 5s);
    if (!res)
      ADD_FAILURE() << describe(res.error());
    return static_cast<bool>(res);
  }
};

std::vector<char> header(uint32_t segments_minus_one, uint32_t words) {
  std::vector<char> h(8);
  std::memcpy(h.data(), &segments_minus_one, 4);
  std::memcpy(h.data() + 4, &words, 4);
  return h;
}

caf::behavior tensor_service(caf::event_based_actor*) {
  return {[](serve_atom, const std::string&, const std::string&,
             const envelope& body) -> caf::result<envelope> {
    auto tensors = decode_tensors(body, tensor_limits{});
    if (!tensors)
      return std::move(tensors.error());
    return body;
  }};
}

} // namespace

TEST(bad_input, garbage_bytes_close_the_connection_only) {
  victim v;
  ASSERT_TRUE(v.proc && v.client);
  raw_peer peer{v.proc->address};
  ASSERT_TRUE(peer.connected());
  std::string junk = "GET / HTTP/1.1\r\nHost: colony\r\n\r\n";
  peer.send_bytes(junk.data(), junk.size());
  std::vector<std::string> seen;
  EXPECT_TRUE(peer.closed_within(3s, &seen));
  EXPECT_TRUE(v.still_serves());
  EXPECT_NE(v.proc->log().find("broken framing"), std::string::npos);
}

TEST(bad_input, truncated_frame_then_silence_hits_handshake_timeout) {
  victim v;
  ASSERT_TRUE(v.proc && v.client);
  raw_peer peer{v.proc->address};
  auto h = header(0, 100); // claims 800 bytes, sends 16
  peer.send_bytes(h.data(), h.size());
  char some[16] = {};
  peer.send_bytes(some, sizeof(some));
  EXPECT_TRUE(peer.closed_within(4s));
  EXPECT_TRUE(v.still_serves());
}

TEST(bad_input, four_gib_claims_allocate_nothing) {
  victim v;
  ASSERT_TRUE(v.proc && v.client);
  ASSERT_TRUE(v.still_serves());
  auto before = v.proc->rss_kib();
  for (int i = 0; i < 20; ++i) {
    raw_peer peer{v.proc->address};
    auto h = header(0, 0x20000000u); // 2^29 words = 4 GiB
    peer.send_bytes(h.data(), h.size());
    std::vector<std::string> seen;
    EXPECT_TRUE(peer.closed_within(3s, &seen));
    bool told = false;
    for (auto& s : seen)
      told |= s.find("max_frame_bytes") != std::string::npos;
    EXPECT_TRUE(told) << "the node should say why it closed";
  }
  EXPECT_TRUE(v.still_serves());
  auto after = v.proc->rss_kib();
  EXPECT_LT(after - before, 64 * 1024) << before << " KiB -> " << after;
}

TEST(bad_input, unproven_peers_cannot_make_the_node_hold_large_frames) {
  // Before the handshake a frame may claim a few KiB only: a peer that has
  // proven nothing cannot make the node allocate max_frame_bytes per
  // connection and keep it until the handshake deadline.
  temp_dir dir;
  auto proc = node_process::start(dir, "victim",
                                  "[node]\nswarm_id = \"test\"\n"
                                  "log_level = \"info\"\n"
                                  "[transport]\nhandshake_timeout = 20.0\n"
                                  "max_frame_bytes = 4194304\n");
  ASSERT_TRUE(proc);
  std::vector<std::unique_ptr<raw_peer>> peers;
  for (int i = 0; i < 40; ++i) {
    auto peer = std::make_unique<raw_peer>(proc->address);
    ASSERT_TRUE(peer->connected());
    auto h = header(0, 524287); // 4 MiB less a word: within max_frame_bytes
    peer->send_bytes(h.data(), h.size());
    std::vector<char> some(4096, 1);
    peer->send_bytes(some.data(), some.size());
    peers.push_back(std::move(peer));
  }
  for (auto& peer : peers) {
    std::vector<std::string> seen;
    // Closed at once, long before the handshake deadline.
    ASSERT_TRUE(peer->closed_within(5s, &seen));
    bool told = false;
    for (auto& s : seen)
      told |= s.find("max_frame_bytes is 65536") != std::string::npos;
    EXPECT_TRUE(told) << "the node should say why it closed";
  }
  auto client = start_node(test_config());
  ASSERT_TRUE(client);
  EXPECT_TRUE(
      ping_once(client->system(), client->transport(), proc->address, 0, 5s));
}

TEST(bad_input, forged_handshake_signature_is_refused) {
  victim v;
  ASSERT_TRUE(v.proc && v.client);
  raw_peer peer{v.proc->address};
  ASSERT_TRUE(peer.handshake_with_node("test", /*forge=*/true));
  std::vector<std::string> seen;
  EXPECT_TRUE(peer.closed_within(3s, &seen));
  bool told = false;
  for (auto& s : seen)
    told |= s.find("bad signature") != std::string::npos;
  EXPECT_TRUE(told);
  EXPECT_TRUE(v.still_serves());
}

TEST(bad_input, call_before_handshake_is_refused) {
  victim v;
  ASSERT_TRUE(v.proc && v.client);
  raw_peer peer{v.proc->address};
  capnp::MallocMessageBuilder msg;
  auto req = msg.initRoot<wire::Frame>().initRequest();
  req.setCallId(1);
  req.setService("ping");
  peer.send_frame(msg);
  EXPECT_TRUE(peer.closed_within(3s));
  EXPECT_TRUE(v.still_serves());
}

TEST(bad_input, lying_total_size_gets_typed_error_and_connection_lives) {
  victim v;
  ASSERT_TRUE(v.proc && v.client);
  raw_peer peer{v.proc->address};
  ASSERT_TRUE(peer.handshake_with_node("test"));
  {
    capnp::MallocMessageBuilder msg;
    auto req = msg.initRoot<wire::Frame>().initRequest();
    req.setCallId(5);
    req.setService("ping");
    req.setTotalBytes(uint64_t{1} << 40);
    req.initBody(8);
    peer.send_frame(msg);
  }
  std::string answer;
  for (int i = 0; i < 10 && answer.rfind("error", 0) != 0; ++i)
    if (auto f = peer.next_frame(3s))
      answer = raw_peer::describe_frame(*f);
  EXPECT_EQ(answer.rfind("error 5 3 ", 0), 0u) << answer; // 3 = tooLarge
  // The same connection still carries a valid ping.
  auto ping = make_ping_request(0);
  capnp::MallocMessageBuilder msg;
  auto req = msg.initRoot<wire::Frame>().initRequest();
  req.setCallId(6);
  req.setService("ping");
  req.setTotalBytes(ping.size());
  req.setBody(kj::arrayPtr(reinterpret_cast<const kj::byte*>(ping.data()),
                           ping.size()));
  peer.send_frame(msg);
  std::string reply;
  for (int i = 0; i < 10 && reply.rfind("response", 0) != 0; ++i)
    if (auto f = peer.next_frame(3s))
      reply = raw_peer::describe_frame(*f);
  EXPECT_EQ(reply, "response 6");
}

TEST(bad_input, undecodable_payload_gets_malformed_error) {
  victim v;
  ASSERT_TRUE(v.proc && v.client);
  std::vector<char> junk(64);
  std::mt19937 rng{3};
  for (auto& c : junk)
    c = static_cast<char>(rng());
  for (auto service : {"ping", "echo"}) {
    auto res = call(*v.client, v.proc->address, service, envelope{junk});
    ASSERT_FALSE(res) << service;
    EXPECT_TRUE(is_error(res.error(), errc::malformed))
        << service << ": " << describe(res.error());
  }
  EXPECT_TRUE(v.still_serves());
}

TEST(bad_input, tensor_with_lying_shape_gets_bad_shape) {
  auto server = start_node(test_config());
  auto client = start_node(test_config());
  ASSERT_TRUE(server && client);
  register_service(*server, "tensors", server->system().spawn(tensor_service));
  capnp::MallocMessageBuilder msg;
  auto list = msg.initRoot<wire::TensorList>().initTensors(1);
  auto t = list[0];
  t.setDtype(wire::DType::FLOAT32);
  auto shape = t.initShape(2);
  shape.set(0, 1000);
  shape.set(1, 1000);
  t.initData(16); // 4 floats, not a million
  auto res = call(*client, server->address(), "tensors", to_envelope(msg));
  ASSERT_FALSE(res);
  EXPECT_TRUE(is_error(res.error(), errc::bad_shape)) << describe(res.error());
  EXPECT_TRUE(ping_once(client->system(), client->transport(),
                        server->address(), 0, 5s));
}
