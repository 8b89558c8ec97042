#include "actors/moe/client/remote_expert.hpp"

#include "actors/moe/client/expert_calls.hpp"
#include "messages/error.hpp"

#include <torch/csrc/autograd/custom_function.h>

#include <stdexcept>

namespace colony::moe {

namespace {

/// What the backward of one call needs besides the saved inputs: where the
/// expert lives, and the outputs' shapes (for gradients autograd left
/// undefined, which count as zeros).
struct remote_call_record : torch::CustomClassHolder {
  caf::actor_system* system = nullptr;
  caf::actor transport;
  RemoteExpertOptions options{"", ""};
  std::vector<std::vector<int64_t>> output_shapes;
  std::vector<at::ScalarType> output_dtypes;
};

std::vector<at::Tensor> call_or_throw(const remote_call_record& r,
                                      const char* method,
                                      std::vector<at::Tensor> tensors,
                                      std::chrono::milliseconds timeout) {
  expert_call_deadlines deadlines;
  deadlines.timeout = timeout;
  auto results = call_experts(*r.system, r.transport,
                              {expert_call{r.options.address(), r.options.uid(),
                                           method, std::move(tensors)}},
                              deadlines, r.options.compression());
  if (!results[0])
    throw std::runtime_error("expert " + r.options.uid() + " at " +
                             r.options.address() + ": " + method +
                             " failed: " + error_reason(results[0].error()));
  return std::move(*results[0]);
}

class remote_call_function
    : public torch::autograd::Function<remote_call_function> {
 public:
  static torch::autograd::variable_list
  forward(torch::autograd::AutogradContext* ctx,
          c10::intrusive_ptr<remote_call_record> record,
          at::TensorList inputs) {
    std::vector<at::Tensor> detached;
    for (const auto& x : inputs)
      detached.push_back(x.detach());
    auto outputs = call_or_throw(*record, "forward", detached,
                                 record->options.forward_timeout());
    for (auto& y : outputs) {
      record->output_shapes.push_back(y.sizes().vec());
      record->output_dtypes.push_back(y.scalar_type());
      // The reply's buffer is read-only and shared; users may write to
      // what a module returns.
      y = y.clone();
    }
    ctx->save_for_backward(detached);
    ctx->saved_data["record"] = c10::IValue::make_capsule(record);
    return outputs;
  }

  static torch::autograd::variable_list
  backward(torch::autograd::AutogradContext* ctx,
           torch::autograd::variable_list grad_outputs) {
    auto record = ctx->saved_data["record"].toCapsule();
    auto& r = static_cast<remote_call_record&>(*record);
    auto inputs = ctx->get_saved_variables();
    auto tensors = inputs;
    for (size_t i = 0; i < grad_outputs.size(); ++i) {
      auto g = grad_outputs[i];
      if (!g.defined())
        g = torch::zeros(r.output_shapes[i],
                         torch::TensorOptions().dtype(r.output_dtypes[i]));
      tensors.push_back(g.contiguous());
    }
    auto grads = call_or_throw(r, "backward", std::move(tensors),
                               r.options.backward_timeout());
    torch::autograd::variable_list result;
    result.emplace_back(); // the record takes no gradient
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (i < grads.size() && inputs[i].is_floating_point())
        result.push_back(grads[i].clone());
      else
        result.emplace_back();
    }
    return result;
  }
};

} // namespace

std::vector<at::Tensor>
remote_expert_call(caf::actor_system& system, const caf::actor& transport,
                   const RemoteExpertOptions& options,
                   const std::vector<at::Tensor>& inputs) {
  auto record = c10::make_intrusive<remote_call_record>();
  record->system = &system;
  record->transport = transport;
  record->options = options;
  return remote_call_function::apply(record, at::TensorList{inputs});
}

RemoteExpertImpl::RemoteExpertImpl(caf::actor_system& system,
                                   caf::actor transport,
                                   RemoteExpertOptions options)
    : system_(&system), transport_(std::move(transport)),
      options_(std::move(options)) {}

std::vector<at::Tensor>
RemoteExpertImpl::forward(const std::vector<at::Tensor>& inputs) {
  return remote_expert_call(*system_, transport_, options_, inputs);
}

at::Tensor RemoteExpertImpl::forward_one(const at::Tensor& input) {
  auto outputs = forward({input});
  if (outputs.size() != 1)
    throw std::runtime_error("expert " + options_.uid() + " returned " +
                             std::to_string(outputs.size()) +
                             " outputs, forward_one expects 1");
  return outputs.front();
}

} // namespace colony::moe
