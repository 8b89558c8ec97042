#include "actors/averaging/part_reducer.hpp"

#include "actors/averaging/finite_values.hpp"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

namespace colony::averaging {

namespace {

/// The dtype a part's weighted sum accumulates in: float32 for 16- and
/// 32-bit parts (exact to a few float32 ulps for the group sizes averaging
/// sees), float64 for float64 parts.
at::ScalarType accumulation_dtype(at::ScalarType part_dtype) {
  return part_dtype == at::kDouble ? at::kDouble : at::kFloat;
}

std::string describe_part(const part_message& m) {
  return "part " + std::to_string(m.part_index) + " from member " +
         std::to_string(m.sender);
}

} // namespace

part_reducer::part_reducer(std::string group_id, std::vector<part_info> parts,
                           std::vector<bool> contributes)
    : group_id_(std::move(group_id)), parts_(std::move(parts)),
      contributes_(std::move(contributes)), next_(contributes_.size(), 0),
      excluded_(contributes_.size()) {
  // Nothing to wait for in an empty span, or with no contributor.
  reducer_update ignored;
  settle(ignored);
}

reducer_update part_reducer::refuse(const part_message& message,
                                    exclusion_reason reason, std::string text,
                                    bool exclude_sender) {
  reducer_update update;
  if (exclude_sender) {
    auto sender = message.sender;
    excluded_[sender] = reason;
    update.excluded = exclusion{sender, next_[sender], reason, text};
    settle(update);
  }
  update.refused = part_refusal{message.part_index, reason, std::move(text)};
  return update;
}

reducer_update part_reducer::accept(part_message message) {
  auto sender = message.sender;
  if (sender >= contributes_.size() || !contributes_[sender])
    return refuse(message, exclusion_reason::not_a_sender,
                  describe_part(message) +
                      ": not a member that contributes tensors",
                  false);
  if (auto reason = excluded_[sender])
    return refuse(message, *reason,
                  describe_part(message) + ": the sender is excluded (" +
                      to_string(*reason) + ")",
                  false);
  if (message.group_id != group_id_)
    return refuse(message, exclusion_reason::wrong_group,
                  describe_part(message) + ": another round's group id", true);
  if (message.part_index != next_[sender] ||
      message.part_index >= parts_.size())
    return refuse(message, exclusion_reason::out_of_order,
                  describe_part(message) + ": expected part " +
                      std::to_string(next_[sender]) + " of " +
                      std::to_string(parts_.size()),
                  true);
  const auto& info = parts_[message.part_index];
  const auto& values = message.values;
  if (!values.defined() || values.dim() != 1 ||
      values.numel() != info.numel() || values.scalar_type() != info.dtype)
    return refuse(message, exclusion_reason::wrong_size,
                  describe_part(message) + ": expected " +
                      std::to_string(info.numel()) + " values of " +
                      c10::toString(info.dtype),
                  true);
  if (!std::isfinite(message.weight) || message.weight < 0)
    return refuse(message, exclusion_reason::bad_weight,
                  describe_part(message) + ": weight " +
                      std::to_string(message.weight),
                  true);
  // Reduce on arrival: only the running sum and this sender's values stay.
  while (pending_.size() <= message.part_index - done_)
    pending_.emplace_back();
  auto& part = pending_[message.part_index - done_];
  if (!add_to_sum(part, values, message.weight, info.dtype))
    return refuse(message, exclusion_reason::non_finite,
                  describe_part(message) + ": non-finite values", true);
  part.weight += message.weight;
  part.weights.push_back(message.weight);
  part.senders.push_back(sender);
  part.values.push_back(std::move(message.values));
  ++next_[sender];
  reducer_update update;
  settle(update);
  return update;
}

bool part_reducer::add_to_sum(pending_part& part, const at::Tensor& values,
                              double weight, at::ScalarType dtype) {
  bool first = !part.sum.defined();
  if (dtype == at::kFloat && values.is_contiguous()) {
    // The common case in one pass: check and accumulate together.
    if (first)
      part.sum = at::empty({values.numel()}, at::kFloat);
    if (accumulate_finite(part.sum.data_ptr<float>(), values.data_ptr<float>(),
                          values.numel(), static_cast<float>(weight), first))
      return true;
    // Rebuild the sum of those before, exactly as it was made.
    if (part.values.empty()) {
      part.sum = at::Tensor();
      return false;
    }
    for (size_t k = 0; k < part.values.size(); ++k) {
      auto before = part.values[k].contiguous();
      (void)accumulate_finite(part.sum.data_ptr<float>(),
                              before.data_ptr<float>(), before.numel(),
                              static_cast<float>(part.weights[k]), k == 0);
    }
    return false;
  }
  if (!all_finite(values))
    return false;
  // The first arrival starts the sum (one pass); later ones add to it.
  if (first)
    part.sum = at::mul(values.to(accumulation_dtype(dtype)), weight);
  else
    part.sum.add_(values, weight);
  return true;
}

reducer_update part_reducer::exclude(uint32_t sender, exclusion_reason reason,
                                     std::string message) {
  reducer_update update;
  if (sender >= contributes_.size() || !contributes_[sender] ||
      excluded_[sender] || next_[sender] >= parts_.size())
    return update;
  excluded_[sender] = reason;
  update.excluded =
      exclusion{sender, next_[sender], reason, std::move(message)};
  settle(update);
  return update;
}

std::vector<uint32_t> part_reducer::waiting_for() const {
  std::vector<uint32_t> out;
  for (uint32_t s = 0; s < contributes_.size(); ++s)
    if (contributes_[s] && !excluded_[s] && next_[s] < parts_.size())
      out.push_back(s);
  return out;
}

void part_reducer::settle(reducer_update& update) {
  // Senders send in order, so part p is settled once every active sender
  // is past it: the settled prefix ends at the slowest active sender.
  auto settled = static_cast<uint32_t>(parts_.size());
  for (size_t s = 0; s < contributes_.size(); ++s)
    if (contributes_[s] && !excluded_[s])
      settled = std::min(settled, next_[s]);
  for (; done_ < settled; ++done_) {
    pending_part part;
    if (!pending_.empty()) {
      part = std::move(pending_.front());
      pending_.pop_front();
    }
    update.completed.push_back(reduce(done_, std::move(part)));
  }
}

reduced_part part_reducer::reduce(uint32_t index, pending_part&& part) const {
  reduced_part out;
  out.part_index = index;
  out.total_weight = part.weight;
  // Senders arrive in any order; report them ascending, deltas alongside.
  std::vector<size_t> order(part.senders.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return part.senders[a] < part.senders[b];
  });
  for (auto i : order)
    out.contributors.push_back(part.senders[i]);
  if (part.senders.empty() || !(part.weight > 0))
    return out;
  auto average = part.sum;
  // Finite values can still overflow the sum (huge weights): no average
  // then, rather than an infinite one. Float32 sums divide and check in
  // one pass.
  if (average.scalar_type() == at::kFloat && average.is_contiguous()) {
    if (!divide_finite(average.data_ptr<float>(), average.numel(),
                       static_cast<float>(part.weight)))
      return out;
  } else if (!all_finite(average.div_(part.weight))) {
    return out;
  }
  out.averaged = true;
  out.dtype = parts_[index].dtype;
  out.average = std::move(average);
  for (auto i : order)
    out.sent.push_back(std::move(part.values[i]));
  return out;
}

at::Tensor reduced_part::delta(size_t k) const {
  return at::sub(average, sent.at(k)).to(dtype);
}

} // namespace colony::averaging
