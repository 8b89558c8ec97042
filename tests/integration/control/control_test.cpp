// The control service and the faults it switches, over loopback: status,
// trusted peers only, transport delay / loss / partition, poisoned experts,
// garbage on a node's port, and a restarted server taking back its experts.

#include "actors/control/control_client.hpp"
#include "actors/control/control_codec.hpp"
#include "actors/moe/client/expert_client.hpp"
#include "apps/harness/garbage_sender.hpp"
#include "apps/node/expert_hosting.hpp"
#include "runtime/ping_client.hpp"
#include "tests/integration/test_nodes.hpp"

#include <ATen/ATen.h>

using namespace colony;
using namespace colony::apps;
using namespace colony::testing;
using namespace std::chrono_literals;

namespace {

/// A node that may call the control services of the others.
struct controller {
  std::unique_ptr<node> self;
  std::unique_ptr<control::control_client> client;

  controller() {
    auto cfg = test_config();
    cfg.client_mode = true;
    self = start_node(cfg);
    if (self)
      client = std::make_unique<control::control_client>(self->system(),
                                                         self->transport());
  }
  [[nodiscard]] std::string id() const {
    return self->me().peer_id().to_string();
  }
};

/// A node config whose control service trusts `boss`.
node_config controlled_by(const controller& boss) {
  auto cfg = test_config();
  cfg.control_peers = {boss.id()};
  return cfg;
}

control::control_request set_faults(fault_settings f) {
  control::control_request r;
  r.kind = control::control_request::kind_type::set_faults;
  r.faults = std::move(f);
  return r;
}

/// Hands `f` to `n`'s transport directly; true once the transport has
/// applied them (its empty reply).
bool set_transport_faults(node& n, const fault_settings& f) {
  caf::scoped_actor self{n.system()};
  bool applied = false;
  self->request(n.transport(), 3s, set_faults_atom::value, f)
      .receive([&] { applied = true; },
               [](caf::error& err) { ADD_FAILURE() << describe(err); });
  return applied;
}

/// Round trip of one ping from `from` to `address`, or the error.
caf::expected<double> ping_ms(node& from, const std::string& address,
                              std::chrono::milliseconds timeout = 3s) {
  auto rtt = ping_once(from.system(), from.transport(), address, 0, timeout);
  if (!rtt)
    return std::move(rtt.error());
  return rtt->rtt_ms;
}

} // namespace

TEST(control, status_of_a_server_and_only_for_trusted_peers) {
  controller boss;
  ASSERT_TRUE(boss.client);
  auto cfg = controlled_by(boss);
  cfg.experts = {expert_group({"ffn.0", "ffn.1"}, "ffn", 8)};
  auto server = start_node(cfg);
  ASSERT_TRUE(server);
  ASSERT_FALSE(server->host_experts());
  auto s = boss.client->status(server->address(), 3s);
  ASSERT_TRUE(s) << describe(s.error());
  EXPECT_EQ(s->peer_id, server->me().peer_id().to_string());
  EXPECT_EQ(s->address, server->address());
  EXPECT_EQ(s->experts_served, 2u);
  EXPECT_EQ(s->experts_poisoned, 0u);
  EXPECT_GT(s->rss_bytes, 10u << 20);
  EXPECT_GE(s->connections, 1u);
  EXPECT_FALSE(s->has_dht);
  EXPECT_FALSE(s->training);
  EXPECT_FALSE(s->faults.any());
  // A stranger is told there is no such service; the node keeps serving.
  controller stranger;
  auto refused = stranger.client->status(server->address(), 3s);
  ASSERT_FALSE(refused);
  EXPECT_TRUE(is_error(refused.error(), errc::unknown_service))
      << describe(refused.error());
  EXPECT_TRUE(boss.client->status(server->address(), 3s));
  // A node without control_peers serves no control service at all.
  auto plain = start_node(test_config());
  ASSERT_TRUE(plain);
  auto none = boss.client->status(plain->address(), 3s);
  ASSERT_FALSE(none);
  EXPECT_TRUE(is_error(none.error(), errc::unknown_service));
}

