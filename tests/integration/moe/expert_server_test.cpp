// Expert servers over loopback: every built-in layer, batching, schema
// errors, failing batches, checkpoints, DHT declarations, the CLI, and
// fault injection (drop_rate).

#include "actors/dht/dht_client.hpp"
#include "actors/moe/client/expert_client.hpp"
#include "actors/moe/expert_directory.hpp"
#include "actors/moe/server/expert_module.hpp"
#include "actors/moe/server/layer_registry.hpp"
#include "tests/integration/test_nodes.hpp"
#include "tests/support/wait_until.hpp"

#include <torch/torch.h>

#include <filesystem>
#include <optional>
#include <thread>

using namespace colony;
using namespace colony::apps;
using namespace colony::testing;
using namespace std::chrono_literals;

namespace {

expert_group_config group(std::vector<std::string> uids, std::string cls,
                          int64_t hidden) {
  return expert_group(std::move(uids), std::move(cls), hidden);
}

/// A server node hosting `groups` (no DHT) and a client node beside it.
/// A server, a client node beside it, and an expert client on that node.
struct server_and_client : local_expert_server {
  std::unique_ptr<moe::expert_client> client;
  node* client_node = nullptr;

  explicit server_and_client(std::vector<expert_group_config> groups)
      : local_expert_server(std::move(groups)) {
    if (!local_expert_server::client)
      return;
    client_node = local_expert_server::client.get();
    client = std::make_unique<moe::expert_client>(client_node->system(),
                                                  client_node->transport());
  }

  bool ok() const { return server && client; }
};

/// Random tensors matching `schemas` with `batch` rows.
std::vector<at::Tensor>
make_inputs(const std::vector<moe::tensor_schema>& schemas, int64_t batch) {
  std::vector<at::Tensor> out;
  for (auto& s : schemas) {
    std::vector<int64_t> shape{batch};
    shape.insert(shape.end(), s.shape.begin(), s.shape.end());
    if (s.dtype == at::kBool)
      out.push_back(torch::rand(shape) > 0.3);
    else
      out.push_back(torch::randn(shape).to(s.dtype));
  }
  return out;
}

void expect_shapes(const std::vector<at::Tensor>& tensors,
                   const std::vector<moe::tensor_schema>& schemas,
                   int64_t batch) {
  ASSERT_EQ(tensors.size(), schemas.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    EXPECT_EQ(tensors[i].size(0), batch);
    EXPECT_EQ(moe::tensor_schema::of(tensors[i]), schemas[i]) << "tensor " << i;
  }
}

} // namespace

TEST(expert_server, forward_and_backward_of_every_builtin_layer) {
  server_and_client sc{
      {group({"ffn.0"}, "ffn", 16), group({"transformer.0"}, "transformer", 32),
       group({"nop.0"}, "nop", 16), group({"delay.0"}, "nop_delay", 16),
       group({"dd.0"}, "det_dropout", 16)}};
  ASSERT_TRUE(sc.ok());
  auto listed = sc.client->list(sc.address(), 5s);
  ASSERT_TRUE(listed) << describe(listed.error());
  EXPECT_EQ(listed->size(), 5u);
  for (auto uid : {"ffn.0", "transformer.0", "nop.0", "delay.0", "dd.0"}) {
    SCOPED_TRACE(uid);
    auto info = sc.client->info(sc.address(), uid, 5s);
    ASSERT_TRUE(info) << describe(info.error());
    EXPECT_EQ(info->uid, uid);
    for (int64_t batch : {1, 4}) {
      auto inputs = make_inputs(info->schema.inputs, batch);
      auto out = sc.client->forward(sc.address(), uid, inputs, 10s);
      ASSERT_TRUE(out) << describe(out.error());
      expect_shapes(*out, info->schema.outputs, batch);
      auto grads = make_inputs(info->schema.outputs, batch);
      auto back = sc.client->backward(sc.address(), uid, inputs, grads, 10s);
      ASSERT_TRUE(back) << describe(back.error());
      expect_shapes(*back, info->schema.inputs, batch);
    }
  }
  auto tr = sc.client->info(sc.address(), "transformer.0", 5s);
  ASSERT_TRUE(tr);
  ASSERT_EQ(tr->schema.inputs.size(), 2u);
  EXPECT_EQ(tr->schema.inputs[0].shape, (std::vector<int64_t>{128, 32}));
  EXPECT_EQ(tr->schema.inputs[1].dtype, at::kBool);
}

