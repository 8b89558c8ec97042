#include "apps/output/learning_curve.hpp"
#include "apps/output/metrics_csv.hpp"
#include "apps/swarm/swarm_spec.hpp"
#include "messages/error.hpp"
#include "tests/support/required_package.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace colony::apps {
namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("colony-csv-" + std::to_string(::getpid()) + "-" + name))
      .string();
}

trainer::training_record record(uint64_t step, bool evaluated) {
  trainer::training_record r;
  r.time_s = 1.5 * static_cast<double>(step);
  r.step = step;
  r.samples = 128 * step;
  r.train_loss = 0.25;
  r.samples_per_s = 2000;
  r.live_experts = 31;
  r.failed_calls = 0.1;
  r.epoch = step / 4;
  r.averaging_s = 0.125;
  if (evaluated) {
    r.test_accuracy = 0.875;
    r.test_loss = 0.375;
  }
  return r;
}

TEST(metrics_csv, rows_round_trip) {
  auto path = temp_path("round_trip.csv");
  {
    auto w = metrics_csv_writer::open(path);
    ASSERT_TRUE(w);
    ASSERT_FALSE(w->append(record(10, false)));
    ASSERT_FALSE(w->append(record(20, true)));
  }
  auto rows = read_metrics_csv(path);
  ASSERT_TRUE(rows) << describe(rows.error());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].step, 10u);
  EXPECT_FALSE((*rows)[0].test_accuracy);
  EXPECT_EQ((*rows)[1].samples, 2560u);
  EXPECT_EQ((*rows)[1].live_experts, 31u);
  EXPECT_DOUBLE_EQ((*rows)[1].failed_calls, 0.1);
  EXPECT_DOUBLE_EQ(*(*rows)[1].test_accuracy, 0.875);
  EXPECT_DOUBLE_EQ(*(*rows)[1].test_loss, 0.375);
  EXPECT_EQ((*rows)[1].epoch, 5u);
  EXPECT_DOUBLE_EQ((*rows)[1].averaging_s, 0.125);
  std::filesystem::remove(path);
}

TEST(metrics_csv, reader_follows_a_growing_file_by_whole_rows) {
  auto path = temp_path("follow.csv");
  std::filesystem::remove(path);
  metrics_csv_reader reader{path};
  EXPECT_TRUE(reader.read_new().empty()); // no file yet
  auto row = format_metrics_row(record(5, false));
  {
    std::ofstream out(path);
    out << metrics_csv_header << "\n" << row.substr(0, 10);
  }
  EXPECT_TRUE(reader.read_new().empty()); // half a row
  {
    std::ofstream out(path, std::ios::app);
    out << row.substr(10) << "\n";
  }
  auto rows = reader.read_new();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].step, 5u);
  EXPECT_TRUE(reader.read_new().empty()); // nothing new
  std::filesystem::remove(path);
}

TEST(metrics_csv, malformed_rows_and_paths_are_errors) {
  auto path = temp_path("bad.csv");
  std::ofstream(path) << metrics_csv_header << "\n"
                      << format_metrics_row(record(1, false)) << "\n"
                      << "1,2,three,4,5,6,7,,,0,0\n";
  auto rows = read_metrics_csv(path);
  ASSERT_FALSE(rows);
  EXPECT_TRUE(is_error(rows.error(), errc::malformed));
  EXPECT_NE(error_reason(rows.error()).find("bad.csv:3:"), std::string::npos)
      << error_reason(rows.error());
  EXPECT_FALSE(parse_metrics_row("1,2,3"));
  EXPECT_FALSE(read_metrics_csv(temp_path("missing.csv")));
  auto w = metrics_csv_writer::open("/nonexistent-dir/x.csv");
  ASSERT_FALSE(w);
  EXPECT_TRUE(is_error(w.error(), errc::io_error));
  std::filesystem::remove(path);
}