TEST(control, malformed_control_requests_get_errors) {
  controller boss;
  auto target = start_node(controlled_by(boss));
  ASSERT_TRUE(target);
  auto junk = call(*boss.self, target->address(), "control",
                   envelope{std::vector<char>(26, 'x')}, 3s);
  ASSERT_FALSE(junk);
  EXPECT_TRUE(is_error(junk.error(), errc::malformed))
      << describe(junk.error());
  fault_settings bad;
  bad.drop_rate = 1.5;
  auto refused = boss.client->call(target->address(), set_faults(bad), 3s);
  ASSERT_FALSE(refused);
  EXPECT_TRUE(is_error(refused.error(), errc::invalid_argument));
  control::control_request poison;
  poison.kind = control::control_request::kind_type::poison;
  poison.poison = moe::poison_mode::nan;
  poison.uids = {"ffn.404"};
  auto unknown = boss.client->call(target->address(), poison, 3s);
  ASSERT_FALSE(unknown);
  EXPECT_NE(describe(unknown.error()).find("ffn.404"), std::string::npos);
  EXPECT_TRUE(boss.client->status(target->address(), 3s));
}

TEST(control, delay_and_loss_of_a_nodes_messages) {
  controller boss;
  auto target = start_node(controlled_by(boss));
  auto peer = start_node(test_config());
  ASSERT_TRUE(target && peer);
  auto before = ping_ms(*peer, target->address());
  ASSERT_TRUE(before) << describe(before.error());
  fault_settings slow;
  slow.delay = 100ms;
  slow.jitter = 20ms;
  slow.seed = 3;
  auto set = boss.client->call(target->address(), set_faults(slow), 3s);
  ASSERT_TRUE(set) << describe(set.error());
  EXPECT_EQ(set->faults.delay, 100ms);
  for (int i = 0; i < 5; ++i) {
    auto rtt = ping_ms(*peer, target->address());
    ASSERT_TRUE(rtt);
    EXPECT_GE(*rtt, 79.0); // the reply waits 100 +- 20 ms
  }
  // The control channel itself is not delayed.
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(boss.client->status(target->address(), 3s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 60ms);
  fault_settings lossy;
  lossy.drop_rate = 1;
  // Everything it sends is lost, but for the control channel: the reply
  // that confirms the fault arrives, and status and healing still work.
  auto lost_set = boss.client->call(target->address(), set_faults(lossy), 3s);
  ASSERT_TRUE(lost_set) << describe(lost_set.error());
  EXPECT_EQ(lost_set->faults.drop_rate, 1.0);
  auto lost = ping_ms(*peer, target->address(), 500ms);
  ASSERT_FALSE(lost);
  EXPECT_TRUE(is_error(lost.error(), errc::timeout)) << describe(lost.error());
  auto during = boss.client->status(target->address(), 3s);
  ASSERT_TRUE(during);
  EXPECT_GE(during->fault_counts.messages_dropped, 1u);
  ASSERT_TRUE(
      boss.client->call(target->address(), set_faults(fault_settings{}), 3s));
  auto after = ping_ms(*peer, target->address());
  ASSERT_TRUE(after) << describe(after.error());
  EXPECT_LT(*after, 50.0);
  // The transport takes the settings directly as well.
  ASSERT_TRUE(set_transport_faults(*target, lossy));
  EXPECT_FALSE(ping_ms(*peer, target->address(), 300ms));
  ASSERT_TRUE(set_transport_faults(*target, fault_settings{}));
  EXPECT_TRUE(ping_ms(*peer, target->address()));
  auto status = boss.client->status(target->address(), 3s);
  ASSERT_TRUE(status);
  EXPECT_GE(status->fault_counts.messages_delayed, 5u);
  EXPECT_GE(status->fault_counts.messages_dropped, 2u);
}

TEST(control, partition_cuts_a_node_off_some_peers_until_healed) {
  controller boss;
  auto a = start_node(controlled_by(boss));
  auto b = start_node(test_config());
  auto c = start_node(test_config());
  ASSERT_TRUE(a && b && c);
  ASSERT_TRUE(ping_ms(*a, b->address()));
  fault_settings cut;
  cut.partitioned = {b->address()};
  ASSERT_TRUE(boss.client->call(a->address(), set_faults(cut), 3s));
  auto to_b = ping_ms(*a, b->address(), 500ms);
  ASSERT_FALSE(to_b);
  EXPECT_TRUE(is_error(to_b.error(), errc::timeout)) << describe(to_b.error());
  auto from_b = ping_ms(*b, a->address(), 500ms);
  EXPECT_FALSE(from_b);
  EXPECT_TRUE(ping_ms(*a, c->address())) << "other peers are unaffected";
  EXPECT_TRUE(ping_ms(*c, a->address()));
  // By peer id works the same.
  cut.partitioned = {c->me().peer_id().to_string()};
  ASSERT_TRUE(boss.client->call(a->address(), set_faults(cut), 3s));
  EXPECT_FALSE(ping_ms(*a, c->address(), 500ms));
  ASSERT_TRUE(boss.client->call(a->address(), set_faults({}), 3s));
  // Healed: a fresh connection if the old one went silent meanwhile.
  auto healed = ping_ms(*a, b->address(), 5s);
  EXPECT_TRUE(healed) << describe(healed.error());
  EXPECT_TRUE(ping_ms(*a, c->address(), 5s));
  auto status = boss.client->status(a->address(), 3s);
  ASSERT_TRUE(status);
  EXPECT_GT(status->fault_counts.frames_partitioned, 0u);
}

TEST(control, a_large_delayed_body_arrives_whole_and_in_order) {
  controller boss;
  auto cfg = controlled_by(boss);
  cfg.transport.part_bytes = 4096; // many parts per body
  cfg.experts = {expert_group({"nop.0"}, "nop", 256, "none")};
  auto server = start_node(cfg);
  ASSERT_TRUE(server);
  ASSERT_FALSE(server->host_experts());
  auto ccfg = test_config();
  ccfg.client_mode = true;
  ccfg.transport.part_bytes = 4096;
  auto client_node = start_node(ccfg);
  ASSERT_TRUE(client_node);
  fault_settings jittery;
  jittery.delay = 20ms;
  jittery.jitter = 20ms;
  ASSERT_TRUE(boss.client->call(server->address(), set_faults(jittery), 3s));
  moe::expert_client client{client_node->system(), client_node->transport()};
  for (int i = 0; i < 3; ++i) {
    auto x = at::randn({64, 256}); // 64 KiB: 16 parts
    auto out = client.forward(server->address(), "nop.0", {x}, 5s);
    ASSERT_TRUE(out) << describe(out.error());
    EXPECT_TRUE(at::equal(out->at(0), x));
  }
}

TEST(control, poisoned_experts_answer_nan_or_wrong_shapes_until_cured) {
  controller boss;
  auto cfg = controlled_by(boss);
  cfg.experts = {expert_group({"ffn.0", "ffn.1"}, "ffn", 8, "none")};
  auto server = start_node(cfg);
  ASSERT_TRUE(server);
  ASSERT_FALSE(server->host_experts());
  auto ccfg = test_config();
  ccfg.client_mode = true;
  auto client_node = start_node(ccfg);
  moe::expert_client client{client_node->system(), client_node->transport()};
  auto x = at::randn({3, 8});
  control::control_request poison;
  poison.kind = control::control_request::kind_type::poison;
  poison.poison = moe::poison_mode::nan;
  poison.uids = {"ffn.0"};
  auto s = boss.client->call(server->address(), poison, 3s);
  ASSERT_TRUE(s) << describe(s.error());
  EXPECT_EQ(s->experts_poisoned, 1u);
  auto nan_out = client.forward(server->address(), "ffn.0", {x}, 5s);
  ASSERT_TRUE(nan_out);
  EXPECT_TRUE(at::isnan(nan_out->at(0)).all().item<bool>());
  auto healthy = client.forward(server->address(), "ffn.1", {x}, 5s);
  ASSERT_TRUE(healthy);
  EXPECT_TRUE(at::isfinite(healthy->at(0)).all().item<bool>());
  poison.poison = moe::poison_mode::wrong_shape;
  poison.uids.clear(); // every expert
  s = boss.client->call(server->address(), poison, 3s);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->experts_poisoned, 2u);
  auto wide = client.forward(server->address(), "ffn.1", {x}, 5s);
  ASSERT_TRUE(wide);
  EXPECT_EQ(wide->at(0).sizes(), (std::vector<int64_t>{3, 9}));
  poison.poison = moe::poison_mode::off;
  s = boss.client->call(server->address(), poison, 3s);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->experts_poisoned, 0u);
  auto cured = client.forward(server->address(), "ffn.0", {x}, 5s);
  ASSERT_TRUE(cured);
  EXPECT_EQ(cured->at(0).sizes(), x.sizes());
  EXPECT_TRUE(at::isfinite(cured->at(0)).all().item<bool>());
}