TEST(expert_server, batched_call_equals_per_row_calls) {
  auto g = group({"ffn.0"}, "ffn", 16);
  g.backend.optimizer = "none";
  server_and_client sc{{g}};
  ASSERT_TRUE(sc.ok());
  auto x = torch::randn({4, 16});
  auto batched = sc.client->forward(sc.address(), "ffn.0", {x}, 5s);
  ASSERT_TRUE(batched) << describe(batched.error());
  for (int64_t row = 0; row < 4; ++row) {
    auto single = sc.client->forward(sc.address(), "ffn.0",
                                     {x.slice(0, row, row + 1)}, 5s);
    ASSERT_TRUE(single) << describe(single.error());
    EXPECT_TRUE(torch::allclose(
        (*single)[0], (*batched)[0].slice(0, row, row + 1), 1e-5, 1e-5))
        << "row " << row;
  }
  // Backward of a batch equals per-row backward too (no optimizer).
  auto g4 = torch::randn({4, 16});
  auto back = sc.client->backward(sc.address(), "ffn.0", {x}, {g4}, 5s);
  ASSERT_TRUE(back) << describe(back.error());
  for (int64_t row = 0; row < 4; ++row) {
    auto single =
        sc.client->backward(sc.address(), "ffn.0", {x.slice(0, row, row + 1)},
                            {g4.slice(0, row, row + 1)}, 5s);
    ASSERT_TRUE(single);
    EXPECT_TRUE(torch::allclose((*single)[0], (*back)[0].slice(0, row, row + 1),
                                1e-5, 1e-5));
  }
}

TEST(expert_server, det_dropout_is_deterministic) {
  auto g = group({"dd.0"}, "det_dropout", 16);
  g.backend.optimizer = "none";
  server_and_client sc{{g}};
  ASSERT_TRUE(sc.ok());
  auto info = sc.client->info(sc.address(), "dd.0", 5s);
  ASSERT_TRUE(info);
  auto inputs = make_inputs(info->schema.inputs, 3);
  auto a = sc.client->forward(sc.address(), "dd.0", inputs, 5s);
  auto b = sc.client->forward(sc.address(), "dd.0", inputs, 5s);
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(torch::equal((*a)[0], (*b)[0]));
}

TEST(expert_server, wrong_inputs_and_unknown_uids_get_clear_errors) {
  auto g = group({"ffn.0"}, "ffn", 16);
  g.max_batch_size = 8;
  server_and_client sc{{g}};
  ASSERT_TRUE(sc.ok());
  auto wide =
      sc.client->forward(sc.address(), "ffn.0", {torch::randn({2, 17})}, 5s);
  ASSERT_FALSE(wide);
  EXPECT_TRUE(is_error(wide.error(), errc::bad_shape))
      << describe(wide.error());
  EXPECT_NE(error_reason(wide.error()).find("17"), std::string::npos)
      << error_reason(wide.error());
  EXPECT_NE(error_reason(wide.error()).find("16"), std::string::npos);
  auto dtype = sc.client->forward(sc.address(), "ffn.0",
                                  {torch::randn({2, 16}).to(at::kDouble)}, 5s);
  ASSERT_FALSE(dtype);
  EXPECT_TRUE(is_error(dtype.error(), errc::unknown_dtype))
      << describe(dtype.error());
  auto two =
      sc.client->forward(sc.address(), "ffn.0",
                         {torch::randn({2, 16}), torch::randn({2, 16})}, 5s);
  ASSERT_FALSE(two);
  EXPECT_TRUE(is_error(two.error(), errc::bad_shape));
  auto many =
      sc.client->forward(sc.address(), "ffn.0", {torch::randn({9, 16})}, 5s);
  ASSERT_FALSE(many);
  EXPECT_TRUE(is_error(many.error(), errc::too_large))
      << describe(many.error());
  auto unknown =
      sc.client->forward(sc.address(), "ffn.7", {torch::randn({2, 16})}, 5s);
  ASSERT_FALSE(unknown);
  EXPECT_TRUE(is_error(unknown.error(), errc::unknown_service))
      << describe(unknown.error());
  EXPECT_NE(error_reason(unknown.error()).find("ffn.7"), std::string::npos);
  auto bad_grads =
      sc.client->backward(sc.address(), "ffn.0", {torch::randn({2, 16})},
                          {torch::randn({3, 16})}, 5s);
  ASSERT_FALSE(bad_grads);
  EXPECT_TRUE(is_error(bad_grads.error(), errc::bad_shape));
  // Bytes that are no tensor list at all.
  auto garbage = call(*sc.client_node, sc.address(), "expert/ffn.0/forward",
                      envelope{std::vector<char>(64, '\x7f')});
  ASSERT_FALSE(garbage);
  EXPECT_TRUE(is_error(garbage.error(), errc::malformed))
      << describe(garbage.error());
  // The server still serves.
  auto fine =
      sc.client->forward(sc.address(), "ffn.0", {torch::randn({8, 16})}, 5s);
  ASSERT_TRUE(fine) << describe(fine.error());
  EXPECT_EQ((*fine)[0].sizes(), (std::vector<int64_t>{8, 16}));
}

