// Sealed streams between nodes: an attacker on the path cannot change,
// drop, replay or reorder what a node receives; plain text needs both ends;
// swarm access tokens keep out nodes without a valid token of their own.

#include "actors/dht/dht_client.hpp"
#include "actors/dht/record_validator.hpp"
#include "runtime/access_token.hpp"
#include "runtime/ping_client.hpp"
#include "tests/integration/tampering_proxy.hpp"
#include "tests/integration/test_nodes.hpp"
#include "tests/support/wait_until.hpp"

#include <atomic>

using namespace colony;
using namespace colony::apps;
using namespace colony::testing;
using namespace std::chrono_literals;

namespace {

using served_count = std::shared_ptr<std::atomic<size_t>>;

/// Answers with the request body and counts the requests it was given.
caf::behavior counting_service(caf::event_based_actor*, served_count count) {
  return {[count](serve_atom, const std::string&, const std::string&,
                  const envelope& body) {
    ++*count;
    return body;
  }};
}

size_t open_connections(node& n) {
  caf::scoped_actor self{n.system()};
  size_t result = 0;
  self->request(n.transport(), caf::infinite, connections_atom::value)
      .receive([&](size_t x) { result = x; }, [](caf::error&) {});
  return result;
}

/// A server with a counting service "count" and a client-mode node.
struct sealed_pair {
  std::unique_ptr<node> server;
  std::unique_ptr<node> client;
  served_count count = std::make_shared<std::atomic<size_t>>(0);

  explicit sealed_pair(bool server_encrypts = true,
                       bool client_encrypts = true) {
    auto scfg = test_config();
    scfg.transport.encryption = server_encrypts;
    server = start_node(scfg);
    auto ccfg = test_config();
    ccfg.client_mode = true;
    ccfg.transport.encryption = client_encrypts;
    client = start_node(ccfg);
    if (server)
      register_service(*server, "count",
                       server->system().spawn(counting_service, count));
  }

  bool ok() const { return server && client; }
};

} // namespace

TEST(encrypted_stream, calls_through_an_honest_proxy_are_served) {
  sealed_pair p;
  ASSERT_TRUE(p.ok());
  tampering_proxy proxy{p.server->address(), tampering_proxy::attack::none};
  for (int i = 0; i < 3; ++i) {
    auto r = call(*p.client, proxy.address(), "count", make_ping_request(100));
    ASSERT_TRUE(r) << describe(r.error());
  }
  EXPECT_EQ(*p.count, 3u);
  EXPECT_GE(proxy.records_seen(), 3u);
}

TEST(encrypted_stream, a_changed_byte_closes_the_connection_undelivered) {
  sealed_pair p;
  ASSERT_TRUE(p.ok());
  tampering_proxy proxy{p.server->address(), tampering_proxy::attack::flip};
  auto r = call(*p.client, proxy.address(), "count", make_ping_request(4096));
  ASSERT_FALSE(r);
  EXPECT_TRUE(is_error(r.error(), errc::disconnected)) << describe(r.error());
  EXPECT_TRUE(wait_until(5s, [&] { return open_connections(*p.server) == 0; }));
  EXPECT_EQ(*p.count, 0u);
}

TEST(encrypted_stream, a_dropped_record_closes_the_connection_at_the_next) {
  sealed_pair p;
  ASSERT_TRUE(p.ok());
  tampering_proxy proxy{p.server->address(), tampering_proxy::attack::drop};
  // The request vanishes; the next record (a heartbeat or the cancel)
  // carries the wrong nonce.
  auto r = call(*p.client, proxy.address(), "count", make_ping_request(64), 1s);
  EXPECT_FALSE(r);
  EXPECT_TRUE(wait_until(5s, [&] { return open_connections(*p.server) == 0; }));
  EXPECT_EQ(*p.count, 0u);
}

