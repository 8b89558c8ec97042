#include "actors/moe/client/moe_routing.hpp"

#include <ATen/ops/tensor.h>
#include <ATen/ops/zeros.h>

#include <algorithm>
#include <unordered_map>

namespace colony::moe {

std::vector<expert_batch>
group_by_expert(const std::vector<std::vector<expert_info>>& chosen) {
  std::vector<expert_batch> result;
  std::unordered_map<std::string, size_t> index;
  for (size_t sample = 0; sample < chosen.size(); ++sample) {
    for (size_t slot = 0; slot < chosen[sample].size(); ++slot) {
      const auto& e = chosen[sample][slot];
      auto [it, added] = index.emplace(e.uid, result.size());
      if (added)
        result.push_back(expert_batch{e, {}, {}});
      auto& batch = result[it->second];
      batch.rows.push_back(static_cast<int64_t>(sample));
      batch.slots.push_back(static_cast<int64_t>(slot));
    }
  }
  return result;
}

int64_t
slot_count(const std::vector<std::vector<expert_info>>& chosen) noexcept {
  size_t result = 0;
  for (const auto& experts : chosen)
    result = std::max(result, experts.size());
  return static_cast<int64_t>(result);
}

std::vector<int64_t>
chosen_per_sample(const std::vector<std::vector<expert_info>>& chosen) {
  std::vector<int64_t> result;
  result.reserve(chosen.size());
  for (const auto& experts : chosen)
    result.push_back(static_cast<int64_t>(experts.size()));
  return result;
}

at::Tensor row_index(const expert_batch& batch) {
  return at::tensor(at::ArrayRef<int64_t>{batch.rows}, at::kLong);
}

at::Tensor flat_slot_index(const expert_batch& batch, int64_t slots) {
  std::vector<int64_t> flat(batch.rows.size());
  for (size_t i = 0; i < flat.size(); ++i)
    flat[i] = batch.rows[i] * slots + batch.slots[i];
  return at::tensor(at::ArrayRef<int64_t>{flat}, at::kLong);
}

at::Tensor build_mask(int64_t samples, int64_t slots,
                      const std::vector<expert_batch>& batches,
                      const std::vector<bool>& answered) {
  auto mask = at::zeros({samples, slots}, at::kBool);
  auto m = mask.accessor<bool, 2>();
  for (size_t b = 0; b < batches.size(); ++b) {
    if (!answered[b])
      continue;
    for (size_t i = 0; i < batches[b].rows.size(); ++i)
      m[batches[b].rows[i]][batches[b].slots[i]] = true;
  }
  return mask;
}

at::Tensor scatter_outputs(int64_t samples, int64_t slots,
                           const std::vector<expert_batch>& batches,
                           const std::vector<at::Tensor>& outputs,
                           at::IntArrayRef row_shape, at::ScalarType dtype) {
  std::vector<int64_t> shape{samples, slots};
  shape.insert(shape.end(), row_shape.begin(), row_shape.end());
  auto stacked = at::zeros(shape, at::TensorOptions().dtype(dtype));
  auto flat = stacked.view({samples * slots, -1});
  for (size_t b = 0; b < batches.size(); ++b) {
    if (!outputs[b].defined())
      continue;
    auto rows = static_cast<int64_t>(batches[b].rows.size());
    flat.index_copy_(0, flat_slot_index(batches[b], slots),
                     outputs[b].to(dtype).reshape({rows, -1}));
  }
  return stacked;
}

at::Tensor gather_outputs(const at::Tensor& stacked,
                          const expert_batch& batch) {
  auto samples = stacked.size(0);
  auto slots = stacked.size(1);
  std::vector<int64_t> shape{static_cast<int64_t>(batch.rows.size())};
  for (int64_t d = 2; d < stacked.dim(); ++d)
    shape.push_back(stacked.size(d));
  return stacked.reshape({samples * slots, -1})
      .index_select(0, flat_slot_index(batch, slots))
      .view(shape);
}

void accumulate_rows(at::Tensor& target, const expert_batch& batch,
                     const at::Tensor& values) {
  target.index_add_(0, row_index(batch), values.to(target.scalar_type()));
}

std::vector<int64_t> answered_per_sample(const at::Tensor& mask) {
  auto counts = mask.to(at::kLong).sum(1).contiguous();
  const auto* p = counts.data_ptr<int64_t>();
  return std::vector<int64_t>(p, p + counts.numel());
}

std::vector<int64_t>
samples_short_of_answers(const std::vector<int64_t>& answered,
                         const std::vector<int64_t>& chosen, size_t k_min) {
  std::vector<int64_t> result;
  for (size_t s = 0; s < answered.size(); ++s) {
    auto need = std::min(static_cast<int64_t>(k_min), chosen[s]);
    if (answered[s] < need)
      result.push_back(static_cast<int64_t>(s));
  }
  return result;
}

bool all_finite(const at::Tensor& t) {
  if (!t.defined() || !t.is_floating_point())
    return true;
  return t.isfinite().all().item<bool>();
}

std::optional<size_t>
pick_row_shape(const std::vector<std::vector<int64_t>>& shapes,
               const std::vector<int64_t>& preferred) {
  std::optional<size_t> best;
  size_t best_votes = 0;
  for (size_t i = 0; i < shapes.size(); ++i) {
    auto votes = static_cast<size_t>(
        std::count(shapes.begin(), shapes.end(), shapes[i]));
    bool better =
        votes > best_votes || (votes == best_votes && shapes[i] == preferred &&
                               shapes[*best] != preferred);
    if (better) {
      best = i;
      best_votes = votes;
    }
  }
  return best;
}

} // namespace colony::moe