namespace {

/// A module that throws on any input above 1000: a poisoned batch.
class fragile_module : public moe::expert_module {
 public:
  std::vector<at::Tensor> forward(const std::vector<at::Tensor>& in) override {
    if (in[0].gt(1000).any().item<bool>())
      throw std::runtime_error("fragile expert refuses inputs above 1000");
    return {linear_->forward(in[0])};
  }
  std::vector<at::Tensor> parameters() override {
    return linear_->parameters();
  }
  void train(bool on) override { linear_->train(on); }
  void save(torch::serialize::OutputArchive& a) override { linear_->save(a); }
  void load(torch::serialize::InputArchive& a) override { linear_->load(a); }

 private:
  torch::nn::Linear linear_{8, 8};
};

} // namespace

TEST(expert_server, a_batch_that_throws_fails_only_its_callers) {
  moe::register_expert_class(
      "fragile", {[](int64_t) { return std::make_shared<fragile_module>(); },
                  [](int64_t batch, int64_t) {
                    return std::vector<at::Tensor>{torch::randn({batch, 8})};
                  }});
  server_and_client sc{{group({"fragile.0"}, "fragile", 8)}};
  ASSERT_TRUE(sc.ok());
  auto bad = sc.client->forward(sc.address(), "fragile.0",
                                {torch::full({2, 8}, 5000.0f)}, 5s);
  ASSERT_FALSE(bad);
  EXPECT_NE(error_reason(bad.error()).find("refuses inputs above 1000"),
            std::string::npos)
      << describe(bad.error());
  // Concurrent callers with good inputs, sent from several threads, all
  // succeed around a failing one.
  std::vector<std::thread> threads;
  std::atomic<int> good_ok{0}, bad_failed{0};
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&, i] {
      moe::expert_client c{sc.client_node->system(),
                           sc.client_node->transport()};
      bool poison = i == 3;
      auto x = poison ? torch::full({1, 8}, 5000.0f) : torch::randn({1, 8});
      auto r = c.forward(sc.address(), "fragile.0", {x}, 5s);
      if (poison && !r)
        ++bad_failed;
      if (!poison && r)
        ++good_ok;
    });
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(bad_failed, 1);
  // Good callers batched with the poisoned one fail with it; the rest pass.
  EXPECT_GE(good_ok, 1);
  auto after =
      sc.client->forward(sc.address(), "fragile.0", {torch::randn({3, 8})}, 5s);
  EXPECT_TRUE(after) << describe(after.error());
}