TEST(encrypted_stream,
     a_replayed_record_is_served_once_then_the_stream_closes) {
  sealed_pair p;
  ASSERT_TRUE(p.ok());
  tampering_proxy proxy{p.server->address(), tampering_proxy::attack::replay};
  (void)call(*p.client, proxy.address(), "count", make_ping_request(64), 2s);
  EXPECT_TRUE(wait_until(5s, [&] { return open_connections(*p.server) == 0; }));
  EXPECT_EQ(*p.count, 1u);
}

TEST(encrypted_stream, reordered_records_close_the_connection_undelivered) {
  sealed_pair p;
  ASSERT_TRUE(p.ok());
  // The request is held until the client's next record (a heartbeat) has
  // passed it.
  tampering_proxy proxy{p.server->address(), tampering_proxy::attack::reorder};
  auto r = call(*p.client, proxy.address(), "count", make_ping_request(64), 3s);
  EXPECT_FALSE(r);
  EXPECT_TRUE(wait_until(5s, [&] { return open_connections(*p.server) == 0; }));
  EXPECT_EQ(*p.count, 0u);
}

TEST(encrypted_stream, plain_text_needs_both_ends_and_a_mismatch_says_why) {
  {
    sealed_pair both_plain{false, false};
    ASSERT_TRUE(both_plain.ok());
    auto r = call(*both_plain.client, both_plain.server->address(), "count",
                  make_ping_request(10));
    EXPECT_TRUE(r) << describe(r.error());
  }
  for (auto [server_encrypts, client_encrypts] :
       {std::pair{false, true}, std::pair{true, false}}) {
    sealed_pair p{server_encrypts, client_encrypts};
    ASSERT_TRUE(p.ok());
    auto r =
        call(*p.client, p.server->address(), "count", make_ping_request(10));
    ASSERT_FALSE(r);
    EXPECT_NE(describe(r.error()).find("transport.encryption"),
              std::string::npos)
        << describe(r.error());
    EXPECT_EQ(*p.count, 0u);
  }
}

namespace {

/// A swarm authority, and token files in a scratch directory.
struct token_swarm {
  temp_dir dir;
  identity authority = *identity::generate();

  std::string token_for(const std::string& name, const peer_id& holder,
                        int64_t valid_seconds) {
    auto path = dir.file(name + ".token");
    auto token =
        access_token::issue(authority, holder, unix_seconds() + valid_seconds);
    EXPECT_FALSE(write_access_token(path, token));
    return path;
  }

  /// A node config with the authority and the token of `identity_file`.
  node_config config(const std::string& name, bool with_authority,
                     int64_t valid_seconds, bool client_mode) {
    auto cfg = test_config();
    cfg.identity_path = dir.file(name + ".identity");
    auto id = identity::load_or_create(cfg.identity_path);
    EXPECT_TRUE(id);
    cfg.access_token = token_for(name, id->peer_id(), valid_seconds);
    if (with_authority)
      cfg.swarm_authority = authority.peer_id().to_string();
    cfg.client_mode = client_mode;
    return cfg;
  }
};

} // namespace

TEST(access_tokens,
     a_node_with_a_valid_token_is_served_and_others_are_refused) {
  token_swarm swarm;
  auto server = start_node(swarm.config("server", true, 3600, false));
  ASSERT_TRUE(server);
  auto count = std::make_shared<std::atomic<size_t>>(0);
  register_service(*server, "count",
                   server->system().spawn(counting_service, count));
  {
    auto member = start_node(swarm.config("member", true, 3600, true));
    ASSERT_TRUE(member);
    auto r = call(*member, server->address(), "count", make_ping_request(8));
    EXPECT_TRUE(r) << describe(r.error());
  }
  struct outsider {
    std::string name;
    std::string why;
  };
  // Nodes that do not check tokens themselves, so that they start and try.
  std::vector<outsider> outsiders{{"no-token", "no access token"},
                                  {"stolen", "belongs to"},
                                  {"expired", "expired"}};
  for (auto& o : outsiders) {
    auto cfg = swarm.config(o.name, false, 3600, true);
    if (o.name == "no-token")
      cfg.access_token.clear();
    if (o.name == "stolen")
      cfg.access_token = swarm.dir.file("server.token");
    if (o.name == "expired") {
      auto id = identity::load_or_create(cfg.identity_path);
      cfg.access_token = swarm.token_for(o.name, id->peer_id(), -10);
    }
    auto n = start_node(cfg);
    ASSERT_TRUE(n);
    auto r = call(*n, server->address(), "count", make_ping_request(8));
    ASSERT_FALSE(r) << o.name;
    EXPECT_NE(describe(r.error()).find(o.why), std::string::npos)
        << o.name << ": " << describe(r.error());
  }
  EXPECT_EQ(*count, 1u);
}

