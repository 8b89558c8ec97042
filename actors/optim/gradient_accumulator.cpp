#include "actors/optim/gradient_accumulator.hpp"

#include <ATen/ATen.h>

namespace colony::optim {

gradient_accumulator::gradient_accumulator(std::vector<at::Tensor> parameters,
                                           bool reuse_grad_buffers)
    : parameters_(std::move(parameters)),
      reuse_grad_buffers_(reuse_grad_buffers) {
  if (!reuse_grad_buffers_)
    for (const auto& p : parameters_)
      sums_.push_back(at::zeros_like(p, at::MemoryFormat::Contiguous));
}

void gradient_accumulator::accumulate(uint64_t batch_size) {
  if (batch_size == 0)
    return;
  at::NoGradGuard no_grad;
  if (!reuse_grad_buffers_)
    for (size_t i = 0; i < parameters_.size(); ++i) {
      const auto& grad = parameters_[i].grad();
      if (grad.defined())
        sums_[i].add_(grad, static_cast<double>(batch_size));
    }
  samples_ += batch_size;
  steps_ += 1;
}

void gradient_accumulator::mean_into(const std::vector<at::Tensor>& out) const {
  at::NoGradGuard no_grad;
  for (size_t i = 0; i < parameters_.size() && i < out.size(); ++i) {
    if (samples_ == 0) {
      out[i].zero_(); // a const Tensor handle still writes its data
    } else if (reuse_grad_buffers_) {
      // Each step added its batch's mean: equal batches make the mean of
      // the means the mean per sample.
      const auto& grad = parameters_[i].grad();
      auto target = out[i];
      if (grad.defined())
        at::div_out(target, grad, static_cast<double>(steps_));
      else
        target.zero_();
    } else {
      auto target = out[i];
      at::div_out(target, sums_[i], static_cast<double>(samples_));
    }
  }
}

void gradient_accumulator::reset() {
  at::NoGradGuard no_grad;
  for (auto& s : sums_)
    s.zero_();
  if (reuse_grad_buffers_)
    for (auto& p : parameters_)
      if (p.grad().defined())
        p.mutable_grad().zero_();
  samples_ = 0;
  steps_ = 0;
}

} // namespace colony::optim
