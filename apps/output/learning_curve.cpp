#include "apps/output/learning_curve.hpp"

#include "apps/swarm/child_process.hpp"
#include "messages/error.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace colony::apps {

namespace {

/// Quotes `text` for a gnuplot string.
std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string find_gnuplot() {
  const char* path = std::getenv("PATH");
  std::istringstream dirs{path ? path : "/usr/bin:/bin"};
  for (std::string dir; std::getline(dirs, dir, ':');) {
    auto candidate = (std::filesystem::path{dir} / "gnuplot").string();
    if (::access(candidate.c_str(), X_OK) == 0)
      return candidate;
  }
  return {};
}

} // namespace

bool gnuplot_available() {
  return !find_gnuplot().empty();
}

std::string learning_curve_script(
    const std::vector<
        std::pair<std::string, std::vector<trainer::training_record>>>& runs,
    const std::string& png_path, const learning_curve_options& options) {
  bool by_step = options.x_axis == "step";
  std::ostringstream s;
  // One inline data block per run: x, loss, accuracy (% or NaN), samples/s.
  for (size_t i = 0; i < runs.size(); ++i) {
    s << "$run" << i << " << EOD\n";
    for (const auto& r : runs[i].second) {
      s << (by_step ? static_cast<double>(r.step) : r.time_s) << ' '
        << r.train_loss << ' ';
      if (r.test_accuracy)
        s << 100 * *r.test_accuracy;
      else
        s << "NaN";
      s << ' ' << r.samples_per_s << '\n';
    }
    s << "EOD\n";
  }
  auto panels = options.show_throughput ? 3 : 2;
  s << "set terminal pngcairo size 1000," << 400 * panels
    << " font \"sans,10\"\n"
    << "set output " << quoted(png_path) << "\n"
    << "set datafile missing \"NaN\"\n"
    << "set multiplot layout " << panels << ",1 title " << quoted(options.title)
    << "\n"
    << "set grid\nset key top right\n"
    << "set xlabel " << quoted(by_step ? "step" : "time (s)") << "\n";
  // Labels step down in four rows, so those of close markers stay legible.
  for (size_t i = 0; i < options.markers.size(); ++i) {
    const auto& [x, label] = options.markers[i];
    s << "set arrow from " << x << ", graph 0 to " << x
      << ", graph 1 nohead dashtype 2 lc rgb \"#aa0000\"\n"
      << "set label " << quoted(label) << " at " << x << ", graph "
      << 0.95 - 0.07 * static_cast<double>(i % 4)
      << " left offset 0.5,0 textcolor rgb \"#aa0000\"\n";
  }
  // gnuplot refuses a panel without a single point (e.g. no evaluation
  // yet): fixed ranges keep such a panel empty instead of failing the plot.
  double max_x = 0;
  bool any_accuracy = false;
  for (const auto& run : runs)
    for (const auto& r : run.second) {
      max_x = std::max(max_x, by_step ? static_cast<double>(r.step) : r.time_s);
      any_accuracy = any_accuracy || r.test_accuracy.has_value();
    }
  for (const auto& marker : options.markers)
    max_x = std::max(max_x, marker.first);
  if (max_x > 0)
    s << "set xrange [0:" << max_x * 1.02 << "]\n";
  auto plot = [&](const char* ylabel, int column) {
    if (column == 3 && !any_accuracy)
      s << "set yrange [0:100]\n";
    s << "set ylabel " << quoted(ylabel) << "\nplot ";
    for (size_t i = 0; i < runs.size(); ++i)
      s << (i ? ", " : "") << "$run" << i << " using 1:" << column
        << " with linespoints pt 7 ps 0.4 title " << quoted(runs[i].first);
    if (runs.empty())
      s << "NaN notitle";
    s << "\n";
    s << "set autoscale y\n";
  };
  plot("training loss", 2);
  s << "set key bottom right\n";
  plot("test accuracy (%)", 3);
  if (options.show_throughput) {
    s << "set key top right\n";
    plot("training samples/s", 4);
  }
  s << "unset multiplot\n";
  return s.str();
}

caf::error plot_learning_curve(
    const std::vector<
        std::pair<std::string, std::vector<trainer::training_record>>>& runs,
    const std::string& png_path, const learning_curve_options& options) {
  auto gnuplot = find_gnuplot();
  if (gnuplot.empty())
    return make_error(errc::io_error, "gnuplot is not installed");
  auto script_path = png_path + ".gp";
  auto log_path = png_path + ".log";
  {
    std::ofstream out{script_path};
    out << learning_curve_script(runs, png_path, options);
    if (!out)
      return make_error(errc::io_error, "cannot write " + script_path);
  }
  std::error_code ec;
  std::filesystem::remove(png_path, ec);
  auto proc = child_process::spawn({gnuplot, script_path}, log_path);
  if (!proc)
    return proc.error();
  auto status = proc->wait_for(std::chrono::seconds(60));
  auto output = tail_of_file(log_path, 5);
  std::filesystem::remove(script_path, ec);
  std::filesystem::remove(log_path, ec);
  if (status != 0)
    return make_error(errc::io_error,
                      "gnuplot failed (status " + std::to_string(status) + ")" +
                          (output.empty() ? "" : ":\n" + output));
  if (!std::filesystem::exists(png_path, ec) ||
      std::filesystem::file_size(png_path, ec) == 0)
    return make_error(errc::io_error,
                      "gnuplot wrote no " + png_path +
                          (output.empty() ? "" : ":\n" + output));
  return {};
}

} // namespace colony::apps
