#include "actors/averaging/part_applier.hpp"

#include "actors/averaging/finite_values.hpp"
#include "messages/error.hpp"

#include <string>

namespace colony::averaging {

part_applier::part_applier(tensor_parts& parts, double alpha)
    : parts_(&parts), alpha_(alpha) {
  states_.resize(parts.num_spans());
  for (size_t s = 0; s < states_.size(); ++s) {
    states_[s].assign(parts.parts(s).size(), part_state::pending);
    pending_ += states_[s].size();
  }
}

void part_applier::settle(size_t span, size_t part, part_state state) {
  states_[span][part] = state;
  --pending_;
  if (state == part_state::averaged)
    ++averaged_;
  else
    ++kept_;
}

caf::error part_applier::apply(size_t span, size_t part,
                               const at::Tensor& delta) {
  auto name =
      "part " + std::to_string(part) + " of span " + std::to_string(span);
  if (span >= states_.size() || part >= states_[span].size())
    return make_error(errc::invalid_argument, "no " + name);
  if (states_[span][part] != part_state::pending)
    return make_error(errc::invalid_argument, name + " is settled already");
  const auto& info = parts_->parts(span)[part];
  if (!delta.defined() || delta.dim() != 1 || delta.numel() != info.numel() ||
      !at::isFloatingType(delta.scalar_type())) {
    settle(span, part, part_state::kept);
    return make_error(errc::bad_shape,
                      "delta for " + name + " does not match the part's " +
                          std::to_string(info.numel()) +
                          " values; it keeps its local values");
  }
  if (!all_finite(delta)) {
    settle(span, part, part_state::kept);
    return make_error(errc::malformed, "non-finite delta for " + name +
                                           "; it keeps its local values");
  }
  if (auto err = parts_->add(span, part, delta, alpha_)) {
    settle(span, part, part_state::kept);
    return err;
  }
  settle(span, part, part_state::averaged);
  return {};
}

void part_applier::keep(size_t span, size_t part) {
  if (span < states_.size() && part < states_[span].size() &&
      states_[span][part] == part_state::pending)
    settle(span, part, part_state::kept);
}

void part_applier::keep_span(size_t span) {
  if (span >= states_.size())
    return;
  for (size_t p = 0; p < states_[span].size(); ++p)
    keep(span, p);
}

void part_applier::keep_pending() {
  for (size_t s = 0; s < states_.size(); ++s)
    keep_span(s);
}

} // namespace colony::averaging
