#include "messages/ping.capnp.h"
#include "runtime/ping_client.hpp"
#include "tests/integration/raw_peer.hpp"
#include "tests/integration/test_nodes.hpp"
#include "tests/support/wait_until.hpp"

#include <atomic>
#include <csignal>
#include <random>
#include <thread>

using namespace colony;
using namespace colony::apps;
using namespace colony::testing;
using namespace std::chrono_literals;

namespace {

using clock_type = std::chrono::steady_clock;

caf::behavior failing_service(caf::event_based_actor*) {
  return {[](serve_atom, const std::string&, const std::string&,
             const envelope&) -> caf::result<envelope> {
    return make_error(errc::bad_shape, "expected width 512, got 7");
  }};
}

/// How many requests a `silent_service` holds: a test waits on it to know
/// that its call reached the server.
using held_count = std::shared_ptr<std::atomic<size_t>>;

/// Holds every request forever: the caller's deadline must end the call.
caf::behavior silent_service(caf::event_based_actor* self, held_count count) {
  auto held = std::make_shared<std::vector<caf::response_promise>>();
  return {[self, held, count](serve_atom, const std::string&,
                              const std::string&, const envelope&) {
    auto rp = self->make_response_promise();
    held->push_back(rp);
    ++*count;
    return rp;
  }};
}

/// Registers a `silent_service` as "silent" on `n`; returns its count.
held_count register_silent(node& n) {
  auto count = std::make_shared<std::atomic<size_t>>(0);
  register_service(n, "silent", n.system().spawn(silent_service, count));
  return count;
}

/// Answers with the request body itself.
caf::behavior mirror_service(caf::event_based_actor*) {
  return {[](serve_atom, const std::string&, const std::string&,
             const envelope& body) {
    return body;
  }};
}

size_t connections(node& n) {
  caf::scoped_actor self{n.system()};
  size_t result = 0;
  self->request(n.transport(), caf::infinite, connections_atom::value)
      .receive([&](size_t x) { result = x; }, [](caf::error&) {});
  return result;
}

std::vector<std::string> peers(node& n) {
  caf::scoped_actor self{n.system()};
  std::vector<std::string> result;
  self->request(n.transport(), caf::infinite, peers_atom::value)
      .receive([&](std::vector<std::string>& x) { result = std::move(x); },
               [](caf::error&) {});
  return result;
}

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

} // namespace

TEST(transport, ping_reaches_peer_and_learns_its_id) {
  auto a = start_node(test_config());
  auto b = start_node(test_config());
  ASSERT_TRUE(a && b);
  auto res = ping_once(a->system(), a->transport(), b->address(), 0, 5s);
  ASSERT_TRUE(res) << describe(res.error());
  EXPECT_EQ(res->peer_id, b->me().peer_id().to_string());
  auto p = peers(*b);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0], a->me().peer_id().to_string());
}

TEST(transport, multiaddr_with_right_peer_id_is_accepted) {
  auto a = start_node(test_config());
  auto b = start_node(test_config());
  ASSERT_TRUE(a && b);
  auto port = b->address().substr(b->address().rfind(':') + 1);
  auto addr =
      "/ip4/127.0.0.1/tcp/" + port + "/p2p/" + b->me().peer_id().to_string();
  auto res = ping_once(a->system(), a->transport(), addr, 0, 5s);
  ASSERT_TRUE(res) << describe(res.error());
}

TEST(transport, wrong_peer_id_in_address_is_refused) {
  auto a = start_node(test_config());
  auto b = start_node(test_config());
  auto c = start_node(test_config());
  ASSERT_TRUE(a && b && c);
  auto port = b->address().substr(b->address().rfind(':') + 1);
  auto addr =
      "/ip4/127.0.0.1/tcp/" + port + "/p2p/" + c->me().peer_id().to_string();
  auto res = ping_once(a->system(), a->transport(), addr, 0, 5s);
  ASSERT_FALSE(res);
  EXPECT_TRUE(is_error(res.error(), errc::disconnected))
      << describe(res.error());
  EXPECT_NE(describe(res.error()).find("expected"), std::string::npos)
      << describe(res.error());
  // b keeps serving.
  EXPECT_TRUE(ping_once(a->system(), a->transport(), b->address(), 0, 5s));
}

