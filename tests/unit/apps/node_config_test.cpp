#include "apps/node/node_config.hpp"

#include "messages/error.hpp"
#include "runtime/identity.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

namespace colony {
namespace {

using namespace std::chrono_literals;
using overrides = std::vector<std::string>;

node_config must_parse(const std::string& text, const overrides& sets = {}) {
  auto cfg = parse_node_config(text, "test.toml", sets);
  EXPECT_TRUE(cfg) << describe(cfg.error());
  return cfg ? *cfg : node_config{};
}

/// Returns the error text of a config that must fail with bad_config.
std::string error_of(const std::string& text, const overrides& sets = {}) {
  auto cfg = parse_node_config(text, "test.toml", sets);
  EXPECT_FALSE(cfg) << text;
  if (cfg)
    return {};
  EXPECT_TRUE(is_error(cfg.error(), errc::bad_config)) << describe(cfg.error());
  const auto& ctx = cfg.error().context();
  return ctx.match_elements<std::string>() ? ctx.get_as<std::string>(0)
                                           : describe(cfg.error());
}

#define EXPECT_STARTS_WITH(text, prefix)                                       \
  EXPECT_EQ((text).substr(0, std::string{prefix}.size()), prefix) << (text)

#define EXPECT_CONTAINS(text, needle)                                          \
  EXPECT_NE((text).find(needle), std::string::npos) << (text)

void expect_defaults(const node_config& cfg) {
  node_config def;
  transport_options t;
  EXPECT_EQ(cfg.listen, "127.0.0.1:0");
  EXPECT_TRUE(cfg.initial_peers.empty());
  EXPECT_EQ(cfg.identity_path, "");
  EXPECT_EQ(cfg.swarm_id, "colony");
  EXPECT_EQ(cfg.log_level, "info");
  EXPECT_FALSE(cfg.client_mode);
  EXPECT_EQ(cfg.transport.max_frame_bytes, t.max_frame_bytes);
  EXPECT_EQ(cfg.transport.max_message_bytes, t.max_message_bytes);
  EXPECT_EQ(cfg.transport.part_bytes, t.part_bytes);
  EXPECT_EQ(cfg.transport.max_inflight_bytes, t.max_inflight_bytes);
  EXPECT_EQ(cfg.transport.heartbeat_interval, t.heartbeat_interval);
  EXPECT_EQ(cfg.transport.peer_timeout, t.peer_timeout);
  EXPECT_EQ(cfg.transport.connect_timeout, t.connect_timeout);
  EXPECT_EQ(cfg.transport.handshake_timeout, t.handshake_timeout);
  EXPECT_EQ(cfg.transport.default_call_timeout, t.default_call_timeout);
}

TEST(node_config, empty_text_gives_defaults) {
  auto cfg = must_parse("");
  expect_defaults(cfg);
  EXPECT_EQ(cfg.source_path, "test.toml");
  expect_defaults(must_parse("[node]\n[transport]\n"));
}

TEST(node_config, full_example) {
  auto cfg = must_parse(R"(
[node]
listen = "[::1]:5000"
initial_peers = ["127.0.0.1:31337",
                 "/ip4/10.0.0.1/tcp/4000/p2p/12D3KooWPBRNBzgceXh7Z27wGoyYYz9ggwaYg2dWiwXXe8ieyFCN"]
identity_path = "/tmp/node.key"
swarm_id = "my-swarm"
log_level = "debug"
client_mode = true

[transport]
max_frame_bytes = 1048576
max_message_bytes = 2097152
part_bytes = 65536
max_inflight_bytes = 4194304
heartbeat_interval = 0.25
peer_timeout = 2
connect_timeout = 1.5
handshake_timeout = 0.001
default_call_timeout = 60.0
)");
  EXPECT_EQ(cfg.listen, "[::1]:5000");
  ASSERT_EQ(cfg.initial_peers.size(), 2u);
  EXPECT_EQ(cfg.initial_peers[0], "127.0.0.1:31337");
  EXPECT_EQ(cfg.identity_path, "/tmp/node.key");
  EXPECT_EQ(cfg.swarm_id, "my-swarm");
  EXPECT_EQ(cfg.log_level, "debug");
  EXPECT_TRUE(cfg.client_mode);
  EXPECT_EQ(cfg.transport.max_frame_bytes, 1048576u);
  EXPECT_EQ(cfg.transport.max_message_bytes, 2097152u);
  EXPECT_EQ(cfg.transport.part_bytes, 65536u);
  EXPECT_EQ(cfg.transport.max_inflight_bytes, 4194304u);
  EXPECT_EQ(cfg.transport.heartbeat_interval, 250ms);
  EXPECT_EQ(cfg.transport.peer_timeout, 2000ms);
  EXPECT_EQ(cfg.transport.connect_timeout, 1500ms);
  EXPECT_EQ(cfg.transport.handshake_timeout, 1ms);
  EXPECT_EQ(cfg.transport.default_call_timeout, 60000ms);
}

TEST(node_config, shipped_configs_parse) {
  auto node = load_node_config(COLONY_SOURCE_DIR "/configs/node.toml", {});
  ASSERT_TRUE(node) << describe(node.error());
  // The documented values are the defaults.
  expect_defaults(*node);
  EXPECT_EQ(node->source_path, COLONY_SOURCE_DIR "/configs/node.toml");
  auto boot = load_node_config(COLONY_SOURCE_DIR "/configs/bootstrap.toml", {});
  ASSERT_TRUE(boot) << describe(boot.error());
  EXPECT_EQ(boot->listen, "127.0.0.1:31337");
  auto server = load_node_config(COLONY_SOURCE_DIR "/configs/server.toml", {});
  ASSERT_TRUE(server) << describe(server.error());
  ASSERT_EQ(server->experts.size(), 1u);
  // The documented values are the defaults, but for the grid and width.
  auto documented = server->experts[0];
  expert_group_config defaults;
  EXPECT_EQ(documented.expert_cls, defaults.expert_cls);
  EXPECT_EQ(documented.max_batch_size, defaults.max_batch_size);
  EXPECT_EQ(documented.backend.optimizer, defaults.backend.optimizer);
  EXPECT_EQ(documented.update_period, defaults.update_period);
  EXPECT_EQ(documented.compression, defaults.compression);
  EXPECT_EQ(documented.drop_rate, defaults.drop_rate);
}

TEST(node_config, missing_file_is_io_error) {
  auto cfg = load_node_config("/nonexistent/colony.toml", {});
  ASSERT_FALSE(cfg);
  EXPECT_TRUE(is_error(cfg.error(), errc::io_error));
  EXPECT_CONTAINS(describe(cfg.error()), "/nonexistent/colony.toml");
  auto dir = load_node_config(COLONY_SOURCE_DIR "/configs", {});
  ASSERT_FALSE(dir);
  EXPECT_TRUE(is_error(dir.error(), errc::io_error));
}

TEST(node_config, syntax_error_has_line_and_column) {
  auto text = error_of("[node]\n"
                       "swarm_id = \"a\"\n"
                       "listen = \n");
  EXPECT_STARTS_WITH(text, "test.toml:3:");
  EXPECT_CONTAINS(text, "TOML syntax error");
}

TEST(node_config, wrong_type) {
  auto text = error_of("[transport]\n"
                       "part_bytes = 1024\n"
                       "max_frame_bytes = \"big\"\n");
  EXPECT_EQ(text, "test.toml:3:19: transport.max_frame_bytes: expected an "
                  "integer (bytes), got a string");
  EXPECT_STARTS_WITH(error_of("[node]\nclient_mode = \"yes\"\n"),
                     "test.toml:2:15: node.client_mode: expected a boolean");
  EXPECT_STARTS_WITH(error_of("[node]\nlisten = 5000\n"),
                     "test.toml:2:10: node.listen: expected a string, got an "
                     "integer");
  EXPECT_STARTS_WITH(error_of("[transport]\npeer_timeout = \"10s\"\n"),
                     "test.toml:2:16: transport.peer_timeout: expected a "
                     "number (seconds)");
  EXPECT_STARTS_WITH(error_of("[transport]\npart_bytes = 1.5\n"),
                     "test.toml:2:14: transport.part_bytes: expected an "
                     "integer (bytes), got a floating-point number");
  EXPECT_STARTS_WITH(error_of("[node]\ninitial_peers = \"a:1\"\n"),
                     "test.toml:2:17: node.initial_peers: expected an array "
                     "of strings");
  EXPECT_STARTS_WITH(error_of("[node]\n\ninitial_peers = [\"a:1\", 2]\n"),
                     "test.toml:3:25: node.initial_peers: element 1: expected "
                     "a string");
}

TEST(node_config, unknown_key_and_section) {
  auto key = error_of("[node]\n"
                      "listen = \"127.0.0.1:0\"\n"
                      "listne = \"127.0.0.1:0\"\n");
  EXPECT_STARTS_WITH(key, "test.toml:3:1: unknown key 'listne' in [node]");
  EXPECT_CONTAINS(
      key, "known: access_token, client_mode, compute_threads, control_peers, "
           "identity_path");
  EXPECT_STARTS_WITH(error_of("\n\n[trainerx]\nsteps = 20\n"),
                     "test.toml:3:2: unknown section [trainerx]");
  EXPECT_STARTS_WITH(error_of("[[expert]]\nuid = \"a\"\n"),
                     "test.toml:1:3: unknown section [[expert]]");
  EXPECT_STARTS_WITH(error_of("listen = \"127.0.0.1:0\"\n"),
                     "test.toml:1:1: unknown top-level key 'listen'");
  EXPECT_STARTS_WITH(error_of("node = 1\n"),
                     "test.toml:1:1: 'node' must be a table");
  EXPECT_STARTS_WITH(error_of("[node.extra]\nx = 1\n"),
                     "test.toml:1:7: unknown key 'extra' in [node]");
}

TEST(node_config, bad_listen_address) {
  auto text = error_of("[node]\n"
                       "listen = \"127.0.0.1:70000\"\n");
  EXPECT_EQ(text, "test.toml:2:10: node.listen: bad address '127.0.0.1:70000'"
                  ": port 70000 is out of range (0..65535)");
  EXPECT_CONTAINS(error_of("[node]\nlisten = \"127.0.0.1\"\n"), "missing port");
  EXPECT_CONTAINS(error_of("[node]\nlisten = \"/ip4/127.0.0.1/tcp/1/p2p/"
                           "12D3KooWPBRNBzgceXh7Z27wGoyYYz9ggwaYg2dWiwXXe8ie"
                           "yFCN\"\n"),
                  "names no peer id");
  // A DNS name and port 0 are fine for listening.
  EXPECT_EQ(must_parse("[node]\nlisten = \"localhost:0\"\n").listen,
            "localhost:0");
}

TEST(node_config, bad_initial_peer_points_at_the_element) {
  auto text = error_of("[node]\n"
                       "initial_peers = [\n"
                       "  \"127.0.0.1:5000\",\n"
                       "  \"127.0.0.1:http\",\n"
                       "]\n");
  EXPECT_EQ(text, "test.toml:4:3: node.initial_peers: element 1: bad address "
                  "'127.0.0.1:http': port 'http' is not a number");
  EXPECT_CONTAINS(error_of("[node]\ninitial_peers = [\"127.0.0.1:0\"]\n"),
                  "port 0 cannot be dialed");
  EXPECT_CONTAINS(error_of("[node]\ninitial_peers = [\"/ip4/1.2.3.4/tcp/5/p2p/"
                           "Qmbad\"]\n"),
                  "bad peer id");
}

TEST(node_config, bad_values) {
  EXPECT_STARTS_WITH(error_of("[node]\nlog_level = \"loud\"\n"),
                     "test.toml:2:13: node.log_level: unknown log level "
                     "'loud'");
  EXPECT_STARTS_WITH(error_of("[node]\nswarm_id = \"\"\n"),
                     "test.toml:2:12: node.swarm_id: must not be empty");
  EXPECT_STARTS_WITH(error_of("[transport]\npart_bytes = 0\n"),
                     "test.toml:2:14: transport.part_bytes: must be a "
                     "positive number of bytes, got 0");
  EXPECT_CONTAINS(error_of("[transport]\nmax_frame_bytes = -5\n"),
                  "must be a positive number of bytes, got -5");
  EXPECT_STARTS_WITH(error_of("[transport]\npeer_timeout = 0.0\n"),
                     "test.toml:2:16: transport.peer_timeout: must be a "
                     "positive number of seconds");
  EXPECT_CONTAINS(error_of("[transport]\nconnect_timeout = -1\n"),
                  "must be a positive number of seconds, got -1");
  EXPECT_CONTAINS(error_of("[transport]\nconnect_timeout = nan\n"),
                  "must be a positive number of seconds");
  EXPECT_CONTAINS(error_of("[transport]\nconnect_timeout = inf\n"), "must be");
  EXPECT_CONTAINS(error_of("[transport]\nconnect_timeout = 0.0001\n"),
                  "at least 0.001 seconds");
}

TEST(node_config, inconsistent_values) {
  auto text = error_of("[transport]\n"
                       "max_frame_bytes = 1048576\n"
                       "part_bytes = 1048576\n");
  EXPECT_EQ(text, "test.toml:3:14: transport.part_bytes (1048576) must be at "
                  "most half of transport.max_frame_bytes (1048576)");
  // Reported at max_frame_bytes when part_bytes keeps its default.
  EXPECT_STARTS_WITH(error_of("\n[transport]\nmax_frame_bytes = 1048576\n"),
                     "test.toml:3:19: transport.part_bytes (1048576)");
  EXPECT_STARTS_WITH(error_of("[transport]\nmax_inflight_bytes = 1000\n"),
                     "test.toml:2:22: transport.max_inflight_bytes (1000) "
                     "must be at least transport.max_frame_bytes");
  EXPECT_STARTS_WITH(error_of("[transport]\npeer_timeout = 1.0\n"),
                     "test.toml:2:16: transport.heartbeat_interval (1 s) must "
                     "be shorter than transport.peer_timeout");
}

TEST(node_config, reports_every_problem_in_file_order) {
  auto text = error_of("[transport]\n"
                       "part_bytes = 0\n"
                       "[node]\n"
                       "listen = 1\n"
                       "log_level = \"x\"\n");
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2) << text;
  auto a = text.find("test.toml:2:");
  auto b = text.find("test.toml:4:");
  auto c = text.find("test.toml:5:");
  ASSERT_NE(c, std::string::npos) << text;
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
}

TEST(node_config, typed_overrides) {
  auto cfg = must_parse("[transport]\npeer_timeout = 10.0\n",
                        {"transport.peer_timeout=2.5",
                         "node.initial_peers=[\"a:1\", \"b:2\"]",
                         "node.client_mode=true", "transport.part_bytes=4096"});
  EXPECT_EQ(cfg.transport.peer_timeout, 2500ms);
  EXPECT_EQ(cfg.initial_peers, (std::vector<std::string>{"a:1", "b:2"}));
  EXPECT_TRUE(cfg.client_mode);
  EXPECT_EQ(cfg.transport.part_bytes, 4096u);
}

TEST(node_config, plain_string_overrides) {
  auto cfg =
      must_parse("", {"node.listen=127.0.0.1:5000", "node.swarm_id=2024",
                      "node.log_level=debug", "node.identity_path=/tmp/x y.key",
                      "node.initial_peers=127.0.0.1:31337"});
  EXPECT_EQ(cfg.listen, "127.0.0.1:5000");
  EXPECT_EQ(cfg.swarm_id, "2024");
  EXPECT_EQ(cfg.log_level, "debug");
  EXPECT_EQ(cfg.identity_path, "/tmp/x y.key");
  EXPECT_EQ(cfg.initial_peers, (std::vector<std::string>{"127.0.0.1:31337"}));
  // A quoted TOML string works too, and an empty value is an empty string.
  auto quoted = must_parse("[node]\nidentity_path = \"a.key\"\n",
                           {"node.swarm_id=\"s\"", "node.identity_path="});
  EXPECT_EQ(quoted.swarm_id, "s");
  EXPECT_EQ(quoted.identity_path, "");
}

TEST(node_config, overrides_apply_before_validation) {
  // The file's value is invalid, but the override replaces it.
  auto cfg =
      must_parse("[node]\nlisten = \"nope\"\n", {"node.listen=127.0.0.1:7000"});
  EXPECT_EQ(cfg.listen, "127.0.0.1:7000");
  // A later override wins; cross-key rules see the overridden values.
  auto later =
      must_parse("", {"transport.peer_timeout=1", "transport.peer_timeout=3"});
  EXPECT_EQ(later.transport.peer_timeout, 3000ms);
  EXPECT_EQ(error_of("", {"transport.peer_timeout=1"}),
            "--set transport.peer_timeout: transport.heartbeat_interval (1 s) "
            "must be shorter than transport.peer_timeout (1 s)");
}

TEST(node_config, bad_overrides) {
  EXPECT_STARTS_WITH(error_of("", {"node.nope=1"}),
                     "--set node.nope: unknown key 'nope' in [node]");
  EXPECT_STARTS_WITH(error_of("", {"trainerx.steps=20"}),
                     "--set trainerx.steps: unknown section [trainerx]");
  EXPECT_STARTS_WITH(error_of("", {"listen=1.2.3.4:5"}),
                     "--set listen: expected section.key=value");
  EXPECT_STARTS_WITH(error_of("", {"node.listen"}),
                     "--set node.listen: expected section.key=value");
  EXPECT_EQ(error_of("", {"transport.peer_timeout=soon"}),
            "--set transport.peer_timeout: transport.peer_timeout: expected a "
            "number (seconds), got a string");
  EXPECT_EQ(error_of("", {"node.listen=127.0.0.1:99999"}),
            "--set node.listen: node.listen: bad address '127.0.0.1:99999': "
            "port 99999 is out of range (0..65535)");
  EXPECT_STARTS_WITH(error_of("", {"node.client_mode=yes"}),
                     "--set node.client_mode: node.client_mode: expected a "
                     "boolean");
  // File problems come before override problems.
  auto both = error_of("[node]\nlog_level = \"x\"\n", {"node.nope=1"});
  EXPECT_STARTS_WITH(both, "test.toml:2:13: node.log_level");
  EXPECT_CONTAINS(both, "\n--set node.nope: unknown key");
}

TEST(node_config, security_keys_are_checked) {
  EXPECT_CONTAINS(error_of("[node]\nswarm_authority = \"not-a-peer\"\n"),
                  "node.swarm_authority");
  EXPECT_CONTAINS(error_of("[transport]\nencryption = \"no\"\n"),
                  "transport.encryption: expected a boolean");
  EXPECT_CONTAINS(error_of("[transport]\nmax_connections_per_ip = -1\n"),
                  "transport.max_connections_per_ip");
  EXPECT_CONTAINS(error_of("[transport]\nmax_calls_per_peer = -1\n"),
                  "transport.max_calls_per_peer");
  EXPECT_CONTAINS(error_of("[transport]\nmax_request_bytes_per_peer = \"x\"\n"),
                  "transport.max_request_bytes_per_peer");
}

TEST(node_config, dht_storage_limits) {
  auto defaults = must_parse("[dht]\nenabled = true\n");
  EXPECT_EQ(defaults.dht.storage_maxsize, 100000u);
  EXPECT_EQ(defaults.dht.max_storage_share, 0.1);
  EXPECT_EQ(defaults.dht.stores_per_peer_per_minute, 12000u);
  EXPECT_EQ(defaults.dht.max_expiration_horizon, std::chrono::hours(24));
  EXPECT_EQ(defaults.dht.max_value_bytes, 8192u);
  auto cfg = must_parse("[dht]\n"
                        "storage_maxsize = 500\n"
                        "max_storage_share = 0.25\n"
                        "stores_per_peer_per_minute = 60\n"
                        "max_expiration_horizon = 3600\n"
                        "max_value_bytes = 65536\n");
  EXPECT_EQ(cfg.dht.storage_maxsize, 500u);
  EXPECT_EQ(cfg.dht.max_storage_share, 0.25);
  EXPECT_EQ(cfg.dht.stores_per_peer_per_minute, 60u);
  EXPECT_EQ(cfg.dht.max_expiration_horizon, std::chrono::hours(1));
  EXPECT_EQ(cfg.dht.max_value_bytes, 65536u);
  EXPECT_CONTAINS(error_of("[dht]\nmax_storage_share = 0\n"),
                  "dht.max_storage_share: must be a fraction in (0, 1], got 0");
  EXPECT_CONTAINS(error_of("[dht]\nmax_storage_share = 1.5\n"),
                  "dht.max_storage_share: must be a fraction in (0, 1]");
  EXPECT_CONTAINS(error_of("[dht]\nmax_storage_share = \"half\"\n"),
                  "dht.max_storage_share: expected");
  EXPECT_CONTAINS(error_of("[dht]\nmax_expiration_horizon = inf\n"),
                  "dht.max_expiration_horizon");
  EXPECT_CONTAINS(error_of("[dht]\nmax_expiration_horizon = -1\n"),
                  "dht.max_expiration_horizon");
  EXPECT_CONTAINS(error_of("[dht]\nmax_value_bytes = 0\n"),
                  "dht.max_value_bytes");
  EXPECT_CONTAINS(error_of("[dht]\nstores_per_peer_per_minute = -5\n"),
                  "dht.stores_per_peer_per_minute");
  auto unknown = error_of("[dht]\nmax_share = 0.5\n");
  EXPECT_CONTAINS(unknown, "unknown key 'max_share' in [dht]");
  EXPECT_CONTAINS(unknown, "max_expiration_horizon, max_storage_share, "
                           "max_value_bytes");
  EXPECT_CONTAINS(unknown, "storage_maxsize, stores_per_peer_per_minute");
}

TEST(node_config, lists_its_keys) {
  auto keys = node_config_keys();
  EXPECT_EQ(keys.size(), 148u);
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
  for (auto key : {"node.listen",
                   "node.client_mode",
                   "transport.peer_timeout",
                   "transport.max_frame_bytes",
                   "transport.max_calls_per_peer",
                   "transport.max_request_bytes_per_peer",
                   "experts.expert_pattern",
                   "experts.clip_grad_norm",
                   "experts.drop_rate",
                   "averagers.prefix",
                   "averagers.target_group_size",
                   "averagers.averaging_alpha",
                   "averagers.floats",
                   "averagers.perturb",
                   "averagers.log_rounds",
                   "trainer.collaborative",
                   "trainer.target_batch_size",
                   "trainer.max_epochs",
                   "dht.max_storage_share",
                   "dht.stores_per_peer_per_minute",
                   "dht.max_expiration_horizon",
                   "dht.max_value_bytes"})
    EXPECT_NE(std::find(keys.begin(), keys.end(), key), keys.end()) << key;
}

TEST(node_config, reads_expert_groups) {
  auto cfg = must_parse(R"(
[[experts]]
expert_pattern = "ffn.[0:4].[0:8]"
num_experts = 5
hidden_dim = 512
optimizer = "sgd"
learning_rate = 0.5
scheduler = "linear"
num_warmup_steps = 2
num_training_steps = 10
clip_grad_norm = 1.5
update_period = 2
compression = "float16"
checkpoint_dir = "ckpt"
[[experts]]
expert_uids = ["nop.0", "nop.1"]
expert_cls = "nop"
)");
  ASSERT_EQ(cfg.experts.size(), 2u);
  auto& a = cfg.experts[0];
  EXPECT_EQ(a.expert_pattern, "ffn.[0:4].[0:8]");
  EXPECT_EQ(a.num_experts, 5u);
  EXPECT_EQ(a.hidden_dim, 512);
  EXPECT_EQ(a.backend.optimizer, "sgd");
  EXPECT_DOUBLE_EQ(a.backend.learning_rate, 0.5);
  EXPECT_EQ(a.backend.scheduler, "linear");
  EXPECT_EQ(a.backend.num_training_steps, 10);
  EXPECT_DOUBLE_EQ(a.backend.clip_grad_norm, 1.5);
  EXPECT_EQ(a.update_period, 2000ms);
  EXPECT_EQ(a.effective_expiration(), 4000ms);
  EXPECT_EQ(a.compression, compression_type::float16);
  EXPECT_EQ(a.checkpoint_dir, "ckpt");
  auto& b = cfg.experts[1];
  EXPECT_EQ(b.expert_uids, (std::vector<std::string>{"nop.0", "nop.1"}));
  EXPECT_EQ(b.expert_cls, "nop");
  EXPECT_EQ(b.hidden_dim, 1024); // hivemind's default
  EXPECT_EQ(b.max_batch_size, 16384u);
  EXPECT_EQ(b.effective_expiration(), 60000ms);
  // An override applies to every group, or makes one.
  auto over = must_parse("[[experts]]\nexpert_uids = [\"a.0\"]\n"
                         "[[experts]]\nexpert_uids = [\"b.0\"]\n",
                         {"experts.hidden_dim=64"});
  ASSERT_EQ(over.experts.size(), 2u);
  EXPECT_EQ(over.experts[1].hidden_dim, 64);
  auto made =
      must_parse("", {"experts.expert_uids=ffn.0", "experts.device=cpu"});
  ASSERT_EQ(made.experts.size(), 1u);
  EXPECT_EQ(made.experts[0].expert_uids, (std::vector<std::string>{"ffn.0"}));
}

TEST(node_config, rejects_bad_expert_groups) {
  EXPECT_CONTAINS(error_of("[[experts]]\nexpert_uids = [\"ffn.0\"]\n"
                           "optimizer = \"adamw\"\n"),
                  "test.toml:3:13: experts.optimizer: unknown value 'adamw'");
  EXPECT_CONTAINS(error_of("[[experts]]\nexpert_uids = [\"ffn\"]\n"),
                  "experts.expert_uids: element 0");
  EXPECT_CONTAINS(error_of("[[experts]]\nexpert_cls = \"ffn\"\n"),
                  "needs expert_uids, or expert_pattern and num_experts > 0");
  EXPECT_CONTAINS(error_of("[[experts]]\nexpert_uids = [\"ffn.0\"]\n"
                           "min_batch_size = 9\nmax_batch_size = 4\n"),
                  "exceeds max_batch_size");
  EXPECT_CONTAINS(error_of("[[experts]]\nexpert_uids = [\"ffn.0\"]\n"
                           "scheduler = \"linear\"\n"),
                  "num_training_steps > 0");
  EXPECT_CONTAINS(error_of("[[experts]]\nexpert_uids = [\"ffn.0\"]\n"
                           "compression = \"zip\"\n"),
                  "unknown compression 'zip'");
  EXPECT_CONTAINS(error_of("[[experts]]\nexpert_pattern = \"ffn.[4:2]\"\n"
                           "num_experts = 1\n"),
                  "experts.expert_pattern");
  EXPECT_CONTAINS(error_of("[experts]\nhidden_dim = 3\n"),
                  "experts must be written [[experts]]");
  EXPECT_CONTAINS(error_of("[[experts]]\nexpert_uids = [\"ffn.0\"]\n"
                           "hidden = 3\n"),
                  "unknown key 'hidden' in [experts]");
  EXPECT_CONTAINS(error_of("[[experts]]\nexpert_uids = [\"ffn.0\"]\n"
                           "learning_rate = -1\n"),
                  "must be a non-negative number");
}

TEST(node_config, reads_averager_groups) {
  auto cfg = must_parse(R"(
[dht]
enabled = true
[[averagers]]
prefix = "dense"
target_group_size = 4
min_group_size = 3
initial_group_bits = "01"
min_matchmaking_time = 0.5
averaging_alpha = 0.5
part_size_bytes = 65536
compression = "float16"
floats = 1000
tensors = 3
seed = 7
average_period = 2
weight = 2.5
[[averagers]]
prefix = "opt"
)");
  ASSERT_EQ(cfg.averagers.size(), 2u);
  auto& a = cfg.averagers[0];
  EXPECT_EQ(a.options.prefix, "dense");
  ASSERT_TRUE(a.options.target_group_size);
  EXPECT_EQ(*a.options.target_group_size, 4u);
  EXPECT_EQ(a.options.min_group_size, 3u);
  EXPECT_EQ(a.options.initial_group_bits, "01");
  EXPECT_EQ(a.options.min_matchmaking_time, 500ms);
  EXPECT_DOUBLE_EQ(a.options.averaging_alpha, 0.5);
  EXPECT_EQ(a.options.part_size_bytes, 65536u);
  EXPECT_EQ(a.floats, 1000u);
  EXPECT_EQ(a.tensors, 3u);
  EXPECT_EQ(a.seed, 7u);
  EXPECT_EQ(a.average_period, 2000ms);
  EXPECT_DOUBLE_EQ(a.weight, 2.5);
  // The second keeps hivemind's defaults.
  auto& b = cfg.averagers[1];
  EXPECT_EQ(b.options.prefix, "opt");
  EXPECT_FALSE(b.options.target_group_size);
  EXPECT_EQ(b.options.min_group_size, 2u);
  EXPECT_EQ(b.options.min_matchmaking_time, 5000ms);
  EXPECT_EQ(b.options.request_timeout, 3000ms);
  EXPECT_DOUBLE_EQ(b.options.averaging_alpha, 1.0);
  EXPECT_EQ(b.options.part_size_bytes, 512u * 1024u);
  EXPECT_EQ(b.average_period, 0ms);
}

TEST(node_config, rejects_bad_averager_groups) {
  const std::string dht = "[dht]\nenabled = true\n";
  EXPECT_CONTAINS(error_of(dht + "[[averagers]]\nprefix = \"a\"\n"
                                 "target_group_size = 2\nmin_group_size = 3\n"),
                  "is below min_group_size");
  EXPECT_CONTAINS(error_of(dht + "[[averagers]]\nprefix = \"a\"\n"
                                 "[[averagers]]\nprefix = \"a\"\n"),
                  "prefix 'a' is averaged twice on this node");
  EXPECT_CONTAINS(error_of(dht + "[[averagers]]\nprefix = \"a\"\n"
                                 "floats = 2\ntensors = 3\n"),
                  "tensors (3) exceeds floats (2)");
  EXPECT_CONTAINS(error_of("[[averagers]]\nprefix = \"a\"\n"),
                  "set [dht] enabled = true");
  EXPECT_CONTAINS(error_of(dht + "[[averagers]]\nprefix = \"a\"\n"
                                 "averaging_alpha = -1\n"),
                  "averaging_alpha");
  EXPECT_CONTAINS(error_of(dht + "[[averagers]]\nprefix = \"a\"\n"
                                 "initial_group_bits = \"012\"\n"),
                  "initial_group_bits");
  EXPECT_CONTAINS(error_of(dht + "[[averagers]]\nprefix = \"a\"\n"
                                 "compression = \"zip\"\n"),
                  "zip");
  EXPECT_CONTAINS(error_of(dht + "[[averagers]]\nprefix = \"a\"\n"
                                 "groups = 3\n"),
                  "unknown key 'groups' in [averagers]");
  EXPECT_CONTAINS(error_of(dht + "[averagers]\nprefix = \"a\"\n"),
                  "averagers must be written [[averagers]]");
}

TEST(node_config, drop_rate_is_a_fraction) {
  auto group = [](const std::string& value) {
    return "[[experts]]\nexpert_uids = [\"ffn.0\"]\ndrop_rate = " + value +
           "\n";
  };
  EXPECT_EQ(error_of(group("1.5")),
            "test.toml:3:13: experts.drop_rate: must be between 0 and 1, "
            "got 1.5");
  EXPECT_STARTS_WITH(error_of(group("-0.1")), "test.toml:3:13: "
                                              "experts.drop_rate: must be "
                                              "between 0 and 1, got -0.1");
  EXPECT_CONTAINS(error_of(group("nan")), "experts.drop_rate: must be");
  EXPECT_CONTAINS(error_of(group("2")), "experts.drop_rate: must be");
  EXPECT_CONTAINS(error_of(group("\"a lot\"")), "experts.drop_rate");
  EXPECT_EQ(error_of(group("0"), {"experts.drop_rate=1.5"}),
            "--set experts.drop_rate: experts.drop_rate: must be between 0 "
            "and 1, got 1.5");
  auto parsed = must_parse(group("0.25"));
  ASSERT_EQ(parsed.experts.size(), 1u);
  EXPECT_DOUBLE_EQ(parsed.experts[0].drop_rate, 0.25);
  // Both ends are allowed; an integer is a number too.
  EXPECT_EQ(must_parse(group("1")).experts[0].drop_rate, 1.0);
  EXPECT_EQ(must_parse(group("0.0")).experts[0].drop_rate, 0.0);
  EXPECT_EQ(
      must_parse(group("0"), {"experts.drop_rate=0.1"}).experts[0].drop_rate,
      0.1);
  EXPECT_EQ(expert_group_config{}.drop_rate, 0.0);
}

TEST(node_config, reads_the_trainer_section) {
  EXPECT_FALSE(must_parse("").has_trainer);
  auto cfg = must_parse(R"(
[trainer]
classes = [0, 1]
hidden_dim = 64
layer = "switch"
grids = ["a.[0:2]", "b.[0:3].[0:4]"]
k_best = 2
timeout_after_k_min = 0
failure_backoff = 0.5
max_time = 2.5
batch_size = 32
)",
                        {"trainer.seed=9", "trainer.eval_every=0"});
  EXPECT_TRUE(cfg.has_trainer);
  const auto& t = cfg.trainer;
  EXPECT_EQ(t.classes, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(t.hidden_dim, 64);
  EXPECT_EQ(t.layer, "switch");
  EXPECT_EQ(t.grids.size(), 2u);
  EXPECT_EQ(t.k_best, 2u);
  EXPECT_EQ(t.timeout_after_k_min.count(), 0);
  EXPECT_EQ(t.failure_backoff.count(), 500);
  EXPECT_EQ(t.max_failure_backoff.count(), 30000); // the default
  EXPECT_EQ(must_parse("", {"trainer.failure_backoff=0", "trainer.max_steps=5"})
                .trainer.failure_backoff.count(),
            0);
  EXPECT_EQ(t.max_time.count(), 2500);
  EXPECT_EQ(t.max_steps, 0u);
  EXPECT_EQ(t.batch_size, 32u);
  EXPECT_EQ(t.seed, 9u);
  EXPECT_EQ(t.eval_every, 0u);
  // An override alone makes the section, and one integer is a list of one.
  auto over = must_parse("", {"trainer.max_steps=5", "trainer.classes=3"});
  EXPECT_TRUE(over.has_trainer);
  EXPECT_EQ(over.trainer.classes, (std::vector<int64_t>{3}));
}

TEST(node_config, rejects_bad_trainer_sections) {
  EXPECT_CONTAINS(error_of("[trainer]\nbatch_size = 8\n"),
                  "[trainer] needs max_steps, max_time or max_epochs");
  EXPECT_CONTAINS(error_of("[trainer]\nmax_steps = 1\nclasses = [0, 12]\n"),
                  "test.toml:3:15: trainer.classes: element 1: must be between "
                  "0 and 9, got 12");
  EXPECT_CONTAINS(error_of("[trainer]\nmax_steps = 1\ngrids = [\"f.[2:4]\"]\n"),
                  "trainer.grids: element 0: grid 'f.[2:4]'");
  EXPECT_CONTAINS(error_of("[trainer]\nmax_steps = 1\ngrids = []\n"),
                  "at least one grid");
  EXPECT_CONTAINS(error_of("[trainer]\nmax_steps = 1\nlayer = \"dense\"\n"),
                  "trainer.layer: unknown value 'dense' (moe, switch)");
  EXPECT_CONTAINS(error_of("[trainer]\nmax_steps = 1\nlayer = \"switch\"\n"
                           "local_experts = true\n"),
                  "local_experts needs layer = \"moe\"");
  EXPECT_CONTAINS(error_of("[trainer]\nmax_steps = 1\nforward_timeout = 0\n"),
                  "trainer.forward_timeout: must be a positive number");
  EXPECT_CONTAINS(error_of("[trainer]\nmax_steps = 1\nfailure_backoff = -1\n"),
                  "trainer.failure_backoff: must be");
  EXPECT_CONTAINS(
      error_of("[trainer]\nmax_steps = 1\nmax_failure_backoff = 0\n"),
      "trainer.max_failure_backoff: must be a positive number");
  EXPECT_CONTAINS(error_of("[trainer]\nmax_steps = 1\nlearning_rate = 0\n"),
                  "learning_rate must be positive");
  EXPECT_CONTAINS(error_of("", {"trainer.classes=[\"a\"]"}),
                  "element 0: expected an integer, got a string");
}

TEST(node_config, control_peers_are_peer_ids) {
  auto id = identity::generate();
  ASSERT_TRUE(id);
  auto text = id->peer_id().to_string();
  auto cfg = must_parse("[node]\ncontrol_peers = [\"" + text + "\"]\n");
  EXPECT_EQ(cfg.control_peers, std::vector<std::string>{text});
  EXPECT_TRUE(must_parse("").control_peers.empty());
  EXPECT_EQ(must_parse("", {"node.control_peers=" + text}).control_peers,
            std::vector<std::string>{text});
  EXPECT_CONTAINS(error_of("[node]\ncontrol_peers = [\"not-a-peer\"]\n"),
                  "test.toml:2:");
  EXPECT_CONTAINS(error_of("[node]\ncontrol_peers = [\"not-a-peer\"]\n"),
                  "node.control_peers");
}

} // namespace
} // namespace colony

