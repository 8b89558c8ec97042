#pragma once

// Checks a scenario's invariants against what a run recorded. Pure: the
// tests feed it made-up timelines.

#include "apps/harness/harness_run.hpp"
#include "apps/harness/harness_scenario.hpp"

#include <vector>

namespace colony::apps {

/// One result per invariant of `scenario`, in order. `run.faults` and
/// `run.baseline_accuracy` must be filled.
[[nodiscard]] std::vector<invariant_result>
check_invariants(const harness_scenario& scenario, const harness_run& run);

/// Mean of the first and of the last quarter of `values` (at least one
/// value each); nullopt with fewer than 4 values.
[[nodiscard]] std::optional<std::pair<double, double>>
first_and_last_quarter_means(const std::vector<double>& values);

} // namespace colony::apps