TEST(transport, other_swarm_is_refused_with_reason) {
  auto a = start_node(test_config("swarm-a"));
  auto b = start_node(test_config("swarm-b"));
  ASSERT_TRUE(a && b);
  auto res = ping_once(a->system(), a->transport(), b->address(), 0, 5s);
  ASSERT_FALSE(res);
  EXPECT_NE(describe(res.error()).find("swarm"), std::string::npos)
      << describe(res.error());
}

TEST(transport, unknown_service_is_a_typed_error) {
  auto a = start_node(test_config());
  auto b = start_node(test_config());
  ASSERT_TRUE(a && b);
  auto res = call(*a, b->address(), "no-such-service", make_ping_request(0));
  ASSERT_FALSE(res);
  EXPECT_TRUE(is_error(res.error(), errc::unknown_service));
  EXPECT_NE(describe(res.error()).find("no-such-service"), std::string::npos);
}

TEST(transport, service_error_text_reaches_caller) {
  auto a = start_node(test_config());
  auto b = start_node(test_config());
  ASSERT_TRUE(a && b);
  register_service(*b, "expert/", b->system().spawn(failing_service));
  auto res = call(*a, b->address(), "expert/ffn.0.1", make_ping_request(0));
  ASSERT_FALSE(res);
  EXPECT_TRUE(is_error(res.error(), errc::bad_shape)) << describe(res.error());
  EXPECT_NE(describe(res.error()).find("width 512, got 7"), std::string::npos);
}

TEST(transport, deadline_ends_a_call_the_server_never_answers) {
  auto a = start_node(test_config());
  auto b = start_node(test_config());
  ASSERT_TRUE(a && b);
  register_silent(*b);
  auto t0 = clock_type::now();
  auto res = call(*a, b->address(), "silent", make_ping_request(0), 300ms);
  ASSERT_FALSE(res);
  EXPECT_TRUE(is_error(res.error(), errc::timeout)) << describe(res.error());
  EXPECT_LT(seconds_since(t0), 2.0);
  // The connection stays usable.
  EXPECT_TRUE(ping_once(a->system(), a->transport(), b->address(), 0, 5s));
}

TEST(transport, cancel_fails_the_call_at_once) {
  auto a = start_node(test_config());
  auto b = start_node(test_config());
  ASSERT_TRUE(a && b);
  auto held = register_silent(*b);
  caf::scoped_actor self{a->system()};
  uint64_t id = 0;
  self->request(a->transport(), caf::infinite, start_call_atom::value,
                b->address(), std::string{"silent"}, make_ping_request(0),
                caf::timespan{10s})
      .receive([&](uint64_t x) { id = x; }, [](caf::error&) {});
  ASSERT_NE(id, 0u);
  ASSERT_TRUE(
      eventually("the server holds the call", 5s, [&] { return *held == 1; }));
  auto t0 = clock_type::now();
  self->send(a->transport(), cancel_atom::value, id);
  caf::error outcome;
  self->receive(
      [&](call_result_atom, uint64_t got, caf::error& err) {
        EXPECT_EQ(got, id);
        outcome = err;
      },
      [&](call_result_atom, uint64_t, envelope&) {
        ADD_FAILURE() << "cancelled call answered";
      },
      caf::after(5s) >> [] { ADD_FAILURE() << "no outcome"; });
  EXPECT_TRUE(is_error(outcome, errc::cancelled)) << describe(outcome);
  EXPECT_LT(seconds_since(t0), 1.0);
}