TEST(control, garbage_of_every_kind_leaves_the_node_serving) {
  auto target = start_node(test_config());
  auto peer = start_node(test_config());
  ASSERT_TRUE(target && peer);
  size_t closed = 0;
  for (auto kind :
       {garbage_kind::random_bytes, garbage_kind::truncated_frame,
        garbage_kind::oversized_length, garbage_kind::wrong_handshake}) {
    for (uint64_t seed = 0; seed < 4; ++seed) {
      auto outcome = send_garbage(target->address(), kind, seed, 3s);
      ASSERT_TRUE(outcome) << to_string(kind) << ": "
                           << describe(outcome.error());
      EXPECT_GT(outcome->bytes_sent, 0u);
      closed += outcome->closed_by_peer ? 1 : 0;
      // The node closes every broken connection; a truncated frame only
      // once its handshake deadline (2 s in tests) passed.
      if (kind != garbage_kind::truncated_frame)
        EXPECT_TRUE(outcome->closed_by_peer) << to_string(kind) << seed;
    }
    EXPECT_TRUE(ping_ms(*peer, target->address())) << to_string(kind);
  }
  EXPECT_GE(closed, 12u);
  // Nothing listens on a port just freed: unreachable, at once.
  std::string gone;
  {
    auto brief = start_node(test_config());
    ASSERT_TRUE(brief);
    gone = brief->address();
  }
  auto refused = send_garbage(gone, garbage_kind::random_bytes, 1, 3s);
  ASSERT_FALSE(refused);
  EXPECT_TRUE(is_error(refused.error(), errc::unreachable));
}

TEST(control, a_restarted_server_takes_back_its_checkpointed_experts) {
  temp_dir dir;
  expert_group_config g;
  g.expert_pattern = "ffn.[0:50]";
  g.num_experts = 3;
  g.expert_cls = "ffn";
  g.hidden_dim = 8;
  g.update_period = std::chrono::hours(1);
  g.checkpoint_dir = dir.file("ckpt");
  std::vector<std::string> first;
  {
    local_expert_server s{{g}};
    ASSERT_TRUE(s.ok());
    for (const auto& e : s.server->experts()->experts())
      first.push_back(e.uid);
  } // shutdown writes checkpoint_last.pt of each
  ASSERT_EQ(first.size(), 3u);
  local_expert_server again{{g}};
  ASSERT_TRUE(again.ok());
  std::vector<std::string> second;
  for (const auto& e : again.server->experts()->experts())
    second.push_back(e.uid);
  std::sort(first.begin(), first.end());
  std::sort(second.begin(), second.end());
  EXPECT_EQ(first, second);
}
