#pragma once

// Learning curves as a PNG, drawn by gnuplot (Debian's gnuplot-nox): the
// training loss and the test accuracy of one or more runs over time, with
// optional vertical markers (the fault-injection harness marks its faults).

#include "actors/trainer/training_record.hpp"

#include <caf/error.hpp>

#include <string>
#include <utility>
#include <vector>

namespace colony::apps {

struct learning_curve_options {
  std::string title = "colony";
  /// x axis: `time` (seconds) or `step`.
  std::string x_axis = "time";
  /// Vertical dashed lines at these x values, each with a label.
  std::vector<std::pair<double, std::string>> markers;
  /// A third panel: training samples per second.
  bool show_throughput = false;
};

/// True if `gnuplot` is on PATH.
[[nodiscard]] bool gnuplot_available();

/// The gnuplot script that draws `runs` (label, records) into `png_path`:
/// loss above, test accuracy (%) below, one line per run. Pure, for tests.
[[nodiscard]] std::string learning_curve_script(
    const std::vector<
        std::pair<std::string, std::vector<trainer::training_record>>>& runs,
    const std::string& png_path, const learning_curve_options& options);

/// Runs gnuplot on `learning_curve_script` (at most 60 s). Errors: io_error
/// (gnuplot missing, failing, or no PNG written), with gnuplot's output.
caf::error plot_learning_curve(
    const std::vector<
        std::pair<std::string, std::vector<trainer::training_record>>>& runs,
    const std::string& png_path, const learning_curve_options& options = {});

} // namespace colony::apps