TEST(transport, large_body_travels_in_parts_and_small_calls_overtake_it) {
  auto cfg = test_config();
  cfg.transport.part_bytes = 256 * 1024;
  auto a = start_node(cfg);
  auto b = start_node(cfg);
  ASSERT_TRUE(a && b);
  register_service(*b, "mirror", b->system().spawn(mirror_service));
  std::vector<char> bytes(64u << 20);
  std::mt19937_64 rng{7};
  for (size_t i = 0; i < bytes.size(); i += 8) {
    auto x = rng();
    std::memcpy(bytes.data() + i, &x, 8);
  }
  envelope big{bytes};
  std::atomic<bool> big_done{false};
  caf::expected<envelope> big_result{caf::error{}};
  std::thread t([&] {
    big_result = call(*a, b->address(), "mirror", big, 30s);
    big_done = true;
  });
  // Connection is up once a ping answered; then pings run during the transfer.
  ASSERT_TRUE(ping_once(a->system(), a->transport(), b->address(), 0, 5s));
  int overtaken = 0;
  for (int i = 0; i < 20 && !big_done; ++i)
    if (ping_once(a->system(), a->transport(), b->address(), 0, 5s) &&
        !big_done)
      ++overtaken;
  t.join();
  ASSERT_TRUE(big_result) << describe(big_result.error());
  ASSERT_EQ(big_result->size(), bytes.size());
  EXPECT_EQ(std::memcmp(big_result->data(), bytes.data(), bytes.size()), 0);
  EXPECT_GT(overtaken, 0);
}

TEST(transport, empty_bodies_travel_both_ways) {
  auto a = start_node(test_config());
  auto b = start_node(test_config());
  ASSERT_TRUE(a && b);
  register_service(*b, "mirror", b->system().spawn(mirror_service));
  for (int i = 0; i < 3; ++i) {
    auto reply = call(*a, b->address(), "mirror", envelope{}, 5s);
    ASSERT_TRUE(reply) << describe(reply.error());
    EXPECT_EQ(reply->size(), 0u);
  }
  EXPECT_EQ(connections(*a), 1u); // the connection survived
}

TEST(transport, one_connection_per_peer_pair_reused_both_ways) {
  auto a = start_node(test_config());
  auto b = start_node(test_config());
  ASSERT_TRUE(a && b);
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(ping_once(a->system(), a->transport(), b->address(), 0, 5s));
  // b reaches a through the connection a opened (a told b its port).
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(ping_once(b->system(), b->transport(), a->address(), 0, 5s));
  EXPECT_EQ(connections(*a), 1u);
  EXPECT_EQ(connections(*b), 1u);
}

TEST(transport, pending_calls_fail_at_once_when_peer_goes_away) {
  auto a = start_node(test_config());
  auto b = start_node(test_config());
  ASSERT_TRUE(a && b);
  auto held = register_silent(*b);
  caf::expected<envelope> res{caf::error{}};
  auto t0 = clock_type::now();
  std::thread t([&] {
    res = call(*a, b->address(), "silent", make_ping_request(0), 20s);
  });
  // Fails the test only after the join below: the thread uses `b` first.
  auto arrived =
      eventually("the server holds the call", 5s, [&] { return *held == 1; });
  b.reset(); // the whole node goes down
  t.join();
  ASSERT_TRUE(arrived);
  ASSERT_FALSE(res);
  EXPECT_TRUE(is_error(res.error(), errc::disconnected))
      << describe(res.error());
  EXPECT_LT(seconds_since(t0), 3.0);
}