TEST(expert_server, checkpoints_restore_state_after_restart) {
  temp_dir dir;
  auto g = group({"ffn.0"}, "ffn", 8);
  g.backend.optimizer = "sgd";
  g.backend.learning_rate = 0.1;
  g.checkpoint_dir = dir.file("ckpt");
  auto x = torch::randn({4, 8});
  at::Tensor before;
  {
    server_and_client sc{{g}};
    ASSERT_TRUE(sc.ok());
    for (int i = 0; i < 3; ++i)
      ASSERT_TRUE(sc.client->backward(sc.address(), "ffn.0", {x},
                                      {torch::randn({4, 8})}, 5s));
    auto out = sc.client->forward(sc.address(), "ffn.0", {x}, 5s);
    ASSERT_TRUE(out);
    before = (*out)[0].clone();
  } // stopping the server saves a last checkpoint
  EXPECT_TRUE(
      std::filesystem::exists(dir.file("ckpt/ffn.0/checkpoint_last.pt")));
  size_t files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir.file("ckpt/ffn.0")))
    files += e.path().filename().string().rfind("checkpoint_", 0) == 0;
  EXPECT_GE(files, 2u);
  server_and_client again{{g}};
  ASSERT_TRUE(again.ok());
  auto out = again.client->forward(again.address(), "ffn.0", {x}, 5s);
  ASSERT_TRUE(out);
  EXPECT_TRUE(torch::allclose((*out)[0], before, 1e-6, 1e-6));
  // A fresh expert without the checkpoint answers differently.
  auto fresh_cfg = g;
  fresh_cfg.checkpoint_dir.clear();
  server_and_client fresh{{fresh_cfg}};
  ASSERT_TRUE(fresh.ok());
  auto other = fresh.client->forward(fresh.address(), "ffn.0", {x}, 5s);
  ASSERT_TRUE(other);
  EXPECT_FALSE(torch::allclose((*other)[0], before, 1e-4, 1e-4));
}

TEST(expert_server, serving_goes_on_after_periodic_checkpoints) {
  temp_dir dir;
  auto g = group({"ffn.0"}, "ffn", 8);
  g.checkpoint_dir = dir.file("ckpt");
  g.update_period = 300ms;
  server_and_client sc{{g}};
  ASSERT_TRUE(sc.ok());
  // Each checkpoint renames a fresh copy onto checkpoint_last.pt.
  auto last = std::filesystem::path{dir.file("ckpt/ffn.0/checkpoint_last.pt")};
  std::optional<std::filesystem::file_time_type> last_written;
  auto checkpoint_written = [&] {
    std::error_code ec;
    auto t = std::filesystem::last_write_time(last, ec);
    if (ec || t == last_written)
      return false;
    last_written = t;
    return true;
  };
  auto x = torch::randn({4, 8});
  for (int round = 0; round < 4; ++round) {
    auto grads = sc.client->backward(sc.address(), "ffn.0", {x},
                                     {torch::randn({4, 8})}, 5s);
    ASSERT_TRUE(grads) << "round " << round << ": " << describe(grads.error());
    auto out = sc.client->forward(sc.address(), "ffn.0", {x}, 5s);
    ASSERT_TRUE(out) << "round " << round << ": " << describe(out.error());
    ASSERT_EQ((*out)[0].sizes(), x.sizes());
    EXPECT_TRUE(torch::isfinite((*out)[0]).all().item<bool>());
    // The update above makes the next periodic save write a checkpoint.
    ASSERT_TRUE(
        eventually("a checkpoint follows round " + std::to_string(round), 5s,
                   checkpoint_written));
  }
}

TEST(expert_server, server_process_declares_experts_until_killed) {
  temp_dir dir;
  auto boot = node_process::start(dir, "boot", "[dht]\nenabled = true\n");
  ASSERT_TRUE(boot);
  auto addr_file = dir.file("server.addr");
  auto server = child_process::spawn(
      {COLONY_BINARY, "server", "--expert-pattern", "ffn.[0:2].[0:4]",
       "--num-experts", "3", "--hidden-dim", "16", "--update-period", "1",
       "--initial-peers", boot->address, "--address-file", addr_file},
      dir.file("server.log"));
  ASSERT_TRUE(server);
  auto addr = wait_for_file_line(addr_file, 30s);
  ASSERT_TRUE(addr) << "server did not start";
  // A DHT node of our own, to look the experts up.
  auto cfg = test_config("colony");
  cfg.dht_enabled = true;
  cfg.initial_peers = {boot->address};
  auto me = start_node(cfg);
  ASSERT_TRUE(me);
  ASSERT_TRUE(me->join_dht());
  dht::dht_client dht{me->system(), me->dht()};
  auto listed = moe::list_experts(dht, "ffn.", 5s);
  ASSERT_TRUE(listed) << describe(listed.error());
  EXPECT_EQ(listed->size(), 3u);
  for (auto& e : *listed)
    EXPECT_EQ(e.address, *addr);
  // `colony info` shows the same experts.
  auto [rc, out] = run_colony(dir, {"info", *addr});
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("3 experts"), std::string::npos) << out;
  std::ifstream log_in(dir.file("server.log"));
  std::string log((std::istreambuf_iterator<char>(log_in)), {});
  EXPECT_NE(log.find("ready: ffn"), std::string::npos) << log;
  // Killed, the server stops re-declaring; its entries expire after
  // max(2 x 1 s, 3 s).
  server->signal(SIGKILL);
  server->wait_for(5s);
  size_t still_listed = 0;
  EXPECT_TRUE(eventually(
      "the killed server's experts expired", 15s,
      [&] {
        auto later = moe::list_experts(dht, "ffn.", 5s);
        if (!later) {
          ADD_FAILURE() << describe(later.error());
          return true;
        }
        still_listed = later->size();
        return later->empty();
      },
      200ms))
      << still_listed << " experts still listed";
}