namespace colony {
namespace {

TEST(node_config, expert_cls_names_a_registered_class_or_a_file) {
  EXPECT_EQ(must_parse("[[experts]]\nexpert_uids = [\"x.0\"]\n"
                       "expert_cls = \"nop\"\n")
                .experts.at(0)
                .expert_cls,
            "nop");
  auto unknown = error_of("[[experts]]\nexpert_uids = [\"x.0\"]\n"
                          "expert_cls = \"nosuch\"\n");
  EXPECT_STARTS_WITH(unknown, "test.toml:3:14: experts.expert_cls: unknown "
                              "expert class 'nosuch' (known: ");
  EXPECT_CONTAINS(unknown, "ffn");
  EXPECT_CONTAINS(unknown, "or a TorchScript file ending in .pt or .ts)");
  EXPECT_EQ(error_of("", {"experts.expert_uids=x.0",
                          "experts.expert_cls=/nonexistent/expert.pt"}),
            "--set experts.expert_cls: experts.expert_cls: no TorchScript "
            "file '/nonexistent/expert.pt'");
  EXPECT_CONTAINS(error_of("[trainer]\nmax_steps = 1\nexpert_cls = \"x\"\n"),
                  "test.toml:3:14: trainer.expert_cls: unknown expert class "
                  "'x'");
}

TEST(node_config, num_experts_fits_in_the_pattern) {
  auto cfg = must_parse("[[experts]]\nexpert_pattern = \"ffn.[0:2].[0:4]\"\n"
                        "num_experts = 8\n");
  EXPECT_EQ(cfg.experts.at(0).num_experts, 8u);
  EXPECT_EQ(error_of("[[experts]]\nexpert_pattern = \"ffn.[0:2].[0:4]\"\n"
                     "num_experts = 9\n"),
            "test.toml:3:15: [[experts]] #1: num_experts (9) is more than the "
            "8 uids of expert_pattern ffn.[0:2].[0:4]");
  EXPECT_EQ(error_of("", {"experts.expert_pattern=ffn.[0:4]",
                          "experts.num_experts=100"}),
            "--set experts.num_experts: [[experts]] #1: num_experts (100) is "
            "more than the 4 uids of expert_pattern ffn.[0:4]");
}

TEST(node_config, bad_durations_are_refused_from_files_and_overrides) {
  for (auto bad : {"-1", "-0.5", "nan", "1e300", "0"}) {
    auto text = error_of("", {std::string{"dht.refresh_period="} + bad});
    EXPECT_STARTS_WITH(text, "--set dht.refresh_period: dht.refresh_period: "
                             "must be");
  }
}

TEST(node_config, missing_file_or_directory_reads_as_path_and_reason) {
  auto missing = load_node_config("/nonexistent/colony.toml", {});
  ASSERT_FALSE(missing);
  EXPECT_EQ(error_reason(missing.error()),
            "/nonexistent/colony.toml: no such file");
  auto dir = load_node_config(COLONY_SOURCE_DIR "/configs", {});
  ASSERT_FALSE(dir);
  EXPECT_EQ(error_reason(dir.error()),
            COLONY_SOURCE_DIR "/configs: is a directory, not a config file");
}

TEST(node_config, reads_and_checks_collaborative_trainers) {
  auto ok = must_parse(
      "", {"dht.enabled=true", "trainer.max_epochs=4",
           "trainer.collaborative=true", "trainer.run_id=fm",
           "trainer.target_batch_size=512", "trainer.matchmaking_time=2.5",
           "trainer.grad_averager=\"power_sgd\"", "trainer.power_sgd_rank=8",
           "trainer.average_opt_statistics=[\"exp_avg_sq\"]",
           "trainer.local_experts=true", "trainer.averaging_drop_rate=0.1"});
  EXPECT_TRUE(ok.trainer.collaborative);
  EXPECT_TRUE(ok.trainer.local_experts);
  EXPECT_DOUBLE_EQ(ok.trainer.collaboration.averaging_drop_rate, 0.1);
  EXPECT_CONTAINS(error_of("[trainer]\naveraging_drop_rate = 1.5\n"),
                  "trainer.averaging_drop_rate");
  // An auxiliary peer needs no budget (it runs until its node stops), but a
  // collaborative run to help.
  auto aux = must_parse("", {"dht.enabled=true", "trainer.collaborative=true",
                             "trainer.run_id=fm", "trainer.auxiliary=true",
                             "trainer.target_batch_size=512"});
  EXPECT_TRUE(aux.trainer.collaboration.auxiliary);
  EXPECT_CONTAINS(error_of("[trainer]\nmax_steps = 2\nauxiliary = true\n"),
                  "trainer.auxiliary helps a collaborative run");
  EXPECT_EQ(ok.trainer.max_epochs, 4u);
  EXPECT_EQ(ok.trainer.collaboration.run_id, "fm");
  EXPECT_EQ(ok.trainer.collaboration.target_batch_size, 512u);
  EXPECT_EQ(ok.trainer.collaboration.matchmaking_time.count(), 2500);
  EXPECT_EQ(ok.trainer.collaboration.grad_averager,
            optim::grad_averager_kind::power_sgd);
  EXPECT_EQ(ok.trainer.collaboration.power_sgd_rank, 8);
  EXPECT_EQ(must_parse("").trainer.collaboration.grad_averager,
            optim::grad_averager_kind::plain);
  EXPECT_CONTAINS(error_of("[trainer]\nmax_steps = 2\ngrad_averager = "
                           "\"topk\"\n"),
                  "unknown gradient averager 'topk' (plain, power_sgd)");
  EXPECT_CONTAINS(error_of("[trainer]\nmax_steps = 2\npower_sgd_rank = 0\n"),
                  "trainer.power_sgd_rank");
  EXPECT_CONTAINS(error_of("[dht]\nenabled = true\n[trainer]\nmax_steps = 2\n"
                           "collaborative = true\nrun_id = \"r\"\n"
                           "target_batch_size = 64\nuse_local_updates = true\n"
                           "grad_averager = \"power_sgd\"\n"),
                  "grad_averager = power_sgd does not apply");
  EXPECT_EQ(ok.trainer.collaboration.average_opt_statistics,
            (std::vector<std::string>{"exp_avg_sq"}));
  EXPECT_CONTAINS(error_of("[trainer]\nmax_epochs = 2\n"),
                  "trainer.max_epochs counts collaborative epochs");
  EXPECT_CONTAINS(error_of("[trainer]\nmax_steps = 2\ncollaborative = true\n"
                           "run_id = \"r\"\ntarget_batch_size = 64\n"),
                  "trainer.collaborative needs [dht] enabled = true");
  EXPECT_CONTAINS(error_of("[dht]\nenabled = true\n[trainer]\nmax_steps = 2\n"
                           "collaborative = true\ntarget_batch_size = 64\n"),
                  "[trainer] collaborative: ");
  EXPECT_CONTAINS(error_of("[trainer]\nmax_steps = 2\ntarget_batch_size = 0\n"),
                  "trainer.target_batch_size");
}

} // namespace
} // namespace colony
