#pragma once

// Routing of a mixture-of-experts batch: which samples each expert serves,
// where its answers land in the (sample, slot) grid of the layer, and which
// slots answered. Pure functions over tensors, no autograd and no network;
// `moe_layer` builds on them.

#include "actors/moe/expert_record.hpp"

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace colony::moe {

/// The samples of a layer's batch that one expert serves: the rows of the
/// one batched call it gets.
struct expert_batch {
  /// The expert.
  expert_info expert;

  /// Per row of the call, the sample it comes from (ascending).
  std::vector<int64_t> rows;

  /// Per row of the call, the expert's position (slot) in that sample's list
  /// of chosen experts.
  std::vector<int64_t> slots;
};

/// Groups `chosen[sample]` (each sample's experts, best first) by expert uid,
/// in order of first appearance (sample by sample, slot by slot). An expert
/// listed twice for one sample serves that sample twice, once per slot.
[[nodiscard]] std::vector<expert_batch>
group_by_expert(const std::vector<std::vector<expert_info>>& chosen);

/// The number of slots per sample: the longest list in `chosen` (0 if none).
[[nodiscard]] int64_t
slot_count(const std::vector<std::vector<expert_info>>& chosen) noexcept;

/// The number of experts each sample has in `chosen`.
[[nodiscard]] std::vector<int64_t>
chosen_per_sample(const std::vector<std::vector<expert_info>>& chosen);

/// `batch.rows` as an int64 tensor, to select the call's inputs with
/// `index_select(0, ...)`.
[[nodiscard]] at::Tensor row_index(const expert_batch& batch);

/// Index of each row of `batch` in a (samples, slots) grid flattened
/// row-major: `rows[i] * slots + slots[i]`.
[[nodiscard]] at::Tensor flat_slot_index(const expert_batch& batch,
                                         int64_t slots);

/// The (samples, slots) bool mask: true where the slot's expert answered,
/// i.e. for the rows of every batch `b` with `answered[b]`; false for failed
/// experts and for slots of samples with fewer experts than `slots`.
/// Expects `answered.size() == batches.size()`.
[[nodiscard]] at::Tensor build_mask(int64_t samples, int64_t slots,
                                    const std::vector<expert_batch>& batches,
                                    const std::vector<bool>& answered);

/// Stacks the experts' answers into a (samples, slots, row_shape...) tensor
/// of `dtype`: row `i` of `outputs[b]` goes to (`rows[i]`, `slots[i]`);
/// slots without an answer (undefined `outputs[b]`, or no expert) stay zero.
/// Each defined `outputs[b]` has shape (rows, row_shape...).
[[nodiscard]] at::Tensor
scatter_outputs(int64_t samples, int64_t slots,
                const std::vector<expert_batch>& batches,
                const std::vector<at::Tensor>& outputs,
                at::IntArrayRef row_shape, at::ScalarType dtype);

/// The inverse of `scatter_outputs` for one batch: the rows of `stacked`
/// (samples, slots, row_shape...) that `batch` fills, as (rows,
/// row_shape...).
[[nodiscard]] at::Tensor gather_outputs(const at::Tensor& stacked,
                                        const expert_batch& batch);

/// Adds row `i` of `values` to row `rows[i]` of `target` (samples, ...), in
/// place; rows of one sample add up.
void accumulate_rows(at::Tensor& target, const expert_batch& batch,
                     const at::Tensor& values);

/// Per sample, the number of true slots of a (samples, slots) mask.
[[nodiscard]] std::vector<int64_t> answered_per_sample(const at::Tensor& mask);

/// The samples that got fewer answers than required: fewer than
/// min(`k_min`, `chosen[sample]`) (a sample cannot need more answers than it
/// has experts). Ascending sample indices.
[[nodiscard]] std::vector<int64_t>
samples_short_of_answers(const std::vector<int64_t>& answered,
                         const std::vector<int64_t>& chosen, size_t k_min);

/// True if every element of `t` is finite (not NaN, not +-inf); true for
/// non-floating-point and undefined tensors.
[[nodiscard]] bool all_finite(const at::Tensor& t);

/// Which of the experts' output row shapes (shape after the batch dimension)
/// to keep when they disagree: the most common one, so that a minority of
/// faulty or malicious experts cannot exclude the honest ones; on a tie, the
/// one equal to `preferred` (the input's), else the first. Returns the index
/// into `shapes`; nullopt if `shapes` is empty.
[[nodiscard]] std::optional<size_t>
pick_row_shape(const std::vector<std::vector<int64_t>>& shapes,
               const std::vector<int64_t>& preferred);

} // namespace colony::moe
