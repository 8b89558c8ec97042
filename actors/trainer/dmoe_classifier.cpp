#include "actors/trainer/dmoe_classifier.hpp"

#include "actors/trainer/expert_grid.hpp"
#include "messages/error.hpp"

#include <set>
#include <stdexcept>

namespace colony::trainer {

namespace {

expert_grid grid_or_throw(const std::string& pattern) {
  auto grid = parse_expert_grid(pattern);
  if (!grid)
    throw std::invalid_argument(error_reason(grid.error()));
  return std::move(*grid);
}

} // namespace

DmoeClassifierImpl::DmoeClassifierImpl(const trainer_options& options,
                                       const swarm_access& swarm,
                                       int64_t input_features, int64_t classes)
    : balancing_loss_weight_(options.balancing_loss_weight) {
  const auto d = options.hidden_dim;
  input = register_module("input", torch::nn::Linear(input_features, d));
  if (options.layer != "moe" && options.layer != "switch")
    throw std::invalid_argument("unknown layer '" + options.layer +
                                "' (expected moe or switch)");
  if (options.local_experts && options.layer != "moe")
    throw std::invalid_argument("local_experts needs layer = moe");
  if (!options.local_experts && swarm.system == nullptr)
    throw std::invalid_argument("remote experts need a swarm to call");
  const auto calls = options.call_options();
  for (size_t b = 0; b < options.grids.size(); ++b) {
    auto grid = grid_or_throw(options.grids[b]);
    auto name = "block" + std::to_string(b);
    if (options.local_experts) {
      local_blocks_.push_back(register_module(
          name, LocalMixtureOfExperts(d, grid.size, options.expert_cls,
                                      options.k_best)));
    } else if (options.layer == "moe") {
      auto o = moe::RemoteMixtureOfExpertsOptions(d, grid.size, grid.uid_prefix)
                   .k_best(options.k_best)
                   .calls(calls);
      moe_blocks_.push_back(register_module(
          name, moe::RemoteMixtureOfExperts(*swarm.system, swarm.transport,
                                            swarm.dht, o)));
    } else {
      auto o = moe::RemoteSwitchMixtureOfExpertsOptions(d, grid.size,
                                                        grid.uid_prefix)
                   .calls(calls);
      switch_blocks_.push_back(register_module(
          name, moe::RemoteSwitchMixtureOfExperts(
                    *swarm.system, swarm.transport, swarm.dht, o)));
    }
  }
  head = register_module("head", torch::nn::Linear(d, classes));
}

classifier_output DmoeClassifierImpl::forward(const at::Tensor& images) {
  auto x = torch::relu(input(images));
  auto aux = torch::zeros({});
  for (auto& block : local_blocks_)
    x = block(x);
  for (auto& block : moe_blocks_)
    x = block(x);
  for (auto& block : switch_blocks_) {
    auto [y, balancing] = block(x);
    x = y;
    aux = aux + balancing_loss_weight_ * balancing;
  }
  return {head(x), aux};
}

std::vector<std::string> DmoeClassifierImpl::last_answered_experts() const {
  std::set<std::string> uids;
  for (const auto& block : moe_blocks_) {
    if (!block->last_mask.defined())
      continue;
    auto mask = block->last_mask.to(torch::kBool).contiguous();
    auto m = mask.accessor<bool, 2>();
    const auto& chosen = block->last_chosen_experts;
    for (size_t s = 0; s < chosen.size(); ++s)
      for (size_t k = 0; k < chosen[s].size(); ++k)
        if (m[static_cast<int64_t>(s)][static_cast<int64_t>(k)])
          uids.insert(chosen[s][k].uid);
  }
  for (const auto& block : switch_blocks_) {
    if (!block->last_answered.defined())
      continue;
    auto answered = block->last_answered.to(torch::kBool).contiguous();
    auto a = answered.accessor<bool, 1>();
    const auto& chosen = block->last_chosen_uids;
    for (size_t s = 0; s < chosen.size(); ++s)
      if (!chosen[s].empty() && a[static_cast<int64_t>(s)])
        uids.insert(chosen[s]);
  }
  return {uids.begin(), uids.end()};
}

moe::expert_call_stats DmoeClassifierImpl::call_stats() const {
  moe::expert_call_stats total;
  auto add = [&](const moe::expert_call_stats& s) {
    total.forward_calls += s.forward_calls;
    total.forward_failures += s.forward_failures;
    total.backward_calls += s.backward_calls;
    total.backward_failures += s.backward_failures;
  };
  for (const auto& block : moe_blocks_)
    add(block->call_stats());
  for (const auto& block : switch_blocks_)
    add(block->moe->call_stats());
  return total;
}

trainer_model make_trainer_model(const trainer_options& options,
                                 const swarm_access& swarm) {
  trainer_model m;
  m.model = DmoeClassifier(options, swarm);
  m.optimizer = std::make_shared<torch::optim::Adam>(
      m.model->parameters(), torch::optim::AdamOptions(options.learning_rate));
  return m;
}

} // namespace colony::trainer
