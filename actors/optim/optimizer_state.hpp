#pragma once

// The state a LibTorch optimizer keeps per parameter, seen as tensors that
// peers can average and download: Adam's and AdamW's moments, SGD's and
// RMSprop's buffers, Adagrad's sums, and their step counts. LibTorch creates
// this state lazily at the first step; a collaborative run needs it before
// (to average and share it), so `initialize_optimizer_state` makes it as the
// first step would, without changing a parameter.

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace torch::optim {
class Optimizer;
}

namespace colony::optim {

/// The parameters of `optimizer`, group by group, in order.
[[nodiscard]] std::vector<at::Tensor>
optimizer_parameters(const torch::optim::Optimizer& optimizer);

/// Creates the per-parameter state that `optimizer`'s first step would
/// (zero moments, step 0) where it is missing, so that its tensors exist
/// before that step. The next step then computes what it would have without
/// this call, except SGD with momentum and dampening != 0, whose first step
/// now dampens the gradient. Supports Adam, AdamW, SGD, RMSprop and
/// Adagrad. Errors: invalid_argument (another optimizer kind).
[[nodiscard]] caf::error
initialize_optimizer_state(torch::optim::Optimizer& optimizer);

/// The names of the statistics `optimizer` keeps per parameter (after
/// `initialize_optimizer_state`), e.g. {"exp_avg", "exp_avg_sq"} for Adam.
[[nodiscard]] std::vector<std::string>
optimizer_statistic_names(const torch::optim::Optimizer& optimizer);

/// The statistic `name` of every parameter (views of the optimizer's state,
/// written in place by whoever averages them). Errors: invalid_argument (no
/// such statistic, or state not initialized).
[[nodiscard]] caf::expected<std::vector<at::Tensor>>
optimizer_statistic(torch::optim::Optimizer& optimizer,
                    const std::string& name);

/// Every state tensor of `optimizer`, statistic by statistic in the order of
/// `optimizer_statistic_names`, each over all parameters.
[[nodiscard]] std::vector<at::Tensor>
optimizer_state_tensors(torch::optim::Optimizer& optimizer);

/// The step count of each parameter's state (empty if the optimizer keeps
/// none, as SGD), and setting them back (e.g. from a downloaded state).
/// Errors of the setter: invalid_argument (count mismatch).
[[nodiscard]] std::vector<int64_t>
optimizer_step_counts(const torch::optim::Optimizer& optimizer);
[[nodiscard]] caf::error
set_optimizer_step_counts(torch::optim::Optimizer& optimizer,
                          const std::vector<int64_t>& counts);

/// The learning rate of each parameter group, and setting them all.
[[nodiscard]] std::vector<double>
learning_rates(const torch::optim::Optimizer& optimizer);
void set_learning_rate(torch::optim::Optimizer& optimizer, double lr);
[[nodiscard]] caf::error set_learning_rates(torch::optim::Optimizer& optimizer,
                                            const std::vector<double>& lrs);

} // namespace colony::optim
