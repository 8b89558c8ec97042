#include "actors/moe/server/expert_module.hpp"

#include "messages/error.hpp"

#include <torch/script.h>

#include <filesystem>

namespace colony::moe {

namespace {

/// A TorchScript module as an expert. Parameters and buffers are saved by
/// their dotted names ("layer.weight").
class torchscript_expert : public expert_module {
 public:
  explicit torchscript_expert(torch::jit::Module module)
      : module_(std::move(module)) {}

  std::vector<at::Tensor>
  forward(const std::vector<at::Tensor>& inputs) override {
    std::vector<c10::IValue> args(inputs.begin(), inputs.end());
    auto result = module_.forward(std::move(args));
    std::vector<at::Tensor> outputs;
    if (result.isTensor()) {
      outputs.push_back(result.toTensor());
    } else if (result.isTuple()) {
      for (auto& x : result.toTupleRef().elements())
        outputs.push_back(as_tensor(x));
    } else if (result.isList()) {
      for (const c10::IValue& x : result.toListRef())
        outputs.push_back(as_tensor(x));
    } else {
      throw std::runtime_error("TorchScript forward returned " +
                               result.tagKind() +
                               ", expected a tensor or a tuple of tensors");
    }
    return outputs;
  }

  std::vector<at::Tensor> parameters() override {
    std::vector<at::Tensor> result;
    for (const auto& p : module_.parameters())
      result.push_back(p);
    return result;
  }

  void train(bool on) override { module_.train(on); }

  void save(torch::serialize::OutputArchive& archive) override {
    for (const auto& p : module_.named_parameters())
      archive.write(p.name, p.value, false);
    for (const auto& b : module_.named_buffers())
      archive.write(b.name, b.value, true);
  }

  void load(torch::serialize::InputArchive& archive) override {
    for (const auto& p : module_.named_parameters()) {
      auto t = p.value;
      archive.read(p.name, t, false);
    }
    for (const auto& b : module_.named_buffers()) {
      auto t = b.value;
      archive.read(b.name, t, true);
    }
  }

 private:
  static at::Tensor as_tensor(const c10::IValue& x) {
    if (!x.isTensor())
      throw std::runtime_error("TorchScript forward returned a " + x.tagKind() +
                               " among its outputs");
    return x.toTensor();
  }

  torch::jit::Module module_;
};

} // namespace

caf::expected<std::shared_ptr<expert_module>>
load_torchscript_expert(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    return make_error(errc::io_error,
                      "no TorchScript file at " + path +
                          (ec ? " (" + ec.message() + ")" : std::string{}));
  try {
    auto module = torch::jit::load(path);
    return std::shared_ptr<expert_module>{
        std::make_shared<torchscript_expert>(std::move(module))};
  } catch (const c10::Error& e) {
    return make_error(errc::invalid_argument,
                      "cannot load TorchScript module " + path + ": " +
                          e.what_without_backtrace());
  } catch (const std::exception& e) {
    return make_error(errc::invalid_argument,
                      "cannot load TorchScript module " + path + ": " +
                          e.what());
  }
}

} // namespace colony::moe
