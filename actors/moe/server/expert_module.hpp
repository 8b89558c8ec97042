#pragma once

// What an expert computes: a module with a batched forward, trainable
// parameters and a saveable state. Adapters wrap a LibTorch C++ module
// (`module_expert`) or a TorchScript file (`load_torchscript_expert`).
//
// This header includes <torch/torch.h>: include it only where a module is
// built. The rest of colony sees `expert_module` through `expert_backend`.

#include <caf/expected.hpp>
#include <torch/torch.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace colony::moe {

/// The computation of one expert. Not thread-safe: one caller at a time
/// (the device actor).
class expert_module {
 public:
  virtual ~expert_module() = default;

  /// Runs the module on a batch; every input and output has a leading batch
  /// dimension. May throw (LibTorch errors).
  virtual std::vector<at::Tensor>
  forward(const std::vector<at::Tensor>& inputs) = 0;

  /// Trainable parameters (for the optimizer, clipping, counting). The
  /// tensors share storage with the module.
  virtual std::vector<at::Tensor> parameters() = 0;

  /// Switches training mode (dropout active) on or off.
  virtual void train(bool on) = 0;

  /// Writes parameters and buffers to `archive`.
  virtual void save(torch::serialize::OutputArchive& archive) = 0;

  /// Reads parameters and buffers written by `save` into this module. May
  /// throw if the archive lacks an entry.
  virtual void load(torch::serialize::InputArchive& archive) = 0;
};

namespace detail {

/// Arity of a module's `forward`, when it is one non-template member.
template <class F>
struct forward_traits;

template <class R, class C, class... Args>
struct forward_traits<R (C::*)(Args...)> {
  static constexpr size_t arity = sizeof...(Args);
};

template <class R, class C, class... Args>
struct forward_traits<R (C::*)(Args...) const> {
  static constexpr size_t arity = sizeof...(Args);
};

template <class Impl, class = void>
struct has_plain_forward : std::false_type {};

template <class Impl>
struct has_plain_forward<Impl, std::void_t<decltype(&Impl::forward)>>
    : std::true_type {};

/// Turns what a forward returns into a list of tensors.
inline std::vector<at::Tensor> to_tensor_list(at::Tensor t) {
  return {std::move(t)};
}

inline std::vector<at::Tensor> to_tensor_list(std::vector<at::Tensor> ts) {
  return ts;
}

template <class... Ts>
std::vector<at::Tensor> to_tensor_list(std::tuple<Ts...> ts) {
  return std::apply(
      [](auto&... xs) { return std::vector<at::Tensor>{at::Tensor(xs)...}; },
      ts);
}

template <class Holder, size_t... Is>
std::vector<at::Tensor> call_forward(Holder& module,
                                     const std::vector<at::Tensor>& inputs,
                                     std::index_sequence<Is...>) {
  if (inputs.size() != sizeof...(Is))
    throw std::invalid_argument(
        "module takes " + std::to_string(sizeof...(Is)) + " inputs, got " +
        std::to_string(inputs.size()));
  return to_tensor_list(module->forward(inputs[Is]...));
}

} // namespace detail

/// Adapts a LibTorch module holder (`torch::nn::Linear`, a `TORCH_MODULE`
/// of the user's, or a `std::shared_ptr<Impl>`) to `expert_module`.
/// `Holder` must offer `->parameters()`, `->train()`, `->save()` and
/// `->load()` like `torch::nn::Module`.
template <class Holder>
class module_expert : public expert_module {
 public:
  /// Computes the outputs from the module and the inputs.
  using forward_function = std::function<std::vector<at::Tensor>(
      Holder&, const std::vector<at::Tensor>&)>;

  /// Wraps `module` with a custom forward, e.g. for modules whose
  /// `forward` is a template or takes non-tensor arguments.
  module_expert(Holder module, forward_function fn)
      : module_(std::move(module)), forward_(std::move(fn)) {
    if (!forward_)
      throw std::invalid_argument("module_expert: empty forward function");
  }

  /// Wraps `module`, whose `forward` takes N tensors and returns a tensor,
  /// a tuple of tensors or a vector of tensors; the expert then takes N
  /// inputs.
  explicit module_expert(Holder module) : module_(std::move(module)) {
    using impl = std::decay_t<decltype(*module_)>;
    static_assert(detail::has_plain_forward<impl>::value,
                  "forward is overloaded or a template: pass a forward "
                  "function to module_expert");
    constexpr size_t arity =
        detail::forward_traits<decltype(&impl::forward)>::arity;
    forward_ = [](Holder& m, const std::vector<at::Tensor>& inputs) {
      return detail::call_forward(m, inputs, std::make_index_sequence<arity>{});
    };
  }

  std::vector<at::Tensor>
  forward(const std::vector<at::Tensor>& inputs) override {
    return forward_(module_, inputs);
  }

  std::vector<at::Tensor> parameters() override {
    return module_->parameters();
  }

  void train(bool on) override { module_->train(on); }

  void save(torch::serialize::OutputArchive& archive) override {
    module_->save(archive);
  }

  void load(torch::serialize::InputArchive& archive) override {
    module_->load(archive);
  }

  /// The wrapped module.
  Holder& module() noexcept { return module_; }

 private:
  Holder module_;
  forward_function forward_;
};

/// Wraps `module` (its `forward` takes N tensors) as an expert.
template <class Holder>
std::shared_ptr<expert_module> make_module_expert(Holder module) {
  return std::make_shared<module_expert<Holder>>(std::move(module));
}

/// Wraps `module` with the custom forward `fn` as an expert.
template <class Holder>
std::shared_ptr<expert_module>
make_module_expert(Holder module,
                   typename module_expert<Holder>::forward_function fn) {
  return std::make_shared<module_expert<Holder>>(std::move(module),
                                                 std::move(fn));
}

/// Loads a TorchScript module (saved by `torch.jit.save` or
/// `torch::jit::Module::save`) from `path` as an expert. Its `forward` gets
/// the inputs as tensors and returns a tensor or a tuple or list of tensors.
/// Errors: io_error (no such file), invalid_argument (not a TorchScript
/// archive; the text has LibTorch's reason).
caf::expected<std::shared_ptr<expert_module>>
load_torchscript_expert(const std::string& path);

} // namespace colony::moe
