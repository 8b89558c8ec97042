// `colony train` and `colony swarm` as processes: a local-expert trainer
// writing its CSV and plot, config errors, and a small swarm of a DHT node,
// an expert server and a trainer that trains through it.

#include "apps/output/learning_curve.hpp"
#include "apps/output/metrics_csv.hpp"
#include "tests/integration/test_nodes.hpp"
#include "tests/support/required_package.hpp"

#include <filesystem>

using namespace colony;
using namespace colony::apps;
using namespace colony::testing;

namespace {

/// Two easy classes, a small model, a few steps.
const char* small_trainer = R"([node]
log_level = "warn"
compute_threads = 1

[trainer]
classes = [0, 1]
hidden_dim = 32
grids = ["ffn0.[0:2].[0:2]"]
k_best = 2
batch_size = 32
max_steps = 40
eval_every = 20
eval_samples = 200
report_every = 5
seed = 3
)";

bool has_text(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

} // namespace

TEST(train_command, trains_locally_and_writes_metrics_and_plot) {
  ASSERT_TRUE(fashion_mnist_installed());
  temp_dir dir;
  auto cfg = dir.file("trainer.toml");
  std::ofstream(cfg) << small_trainer << "local_experts = true\n";
  auto csv = dir.file("metrics.csv");
  auto png = dir.file("curve.png");
  auto [rc, out] =
      run_colony(dir, {"train", cfg, "--metrics-csv", csv, "--plot", png});
  ASSERT_EQ(rc, 0) << out;
  EXPECT_TRUE(has_text(out, "test accuracy ")) << out;
  EXPECT_TRUE(has_text(out, "after 40 steps")) << out;
  // Plain progress lines (stdout is not a terminal here).
  EXPECT_TRUE(has_text(out, "step 20/40")) << out;
  auto rows = read_metrics_csv(csv);
  ASSERT_TRUE(rows) << describe(rows.error());
  ASSERT_EQ(rows->size(), 9u); // every 5 steps but the evaluated 20th, +2
  EXPECT_EQ(rows->back().step, 40u);
  ASSERT_TRUE(rows->back().test_accuracy);
  EXPECT_GE(*rows->back().test_accuracy, 0.8);
  ASSERT_TRUE(gnuplot_installed());
  std::ifstream in(png, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  EXPECT_EQ(std::string(magic + 1, 3), "PNG");
}

TEST(train_command, config_problems_exit_2_with_the_reason) {
  temp_dir dir;
  auto none = dir.file("none.toml");
  std::ofstream(none) << "[node]\nlog_level = \"warn\"\n";
  auto [rc, out] = run_colony(dir, {"train", none});
  EXPECT_EQ(rc, 2);
  EXPECT_TRUE(has_text(out, "has no [trainer] section")) << out;
  auto bad = dir.file("bad.toml");
  std::ofstream(bad) << "[trainer]\nmax_steps = 5\nlayer = \"dense\"\n";
  auto [rc2, out2] = run_colony(dir, {"train", bad});
  EXPECT_EQ(rc2, 2);
  EXPECT_TRUE(has_text(out2, "bad.toml:3:9: trainer.layer")) << out2;
  auto [rc3, out3] =
      run_colony(dir, {"train", none, "--set", "trainer.k_best=0"});
  EXPECT_EQ(rc3, 2);
  EXPECT_TRUE(has_text(out3, "trainer.k_best")) << out3;
}

TEST(swarm_command, trains_through_a_small_swarm_and_stops_it) {
  ASSERT_TRUE(fashion_mnist_installed());
  temp_dir dir;
  std::ofstream(dir.file("dht.toml")) << "[node]\nlog_level = \"warn\"\n";
  std::ofstream(dir.file("server.toml"))
      << "[node]\nlog_level = \"warn\"\ncompute_threads = 1\n"
      << "[dht]\nenabled = true\n"
      << "[[experts]]\nexpert_pattern = \"ffn0.[0:2].[0:2]\"\n"
      << "num_experts = 4\nhidden_dim = 32\n";
  std::ofstream(dir.file("trainer.toml")) << small_trainer;
  std::ofstream(dir.file("swarm.toml"))
      << "[[nodes]]\nrole = \"dht\"\nconfig = \"dht.toml\"\n"
      << "[[nodes]]\nrole = \"server\"\nconfig = \"server.toml\"\n"
      << "[[nodes]]\nrole = \"trainer\"\nconfig = \"trainer.toml\"\n";
  auto out_dir = dir.file("out");
  auto [rc, out] =
      run_colony(dir, {"swarm", dir.file("swarm.toml"), "--out", out_dir});
  ASSERT_EQ(rc, 0) << out;
  EXPECT_TRUE(has_text(out, "[3/3] trainer-1")) << out;
  EXPECT_TRUE(has_text(out, "trainer-1 step")) << out;
  auto rows = read_metrics_csv(out_dir + "/trainer-1.csv");
  ASSERT_TRUE(rows) << describe(rows.error());
  ASSERT_FALSE(rows->empty());
  EXPECT_EQ(rows->back().step, 40u);
  ASSERT_TRUE(rows->back().test_accuracy);
  EXPECT_GE(*rows->back().test_accuracy, 0.8);
  EXPECT_GT(rows->back().live_experts, 0u);
  // Every node wrote its log and is gone: the server's address no longer
  // answers.
  for (auto name : {"dht-1", "server-1", "trainer-1"})
    EXPECT_TRUE(std::filesystem::exists(out_dir + "/" + name + ".log")) << name;
  std::ifstream addr(out_dir + "/server-1.addr");
  std::string server;
  std::getline(addr, server);
  ASSERT_FALSE(server.empty());
  auto [ping_rc, ping_out] =
      run_colony(dir, {"ping", server, "--count", "1", "--timeout", "1"});
  EXPECT_NE(ping_rc, 0) << ping_out;
}

TEST(swarm_command, bad_specs_exit_2_before_starting_anything) {
  temp_dir dir;
  std::ofstream(dir.file("no_dht.toml"))
      << "[[nodes]]\nrole = \"server\"\nconfig = \"x.toml\"\n";
  auto [rc, out] = run_colony(dir, {"swarm", dir.file("no_dht.toml")});
  EXPECT_EQ(rc, 2);
  EXPECT_TRUE(has_text(out, "needs a [[nodes]] table with role = \"dht\""))
      << out;
  std::ofstream(dir.file("bad_role.toml"))
      << "[[nodes]]\nrole = \"miner\"\nconfig = \"x.toml\"\ncount = 0\n";
  auto [rc2, out2] = run_colony(dir, {"swarm", dir.file("bad_role.toml")});
  EXPECT_EQ(rc2, 2);
  EXPECT_TRUE(has_text(out2, "bad_role.toml:2:8: nodes.role")) << out2;
  EXPECT_TRUE(has_text(out2, "nodes.count: expected an integer between 1 and "
                             "64"))
      << out2;
  std::ofstream(dir.file("missing.toml"))
      << "[[nodes]]\nrole = \"dht\"\nconfig = \"nope.toml\"\n";
  auto [rc3, out3] = run_colony(dir, {"swarm", dir.file("missing.toml")});
  EXPECT_NE(rc3, 0);
  EXPECT_TRUE(has_text(out3, "nope.toml")) << out3;
}