TEST(expert_server, run_command_serves_experts_from_config) {
  temp_dir dir;
  auto server = node_process::start(dir, "server", R"(
[node]
log_level = "info"
[[experts]]
expert_uids = ["nop.0", "nop.1"]
expert_cls = "nop"
hidden_dim = 8
[[experts]]
expert_uids = ["ffn.5"]
hidden_dim = 8
optimizer = "sgd"
)");
  ASSERT_TRUE(server);
  auto [rc, out] = run_colony(dir, {"info", server->address, "--json"});
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("\"uid\":\"nop.1\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"uid\":\"ffn.5\",\"class\":\"ffn\""), std::string::npos)
      << out;
  // A garbage config is refused with the line of the problem.
  std::ofstream(dir.file("bad.toml"))
      << "[[experts]]\nexpert_uids = [\"ffn.0\"]\noptimizer = \"adamw\"\n";
  std::tie(rc, out) = run_colony(dir, {"run", dir.file("bad.toml")});
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("bad.toml:3:"), std::string::npos) << out;
  std::tie(rc, out) = run_colony(
      dir, {"server", "--expert-uids", "ffn.0", "--hidden-dim", "0"});
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("--hidden-dim"), std::string::npos) << out;
}

TEST(expert_server, replies_use_the_server_codec_and_requests_any_codec) {
  auto exact = group({"ffn.0"}, "ffn", 16);
  exact.backend.optimizer = "none";
  auto lossy = exact;
  lossy.compression = compression_type::float16;
  server_and_client plain{{exact}};
  server_and_client half{{lossy}};
  ASSERT_TRUE(plain.ok() && half.ok());
  auto info = half.client->info(half.address(), "ffn.0", 5s);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->compression, compression_type::float16);
  auto x = torch::randn({4, 16});
  auto a = plain.client->forward(plain.address(), "ffn.0", {x}, 5s);
  // A request in uniform_8bit is decoded by the server like any other.
  auto b = plain.client->forward(plain.address(), "ffn.0", {x}, 5s,
                                 compression_type::uniform_8bit);
  auto c = half.client->forward(half.address(), "ffn.0", {x}, 5s);
  ASSERT_TRUE(a && b && c);
  EXPECT_TRUE(torch::allclose((*a)[0], (*b)[0], 0.1, 0.1));
  EXPECT_EQ((*c)[0].scalar_type(), at::kFloat);
  EXPECT_EQ((*c)[0].sizes(), (*a)[0].sizes());
}

TEST(expert_server, drop_rate_one_leaves_every_call_unanswered) {
  auto g = group({"nop.0"}, "nop", 8);
  g.drop_rate = 1.0;
  server_and_client sc{{g}};
  ASSERT_TRUE(sc.ok());
  auto x = torch::randn({2, 8});
  auto began = std::chrono::steady_clock::now();
  auto out = sc.client->forward(sc.address(), "nop.0", {x}, 300ms);
  auto took = std::chrono::steady_clock::now() - began;
  ASSERT_FALSE(out);
  // Silence until the caller's deadline, not an immediate error.
  EXPECT_TRUE(is_error(out.error(), errc::timeout)) << describe(out.error());
  EXPECT_GE(took, 250ms);
  began = std::chrono::steady_clock::now();
  auto grads = sc.client->backward(sc.address(), "nop.0", {x}, {x}, 300ms);
  took = std::chrono::steady_clock::now() - began;
  ASSERT_FALSE(grads);
  EXPECT_TRUE(is_error(grads.error(), errc::timeout))
      << describe(grads.error());
  EXPECT_GE(took, 250ms);
  // Only forward and backward are dropped.
  auto info = sc.client->info(sc.address(), "nop.0", 5s);
  EXPECT_TRUE(info) << describe(info.error());
}

