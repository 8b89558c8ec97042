#include "actors/moe/client/switch_moe_layer.hpp"

#include "actors/moe/client/moe_routing.hpp"
#include "actors/moe/expert_uid.hpp"
#include "messages/error.hpp"

#include <limits>
#include <stdexcept>

namespace colony::moe {

RemoteSwitchMixtureOfExpertsImpl::RemoteSwitchMixtureOfExpertsImpl(
    caf::actor_system& system, caf::actor transport, caf::actor dht,
    RemoteSwitchMixtureOfExpertsOptions options)
    : system_(&system), transport_(std::move(transport)), dht_(std::move(dht)),
      options_(std::move(options)) {
  reset();
}

void RemoteSwitchMixtureOfExpertsImpl::reset() {
  if (options_.jitter_eps() < 0 || options_.jitter_eps() >= 1)
    throw std::invalid_argument(
        "switch mixture of experts: jitter_eps must be in [0, 1)");
  if (options_.grid_dropout() <= 0 || options_.grid_dropout() > 1)
    throw std::invalid_argument(
        "switch mixture of experts: grid_dropout must be in (0, 1]");
  if (options_.utilization_alpha() < 0 || options_.utilization_alpha() > 1)
    throw std::invalid_argument(
        "switch mixture of experts: utilization_alpha must be in [0, 1]");
  // The inner layer calls the experts: the same call settings, top-1.
  auto inner =
      RemoteMixtureOfExpertsOptions(options_.in_features(),
                                    options_.grid_size(), options_.uid_prefix())
          .k_best(1)
          .calls(options_.calls());
  moe = register_module(
      "moe", RemoteMixtureOfExperts(*system_, transport_, dht_, inner));
  proj = moe->proj;
  utilization_.clear();
  for (size_t d = 0; d < options_.grid_size().size(); ++d) {
    auto n = options_.grid_size()[d];
    utilization_.push_back(register_buffer(
        "grid_utilization_" + std::to_string(d), torch::full({n}, 1.0 / n)));
  }
  last_chosen_uids.clear();
  last_answered = at::Tensor{};
}

std::vector<at::Tensor>
RemoteSwitchMixtureOfExpertsImpl::grid_utilization() const {
  std::vector<at::Tensor> out;
  for (const auto& u : utilization_)
    out.push_back(u.detach().clone());
  return out;
}

std::pair<at::Tensor, at::Tensor>
RemoteSwitchMixtureOfExpertsImpl::forward(const at::Tensor& input) {
  const auto& grid = options_.grid_size();
  if (input.dim() != 2 || input.size(1) != options_.in_features())
    throw std::invalid_argument(
        "switch mixture of experts: expected input of shape (batch, " +
        std::to_string(options_.in_features()) + ")");
  if (!dht_)
    throw std::runtime_error(
        "switch mixture of experts: no DHT to search experts in");
  // Before the jitter and the search, as the MoE layer does.
  if (options_.detect_anomalies() && !all_finite(input))
    throw std::runtime_error(
        "switch mixture of experts: NaN or inf in the input");
  const auto batch = input.size(0);
  const auto neg_inf = -std::numeric_limits<double>::infinity();

  // Gating, with jitter and grid dropout in training.
  auto gating_input = input;
  if (is_training() && options_.jitter_eps() > 0) {
    auto noise = torch::empty_like(input).uniform_(1 - options_.jitter_eps(),
                                                   1 + options_.jitter_eps());
    gating_input = input * noise;
  }
  auto logits = moe->grid_logits(gating_input);
  std::vector<at::Tensor> dropped;
  for (size_t d = 0; d < grid.size(); ++d) {
    auto l = logits[d];
    if (is_training() && options_.grid_dropout() < 1) {
      auto keep = torch::rand({grid[d]}) < options_.grid_dropout();
      if (keep.any().item<bool>()) // all dropped: keep all (no NaN softmax)
        l = l.masked_fill(keep.logical_not().unsqueeze(0).to(l.device()),
                          neg_inf);
    }
    dropped.push_back(l);
  }

  // Beam search for each sample's best expert, dropped coordinates excluded.
  auto found = moe->find_experts(dropped, 1);

  // Coordinates of each sample's expert (0 where none).
  std::vector<at::Tensor> index;
  for (size_t d = 0; d < grid.size(); ++d)
    index.push_back(torch::zeros({batch, 1}, torch::kLong));
  auto has_expert = torch::zeros({batch}, torch::kBool);
  last_chosen_uids.assign(static_cast<size_t>(batch), std::string{});
  for (int64_t s = 0; s < batch; ++s) {
    const auto& experts = found[s];
    if (experts.empty())
      continue;
    const auto& uid = experts.front().uid;
    auto parsed = parse_uid(uid);
    if (!parsed || parsed->coordinates.size() != grid.size())
      throw std::runtime_error("switch mixture of experts: expert " + uid +
                               " is not on the grid");
    for (size_t d = 0; d < grid.size(); ++d)
      index[d].accessor<int64_t, 2>()[s][0] = parsed->coordinates[d];
    has_expert.accessor<bool, 1>()[s] = true;
    last_chosen_uids[static_cast<size_t>(s)] = uid;
  }

  // Expert calls (top-1: the inner mixing weight is 1). The logits without
  // dropout keep the inner scores finite.
  auto mixed = moe->forward_with_experts(input, logits, found);
  auto mask = moe->last_mask;
  at::Tensor answered = mask.size(1) > 0 ? mask.any(1).logical_and(has_expert)
                                         : torch::zeros({batch}, torch::kBool);
  last_answered = answered;

  // Gating probability of the chosen expert: product over dimensions.
  std::vector<at::Tensor> probs;
  auto chosen_prob = torch::ones({batch, 1}, logits[0].options());
  for (size_t d = 0; d < grid.size(); ++d) {
    probs.push_back(torch::softmax(dropped[d], 1));
    chosen_prob =
        chosen_prob * probs[d].gather(1, index[d].to(probs[d].device()));
  }
  auto answered_col = answered.unsqueeze(1).to(input.device());
  at::Tensor output;
  if (answered.any().item<bool>()) {
    if (mixed.sizes() != input.sizes() &&
        answered.logical_not().any().item<bool>())
      throw std::runtime_error("switch mixture of experts: the residual "
                               "needs expert outputs shaped as the input");
    output = torch::where(answered_col,
                          mixed * chosen_prob.to(mixed.scalar_type()), input);
  } else {
    output = input;
  }

  // Balancing loss and utilization.
  auto loss = torch::zeros({}, logits[0].options());
  auto answered_count = answered.sum().item<int64_t>();
  for (size_t d = 0; d < grid.size(); ++d) {
    auto counts = torch::zeros({grid[d]}, torch::kFloat);
    auto idx = index[d].squeeze(1);
    counts.index_add_(0, idx.masked_select(answered),
                      torch::ones({answered_count}, torch::kFloat));
    auto fraction =
        (counts / static_cast<double>(batch)).to(probs[d].options()).detach();
    loss = loss + (fraction * probs[d].mean(0)).sum() * grid[d];
    if (answered_count > 0) {
      torch::NoGradGuard no_grad;
      auto share = (counts / static_cast<double>(answered_count))
                       .to(utilization_[d].options());
      utilization_[d]
          .mul_(options_.utilization_alpha())
          .add_(share * (1 - options_.utilization_alpha()));
    }
  }
  return {output, loss};
}

} // namespace colony::moe
