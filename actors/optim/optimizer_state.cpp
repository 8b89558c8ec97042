#include "actors/optim/optimizer_state.hpp"

#include "messages/error.hpp"

#include <torch/optim.h>

#include <memory>

namespace colony::optim {

namespace {

using torch::optim::Optimizer;

/// The key LibTorch's optimizers file a parameter's state under.
std::string state_key(const at::Tensor& p) {
  return c10::guts::to_string(p.unsafeGetTensorImpl());
}

enum class optimizer_kind { adam, adamw, sgd, rmsprop, adagrad, other };

optimizer_kind kind_of(const Optimizer& o) {
  if (dynamic_cast<const torch::optim::Adam*>(&o))
    return optimizer_kind::adam;
  if (dynamic_cast<const torch::optim::AdamW*>(&o))
    return optimizer_kind::adamw;
  if (dynamic_cast<const torch::optim::SGD*>(&o))
    return optimizer_kind::sgd;
  if (dynamic_cast<const torch::optim::RMSprop*>(&o))
    return optimizer_kind::rmsprop;
  if (dynamic_cast<const torch::optim::Adagrad*>(&o))
    return optimizer_kind::adagrad;
  return optimizer_kind::other;
}

at::Tensor fresh_zeros(const at::Tensor& p) {
  return at::zeros_like(p, at::MemoryFormat::Contiguous).detach();
}

/// Calls `f(group options, param, state or null)` for every parameter.
template <class Options, class F>
void for_each_param(Optimizer& o, F&& f) {
  for (auto& group : o.param_groups()) {
    auto& options = static_cast<Options&>(group.options());
    for (auto& p : group.params()) {
      auto it = o.state().find(state_key(p));
      f(options, p, it == o.state().end() ? nullptr : it->second.get());
    }
  }
}

template <class Options, class State>
void init_adam_like(Optimizer& o) {
  for_each_param<Options>(o, [&](Options& opts, at::Tensor& p,
                                 torch::optim::OptimizerParamState* s) {
    if (s)
      return;
    auto state = std::make_unique<State>();
    state->step(0);
    state->exp_avg(fresh_zeros(p));
    state->exp_avg_sq(fresh_zeros(p));
    if (opts.amsgrad())
      state->max_exp_avg_sq(fresh_zeros(p));
    o.state()[state_key(p)] = std::move(state);
  });
}

/// Adam's and AdamW's statistics (their states have the same fields).
template <class State>
at::Tensor adam_statistic(torch::optim::OptimizerParamState& s,
                          const std::string& name) {
  auto& a = static_cast<State&>(s);
  if (name == "exp_avg")
    return a.exp_avg();
  if (name == "exp_avg_sq")
    return a.exp_avg_sq();
  if (name == "max_exp_avg_sq")
    return a.max_exp_avg_sq();
  return {};
}

/// The tensors of statistic `name` in `state` (undefined if it has none).
at::Tensor statistic_of(optimizer_kind kind,
                        torch::optim::OptimizerParamState& s,
                        const std::string& name) {
  switch (kind) {
  case optimizer_kind::adam:
    return adam_statistic<torch::optim::AdamParamState>(s, name);
  case optimizer_kind::adamw:
    return adam_statistic<torch::optim::AdamWParamState>(s, name);
  case optimizer_kind::sgd:
    if (name == "momentum_buffer")
      return static_cast<torch::optim::SGDParamState&>(s).momentum_buffer();
    break;
  case optimizer_kind::rmsprop: {
    auto& r = static_cast<torch::optim::RMSpropParamState&>(s);
    if (name == "square_avg")
      return r.square_avg();
    if (name == "momentum_buffer")
      return r.momentum_buffer();
    if (name == "grad_avg")
      return r.grad_avg();
    break;
  }
  case optimizer_kind::adagrad:
    if (name == "sum")
      return static_cast<torch::optim::AdagradParamState&>(s).sum();
    break;
  case optimizer_kind::other:
    break;
  }
  return {};
}

} // namespace

std::vector<at::Tensor> optimizer_parameters(const Optimizer& optimizer) {
  std::vector<at::Tensor> out;
  for (const auto& group : optimizer.param_groups())
    for (const auto& p : group.params())
      out.push_back(p);
  return out;
}

caf::error initialize_optimizer_state(Optimizer& o) {
  switch (kind_of(o)) {
  case optimizer_kind::adam:
    init_adam_like<torch::optim::AdamOptions, torch::optim::AdamParamState>(o);
    return {};
  case optimizer_kind::adamw:
    init_adam_like<torch::optim::AdamWOptions, torch::optim::AdamWParamState>(
        o);
    return {};
  case optimizer_kind::sgd:
    for_each_param<torch::optim::SGDOptions>(
        o, [&](auto& opts, at::Tensor& p, auto* s) {
          if (s || opts.momentum() == 0)
            return;
          auto state = std::make_unique<torch::optim::SGDParamState>();
          state->momentum_buffer(fresh_zeros(p));
          o.state()[state_key(p)] = std::move(state);
        });
    return {};
  case optimizer_kind::rmsprop:
    for_each_param<torch::optim::RMSpropOptions>(
        o, [&](auto& opts, at::Tensor& p, auto* s) {
          if (s)
            return;
          auto state = std::make_unique<torch::optim::RMSpropParamState>();
          state->step(0);
          state->square_avg(fresh_zeros(p));
          if (opts.momentum() > 0)
            state->momentum_buffer(fresh_zeros(p));
          if (opts.centered())
            state->grad_avg(fresh_zeros(p));
          o.state()[state_key(p)] = std::move(state);
        });
    return {};
  case optimizer_kind::adagrad:
    // Adagrad makes its state in its constructor.
    return {};
  case optimizer_kind::other:
    break;
  }
  return make_error(errc::invalid_argument,
                    "collaborative training supports Adam, AdamW, SGD, "
                    "RMSprop and Adagrad optimizers");
}

std::vector<std::string> optimizer_statistic_names(const Optimizer& optimizer) {
  auto& o = const_cast<Optimizer&>(optimizer);
  auto kind = kind_of(o);
  std::vector<std::string> candidates;
  switch (kind) {
  case optimizer_kind::adam:
  case optimizer_kind::adamw:
    candidates = {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
    break;
  case optimizer_kind::sgd:
    candidates = {"momentum_buffer"};
    break;
  case optimizer_kind::rmsprop:
    candidates = {"square_avg", "momentum_buffer", "grad_avg"};
    break;
  case optimizer_kind::adagrad:
    candidates = {"sum"};
    break;
  case optimizer_kind::other:
    return {};
  }
  // A statistic counts if every parameter has it.
  std::vector<std::string> names;
  auto params = optimizer_parameters(o);
  for (const auto& name : candidates) {
    bool all = !params.empty();
    for (const auto& p : params) {
      auto it = o.state().find(state_key(p));
      if (it == o.state().end() ||
          !statistic_of(kind, *it->second, name).defined()) {
        all = false;
        break;
      }
    }
    if (all)
      names.push_back(name);
  }
  return names;
}

caf::expected<std::vector<at::Tensor>>
optimizer_statistic(Optimizer& o, const std::string& name) {
  auto kind = kind_of(o);
  std::vector<at::Tensor> out;
  for (const auto& p : optimizer_parameters(o)) {
    auto it = o.state().find(state_key(p));
    at::Tensor t;
    if (it != o.state().end())
      t = statistic_of(kind, *it->second, name);
    if (!t.defined())
      return make_error(errc::invalid_argument,
                        "the optimizer keeps no statistic '" + name +
                            "' for every parameter (initialize its state, "
                            "or check the name)");
    out.push_back(t);
  }
  return out;
}

std::vector<at::Tensor> optimizer_state_tensors(Optimizer& o) {
  std::vector<at::Tensor> out;
  for (const auto& name : optimizer_statistic_names(o)) {
    auto tensors = optimizer_statistic(o, name);
    if (tensors)
      out.insert(out.end(), tensors->begin(), tensors->end());
  }
  return out;
}

namespace {

bool keeps_steps(optimizer_kind kind) {
  return kind == optimizer_kind::adam || kind == optimizer_kind::adamw ||
         kind == optimizer_kind::rmsprop || kind == optimizer_kind::adagrad;
}

int64_t get_step(optimizer_kind kind, torch::optim::OptimizerParamState& s) {
  switch (kind) {
  case optimizer_kind::adam:
    return static_cast<torch::optim::AdamParamState&>(s).step();
  case optimizer_kind::adamw:
    return static_cast<torch::optim::AdamWParamState&>(s).step();
  case optimizer_kind::rmsprop:
    return static_cast<torch::optim::RMSpropParamState&>(s).step();
  case optimizer_kind::adagrad:
    return static_cast<torch::optim::AdagradParamState&>(s).step();
  default:
    return 0;
  }
}

void put_step(optimizer_kind kind, torch::optim::OptimizerParamState& s,
              int64_t step) {
  switch (kind) {
  case optimizer_kind::adam:
    static_cast<torch::optim::AdamParamState&>(s).step(step);
    break;
  case optimizer_kind::adamw:
    static_cast<torch::optim::AdamWParamState&>(s).step(step);
    break;
  case optimizer_kind::rmsprop:
    static_cast<torch::optim::RMSpropParamState&>(s).step(step);
    break;
  case optimizer_kind::adagrad:
    static_cast<torch::optim::AdagradParamState&>(s).step(step);
    break;
  default:
    break;
  }
}

} // namespace

std::vector<int64_t> optimizer_step_counts(const Optimizer& optimizer) {
  auto& o = const_cast<Optimizer&>(optimizer);
  auto kind = kind_of(o);
  std::vector<int64_t> out;
  if (!keeps_steps(kind))
    return out;
  for (const auto& p : optimizer_parameters(o)) {
    auto it = o.state().find(state_key(p));
    out.push_back(it == o.state().end() ? 0 : get_step(kind, *it->second));
  }
  return out;
}

caf::error set_optimizer_step_counts(Optimizer& o,
                                     const std::vector<int64_t>& counts) {
  auto kind = kind_of(o);
  auto params = optimizer_parameters(o);
  if (!keeps_steps(kind))
    return counts.empty() ? caf::error{}
                          : make_error(errc::invalid_argument,
                                       "this optimizer keeps no step counts");
  if (counts.size() != params.size())
    return make_error(errc::invalid_argument,
                      "step counts for " + std::to_string(counts.size()) +
                          " parameters, the optimizer has " +
                          std::to_string(params.size()));
  for (size_t i = 0; i < params.size(); ++i) {
    auto it = o.state().find(state_key(params[i]));
    if (it == o.state().end())
      return make_error(errc::invalid_argument,
                        "optimizer state not initialized");
    put_step(kind, *it->second, counts[i]);
  }
  return {};
}

std::vector<double> learning_rates(const Optimizer& optimizer) {
  std::vector<double> out;
  for (const auto& group : optimizer.param_groups())
    out.push_back(group.options().get_lr());
  return out;
}

void set_learning_rate(Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups())
    group.options().set_lr(lr);
}

caf::error set_learning_rates(Optimizer& optimizer,
                              const std::vector<double>& lrs) {
  auto& groups = optimizer.param_groups();
  if (lrs.size() != groups.size())
    return make_error(errc::invalid_argument,
                      "learning rates for " + std::to_string(lrs.size()) +
                          " groups, the optimizer has " +
                          std::to_string(groups.size()));
  for (size_t i = 0; i < groups.size(); ++i)
    groups[i].options().set_lr(lrs[i]);
  return {};
}

} // namespace colony::optim