TEST(access_tokens, a_node_without_a_valid_token_of_its_own_does_not_start) {
  token_swarm swarm;
  auto cfg = swarm.config("late", true, -5, true);
  auto n = node::start(cfg);
  ASSERT_FALSE(n);
  EXPECT_TRUE(is_error(n.error(), errc::bad_config));
  EXPECT_NE(describe(n.error()).find("expired"), std::string::npos);
  cfg.access_token.clear();
  n = node::start(cfg);
  ASSERT_FALSE(n);
  EXPECT_NE(describe(n.error()).find("no access token"), std::string::npos);
}

TEST(access_tokens,
     an_expired_peer_is_cut_off_and_a_renewed_file_lets_it_back) {
  token_swarm swarm;
  auto server = start_node(swarm.config("server", true, 3600, false));
  ASSERT_TRUE(server);
  // Valid for 3 s: long enough to start and connect on a loaded machine.
  auto cfg = swarm.config("member", true, 3, true);
  auto member = start_node(cfg);
  ASSERT_TRUE(member);
  auto r = call(*member, server->address(), "ping", make_ping_request(8));
  ASSERT_TRUE(r) << describe(r.error());
  ASSERT_EQ(open_connections(*server), 1u);
  // The server closes the connection once the member's token expires.
  EXPECT_TRUE(wait_until(8s, [&] { return open_connections(*server) == 0; }));
  auto refused = call(*member, server->address(), "ping", make_ping_request(8));
  EXPECT_FALSE(refused);
  // A new token file: the member's next connection presents it.
  auto id = identity::load_or_create(cfg.identity_path);
  auto renewed = access_token::issue(swarm.authority, id->peer_id(),
                                     unix_seconds() + 3600);
  ASSERT_FALSE(write_access_token(cfg.access_token, renewed));
  EXPECT_TRUE(wait_until(
      10s,
      [&] {
        return static_cast<bool>(
            call(*member, server->address(), "ping", make_ping_request(8)));
      },
      200ms));
}

TEST(access_tokens, signed_dht_records_keep_working_in_a_swarm_with_tokens) {
  token_swarm swarm;
  std::vector<std::unique_ptr<node>> nodes;
  for (int i = 0; i < 4; ++i) {
    auto cfg = swarm.config("dht" + std::to_string(i), true, 3600, false);
    cfg.dht_enabled = true;
    cfg.dht.wait_timeout = 3000ms;
    if (i > 0)
      cfg.initial_peers = {nodes[0]->address()};
    nodes.push_back(start_node(cfg));
    ASSERT_TRUE(nodes.back());
    if (i > 0) {
      auto joined = nodes.back()->join_dht();
      ASSERT_TRUE(joined) << describe(joined.error());
    }
  }
  auto client = [&](size_t i) {
    return dht::dht_client{nodes[i]->system(), nodes[i]->dht()};
  };
  auto key = "profile" + dht::signed_record_validator::owner_marker(
                             nodes[1]->me().peer_id());
  auto now = dht::dht_time();
  auto stored =
      client(1).store(dht::store_request{key, {}, false, "v1", now + 60}, 10s);
  ASSERT_TRUE(stored && *stored);
  // Another member of the swarm cannot overwrite the owner's record.
  auto forged = client(2).store(
      dht::store_request{key, {}, false, "forged", now + 90}, 10s);
  EXPECT_TRUE(!forged || !*forged);
  auto got = client(3).get(key, true, 10s);
  ASSERT_TRUE(got && got->found);
  EXPECT_EQ(got->value, "v1");
}