TEST(learning_curve, script_has_a_line_per_run_and_the_markers) {
  learning_curve_options o;
  o.title = "t";
  o.markers = {{12.5, "kill server-1"}};
  auto script =
      learning_curve_script({{"trainer-1", {record(1, false), record(2, true)}},
                             {"trainer-2", {record(1, true)}}},
                            "/tmp/x.png", o);
  EXPECT_NE(script.find("$run0 << EOD\n1.5 0.25 NaN 2000\n3 0.25 87.5 2000\n"
                        "EOD"),
            std::string::npos)
      << script;
  EXPECT_NE(script.find("layout 2,1"), std::string::npos);
  EXPECT_EQ(script.find("samples/s"), std::string::npos);
  // The x range spans the data and the markers.
  EXPECT_NE(script.find("set xrange [0:12.75]"), std::string::npos) << script;
  EXPECT_NE(script.find("title \"trainer-2\""), std::string::npos);
  EXPECT_NE(script.find("set arrow from 12.5"), std::string::npos);
  EXPECT_NE(script.find("\"kill server-1\""), std::string::npos);
  EXPECT_NE(script.find("set output \"/tmp/x.png\""), std::string::npos);
}

TEST(learning_curve, throughput_panel_and_runs_without_evaluations) {
  learning_curve_options o;
  o.show_throughput = true;
  auto script = learning_curve_script({{"trainer-1", {record(1, false)}}},
                                      "/tmp/x.png", o);
  EXPECT_NE(script.find("layout 3,1"), std::string::npos) << script;
  EXPECT_NE(script.find("training samples/s"), std::string::npos);
  EXPECT_NE(script.find("using 1:4"), std::string::npos);
  // No accuracy point at all: the panel gets a fixed range, as gnuplot
  // refuses to autoscale an empty plot.
  EXPECT_NE(script.find("set yrange [0:100]"), std::string::npos) << script;
  ASSERT_TRUE(colony::testing::gnuplot_installed());
  auto png = temp_path("no-eval.png");
  EXPECT_FALSE(plot_learning_curve({{"a", {record(1, false)}}}, png, o));
  EXPECT_TRUE(std::filesystem::exists(png));
  std::filesystem::remove(png);
}

TEST(learning_curve, plots_a_png_or_says_why_not) {
  ASSERT_TRUE(colony::testing::gnuplot_installed());
  auto png = temp_path("curve.png");
  ASSERT_FALSE(
      plot_learning_curve({{"a", {record(1, true), record(2, true)}}}, png));
  std::ifstream in(png, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  EXPECT_EQ(std::string(magic + 1, 3), "PNG");
  std::filesystem::remove(png);
  auto err = plot_learning_curve({{"a", {record(1, true)}}},
                                 "/nonexistent-dir/curve.png");
  ASSERT_TRUE(err);
  EXPECT_TRUE(is_error(err, errc::io_error));
}

TEST(swarm_spec, parses_nodes_and_resolves_configs) {
  auto spec = parse_swarm_spec(R"([[nodes]]
role = "dht"
config = "boot.toml"
[[nodes]]
role = "server"
config = "/abs/server.toml"
count = 2
set = ["experts.drop_rate=0.1"]
[[nodes]]
role = "trainer"
config = "t.toml"
)",
                               "s.toml", "/base");
  ASSERT_TRUE(spec) << describe(spec.error());
  ASSERT_EQ(spec->nodes.size(), 3u);
  EXPECT_EQ(spec->nodes[0].config, "/base/boot.toml");
  EXPECT_EQ(spec->nodes[1].config, "/abs/server.toml");
  EXPECT_EQ(spec->nodes[1].count, 2u);
  EXPECT_EQ(spec->nodes[1].overrides,
            (std::vector<std::string>{"experts.drop_rate=0.1"}));
  EXPECT_EQ(spec->nodes[2].role, swarm_role::trainer);
}

TEST(swarm_spec, reports_every_problem_with_its_place) {
  auto spec = parse_swarm_spec(R"(name = "x"
[[nodes]]
role = "dht"
[[nodes]]
role = "server"
config = "s.toml"
count = 1000
set = [1]
colour = "red"
)",
                               "s.toml", ".");
  ASSERT_FALSE(spec);
  auto text = error_reason(spec.error());
  EXPECT_NE(text.find("s.toml:1:1: unknown key 'name'"), std::string::npos)
      << text;
  EXPECT_NE(text.find("[[nodes]] needs a config"), std::string::npos);
  EXPECT_NE(text.find("s.toml:7:9: nodes.count"), std::string::npos) << text;
  EXPECT_NE(text.find("nodes.set"), std::string::npos);
  EXPECT_NE(text.find("unknown key 'colour'"), std::string::npos);
  EXPECT_FALSE(parse_swarm_spec("[[nodes]\n", "s.toml", "."));
  EXPECT_FALSE(parse_swarm_spec("", "s.toml", ".")); // no DHT node
}

} // namespace
} // namespace colony::apps