TEST(transport, silent_peer_is_dropped_after_its_timeout) {
  temp_dir dir;
  auto b = node_process::start(dir, "frozen", "[node]\nswarm_id = \"test\"\n");
  ASSERT_TRUE(b);
  auto a = start_node(test_config());
  ASSERT_TRUE(a);
  ASSERT_TRUE(ping_once(a->system(), a->transport(), b->address, 0, 5s));
  ASSERT_TRUE(b->freeze());
  auto t0 = clock_type::now();
  auto res = call(*a, b->address, "echo", make_ping_request(0), 20s);
  auto took = seconds_since(t0);
  b->proc.signal(SIGCONT);
  ASSERT_FALSE(res);
  EXPECT_TRUE(is_error(res.error(), errc::disconnected))
      << describe(res.error());
  EXPECT_NE(describe(res.error()).find("silent"), std::string::npos);
  EXPECT_LT(took, 4.0); // peer_timeout is 1.5 s
}

TEST(transport, unreachable_address_fails_fast) {
  auto a = start_node(test_config());
  ASSERT_TRUE(a);
  auto t0 = clock_type::now();
  auto res = ping_once(a->system(), a->transport(), "127.0.0.1:1", 0, 5s);
  ASSERT_FALSE(res);
  EXPECT_TRUE(is_error(res.error(), errc::unreachable))
      << describe(res.error());
  EXPECT_LT(seconds_since(t0), 2.0);
  auto bad = ping_once(a->system(), a->transport(), "not an address", 0, 5s);
  ASSERT_FALSE(bad);
  EXPECT_TRUE(is_error(bad.error(), errc::invalid_argument));
}

TEST(transport, idle_connections_close_and_calls_reconnect) {
  auto cfg = test_config();
  cfg.transport.idle_timeout = 300ms;
  cfg.transport.heartbeat_interval = 100ms;
  auto a = start_node(cfg);
  auto b = start_node(cfg);
  ASSERT_TRUE(a && b);
  register_silent(*b);
  ASSERT_TRUE(ping_once(a->system(), a->transport(), b->address(), 0, 5s));
  EXPECT_EQ(connections(*a), 1u);
  // A call in flight keeps its connection open past the idle timeout.
  auto res = call(*a, b->address(), "silent", make_ping_request(0), 800ms);
  EXPECT_TRUE(is_error(res.error(), errc::timeout)) << describe(res.error());
  ASSERT_TRUE(eventually("both ends closed the idle connection", 5s, [&] {
    return connections(*a) == 0 && connections(*b) == 0;
  }));
  // Calls after the close open a new connection, many times over. The
  // pauses grow from 0 to 380 ms across the 300 ms idle timeout, so that
  // calls meet a connection that is fresh, about to close, and closed.
  for (int i = 0; i < 20; ++i) {
    auto r = ping_once(a->system(), a->transport(), b->address(), 0, 5s);
    ASSERT_TRUE(r) << i << ": " << describe(r.error());
    std::this_thread::sleep_for(std::chrono::milliseconds(i * 20));
  }
}

TEST(transport, server_answers_timeout_when_its_service_misses_the_deadline) {
  auto b = start_node(test_config());
  ASSERT_TRUE(b);
  register_silent(*b);
  raw_peer peer{b->address()};
  ASSERT_TRUE(peer.handshake_with_node("test"));
  auto body = make_ping_request(0);
  capnp::MallocMessageBuilder msg;
  auto req = msg.initRoot<wire::Frame>().initRequest();
  req.setCallId(77);
  req.setService("silent");
  req.setTimeoutMs(200);
  req.setTotalBytes(body.size());
  req.setBody(kj::arrayPtr(reinterpret_cast<const kj::byte*>(body.data()),
                           body.size()));
  auto t0 = clock_type::now();
  peer.send_frame(msg);
  std::string answer;
  while (answer.rfind("error", 0) != 0 && seconds_since(t0) < 3)
    if (auto f = peer.next_frame(3s))
      answer = raw_peer::describe_frame(*f);
  EXPECT_EQ(answer.rfind("error 77 7 ", 0), 0u) << answer; // 7 = timeout
  EXPECT_LT(seconds_since(t0), 1.5);
}
