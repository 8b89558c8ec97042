#pragma once

// A fault-injection run, written down: the JSON report (per-node
// timelines, faults applied, invariants with measured values), a PNG of
// loss, accuracy and throughput over time with the faults marked, and the
// summary table printed at the end.

#include "apps/harness/harness_run.hpp"

#include <caf/error.hpp>

#include <string>

namespace colony::apps {

/// The JSON report (one object, pretty enough to read).
[[nodiscard]] std::string harness_report_json(const harness_run& run);

/// Writes `harness_report_json` to `path`.
caf::error write_harness_report(const harness_run& run,
                                const std::string& path);

/// Draws the trainers' timelines into `png_path` with gnuplot. Errors as
/// plot_learning_curve.
caf::error plot_harness_run(const harness_run& run,
                            const std::string& png_path);

/// The summary: one line per node, one per fault, one per invariant, and
/// the verdict.
[[nodiscard]] std::string harness_summary(const harness_run& run);

} // namespace colony::apps
