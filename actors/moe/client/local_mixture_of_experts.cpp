#include "actors/moe/client/local_mixture_of_experts.hpp"

#include "actors/moe/server/expert_module.hpp"
#include "actors/moe/server/layer_registry.hpp"

#include <numeric>
#include <stdexcept>

namespace colony::trainer {

LocalMixtureOfExpertsImpl::LocalMixtureOfExpertsImpl(int64_t in_features,
                                                     std::vector<int> grid_size,
                                                     std::string expert_cls,
                                                     size_t k_best)
    : in_features_(in_features), grid_size_(std::move(grid_size)),
      expert_cls_(std::move(expert_cls)), k_best_(k_best) {
  if (grid_size_.empty())
    throw std::invalid_argument("local mixture of experts: empty grid");
  for (int n : grid_size_)
    if (n <= 0)
      throw std::invalid_argument(
          "local mixture of experts: grid dimensions must be positive");
  if (k_best_ == 0)
    throw std::invalid_argument("local mixture of experts: k_best must be > 0");
  reset();
}

void LocalMixtureOfExpertsImpl::reset() {
  const auto* cls = moe::find_expert_class(expert_cls_);
  if (cls == nullptr)
    throw std::invalid_argument("local mixture of experts: unknown expert "
                                "class '" +
                                expert_cls_ + "'");
  auto width = std::accumulate(grid_size_.begin(), grid_size_.end(), 0);
  proj = register_module("proj", torch::nn::Linear(in_features_, width));
  auto cells = std::accumulate(grid_size_.begin(), grid_size_.end(), int64_t{1},
                               std::multiplies<>());
  experts_.clear();
  for (int64_t e = 0; e < cells; ++e) {
    experts_.push_back(cls->make(in_features_));
    auto params = experts_.back()->parameters();
    for (size_t p = 0; p < params.size(); ++p)
      register_parameter("expert" + std::to_string(e) + "_" + std::to_string(p),
                         params[p]);
  }
}

void LocalMixtureOfExpertsImpl::train(bool on) {
  torch::nn::Module::train(on);
  for (auto& e : experts_)
    e->train(on);
}

at::Tensor LocalMixtureOfExpertsImpl::forward(const at::Tensor& input) {
  if (input.dim() != 2 || input.size(1) != in_features_)
    throw std::invalid_argument(
        "local mixture of experts: expected input of shape (batch, " +
        std::to_string(in_features_) + ")");
  auto logits = proj(input);
  auto batch = input.size(0);
  // Scores of every cell: the sum of its coordinates' logits, built by
  // broadcasting one dimension at a time (row-major cell order).
  at::Tensor scores;
  int64_t offset = 0;
  for (int n : grid_size_) {
    auto part = logits.narrow(1, offset, n);
    offset += n;
    scores = scores.defined()
                 ? (scores.unsqueeze(2) + part.unsqueeze(1)).flatten(1)
                 : part;
  }
  auto k = std::min<int64_t>(static_cast<int64_t>(k_best_), scores.size(1));
  auto [top_scores, top_cells] = scores.topk(k, 1);
  last_chosen = top_cells;
  auto weights = torch::softmax(top_scores, 1);
  auto output = torch::zeros_like(input);
  auto cells = top_cells.flatten();
  auto rows = torch::arange(batch).unsqueeze(1).expand({batch, k}).flatten();
  auto flat_weights = weights.flatten();
  // One run per expert on all the samples that chose it.
  auto order = std::get<1>(cells.sort());
  auto sorted_cells = cells.index_select(0, order);
  auto [unique_cells, inverse, counts] =
      torch::unique_consecutive(sorted_cells, false, true);
  auto unique_list = unique_cells.to(torch::kLong).contiguous();
  auto count_list = counts.to(torch::kLong).contiguous();
  int64_t start = 0;
  for (int64_t u = 0; u < unique_list.size(0); ++u) {
    auto cell = unique_list[u].item<int64_t>();
    auto n = count_list[u].item<int64_t>();
    auto picks = order.narrow(0, start, n);
    start += n;
    auto sample_rows = rows.index_select(0, picks);
    auto y = experts_[static_cast<size_t>(cell)]->forward(
        {input.index_select(0, sample_rows)})[0];
    auto w = flat_weights.index_select(0, picks).unsqueeze(1);
    output = output.index_add(0, sample_rows, y * w);
  }
  return output;
}

} // namespace colony::trainer
