#pragma once

// The averaging invariants of a fault-injection run, checked against the
// round lines the averaging nodes logged (apps/node/averaging_round_log.hpp).
// Pure: the tests feed them made-up records.

#include "apps/harness/harness_run.hpp"
#include "apps/harness/harness_scenario.hpp"

#include <cstddef>
#include <vector>

namespace colony::apps {

/// averaging_exact: for every group all of whose members logged the round,
/// each span is either unchanged on a member, or changed to one common
/// value that is the weighted mean of the span sums of some set of members
/// that includes every member that changed (the contributors whose parts
/// arrived). Groups with a member's line missing (it died before logging)
/// are only checked for agreement among those that changed. Holds if no
/// span breaks this and at least `spec.threshold` groups were complete.
[[nodiscard]] invariant_result averaging_exact(const invariant_spec& spec,
                                               const harness_run& run);

/// averaging_rounds: after each fault a round succeeds (anywhere) within
/// `spec.within_s`, and each averaging node alive at the end averaged at
/// least `spec.threshold` times after the last fault.
[[nodiscard]] invariant_result averaging_rounds(const invariant_spec& spec,
                                                const harness_run& run);

/// Whether the span values of one complete group are exact: `pre[i]`,
/// `post[i]` and `weight[i]` of member i; `tolerance` bounds the
/// difference of sums. Exposed for tests.
[[nodiscard]] bool span_is_exact(const std::vector<double>& pre,
                                 const std::vector<double>& post,
                                 const std::vector<double>& weight,
                                 double tolerance);

} // namespace colony::apps