TEST(expert_server, drop_rate_drops_that_share_of_calls_and_serves_the_rest) {
  auto g = group({"nop.0"}, "nop", 8);
  g.drop_rate = 0.5;
  server_and_client sc{{g}};
  ASSERT_TRUE(sc.ok());
  // Callers side by side, so that the dropped calls' deadlines overlap:
  // about 100 of 200 calls wait out 200 ms, about 3 s in all.
  constexpr int callers = 8;
  constexpr int calls_each = 25;
  struct tally {
    int dropped = 0;
    int answered = 0;
    int wrong = 0;
    std::vector<std::string> other_errors;
  };
  std::vector<tally> tallies(callers);
  std::vector<std::thread> threads;
  auto began = std::chrono::steady_clock::now();
  for (int t = 0; t < callers; ++t)
    threads.emplace_back([&sc, &tally = tallies[t]] {
      // A client per thread: each blocks on its own scoped actor.
      moe::expert_client client{sc.client_node->system(),
                                sc.client_node->transport()};
      for (int i = 0; i < calls_each; ++i) {
        auto x = torch::randn({1, 8});
        auto out = client.forward(sc.address(), "nop.0", {x}, 200ms);
        if (!out && is_error(out.error(), errc::timeout))
          ++tally.dropped;
        else if (!out)
          tally.other_errors.push_back(describe(out.error()));
        else if (out->size() == 1 && torch::equal(out->at(0), x))
          ++tally.answered;
        else
          ++tally.wrong;
      }
    });
  for (auto& t : threads)
    t.join();
  auto took = std::chrono::steady_clock::now() - began;
  tally all;
  for (auto& t : tallies) {
    all.dropped += t.dropped;
    all.answered += t.answered;
    all.wrong += t.wrong;
    for (auto& e : t.other_errors)
      ADD_FAILURE() << "a call failed otherwise: " << e;
  }
  // Binomial(200, 0.5): outside [60, 140] has probability below 1e-7.
  EXPECT_GE(all.dropped, 60);
  EXPECT_LE(all.dropped, 140);
  EXPECT_EQ(all.wrong, 0);
  EXPECT_EQ(all.dropped + all.answered, callers * calls_each);
  EXPECT_LT(took, 8s);
  EXPECT_TRUE(sc.client->info(sc.address(), "nop.0", 5s));
}

TEST(expert_server, dropped_calls_hold_nothing_on_the_server) {
  auto g = group({"nop.0"}, "nop", 8);
  g.drop_rate = 1.0;
  server_and_client sc{{g}};
  ASSERT_TRUE(sc.ok());
  auto body = encode_tensors({torch::randn({1, 8})}, compression_type::none);
  ASSERT_TRUE(body);
  // More dropped calls waiting at once than the per-peer quota (64): each
  // times out at its caller's deadline, none is refused as busy, since a
  // dropped call holds nothing once dropped. Calls go in chunks of 20, each
  // followed by an `info` call: its answer means the expert has dropped
  // the chunk (it serves in order).
  constexpr int calls = 200;
  constexpr int chunk = 20;
  caf::scoped_actor self{sc.client_node->system()};
  auto service = moe::expert_service("nop.0", "forward");
  auto call = [&] {
    return self->request(sc.client_node->transport(), caf::infinite,
                         call_atom::value, sc.address(), service, *body,
                         caf::timespan{4s});
  };
  std::vector<decltype(call())> pending;
  for (int i = 0; i < calls; ++i) {
    pending.push_back(call());
    if ((i + 1) % chunk == 0)
      ASSERT_TRUE(sc.client->info(sc.address(), "nop.0", 5s));
  }
  int timed_out = 0;
  for (auto& p : pending)
    p.receive([](envelope&) { ADD_FAILURE() << "a dropped call answered"; },
              [&](caf::error& err) {
                if (is_error(err, errc::timeout))
                  ++timed_out;
                else
                  ADD_FAILURE() << describe(err);
              });
  EXPECT_EQ(timed_out, calls);
  EXPECT_TRUE(sc.client->info(sc.address(), "nop.0", 5s));
}
