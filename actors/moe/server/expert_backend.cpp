#include "actors/moe/server/expert_backend.hpp"

#include "actors/moe/server/expert_module.hpp"
#include "actors/moe/server/layer_registry.hpp"
#include "actors/moe/server/lr_schedule.hpp"
#include "messages/error.hpp"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace colony::moe {

namespace fs = std::filesystem;

namespace {

/// Batch size of the sample inputs that define a built expert's schema.
constexpr int64_t sample_batch = 2;

/// Version of the checkpoint layout written by `save_checkpoint`.
constexpr int64_t checkpoint_version = 1;

/// Name of the newest checkpoint in an expert's directory.
constexpr const char* last_checkpoint_name = "checkpoint_last.pt";

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// A uid names a directory: no separators, no parent references.
caf::error check_uid(const std::string& uid) {
  if (uid.empty() || uid == "." || uid.find('/') != std::string::npos ||
      uid.find('\\') != std::string::npos ||
      uid.find("..") != std::string::npos ||
      uid.find('\0') != std::string::npos)
    return make_error(errc::invalid_argument,
                      "expert uid '" + uid +
                          "' is empty or contains '/', '\\' or '..'");
  return caf::none;
}

std::string libtorch_reason(const std::exception& e) {
  if (auto ce = dynamic_cast<const c10::Error*>(&e))
    return ce->what_without_backtrace();
  return e.what();
}

/// The batch size shared by `tensors`, each with a batch dimension; -1 if
/// there is none.
int64_t common_batch(const std::vector<at::Tensor>& tensors) {
  int64_t rows = -1;
  for (auto& t : tensors) {
    if (!t.defined() || t.dim() < 1)
      return -1;
    if (rows >= 0 && t.size(0) != rows)
      return -1;
    rows = t.size(0);
  }
  return rows;
}

/// A stamp unique among this process's checkpoints of one expert: unix time
/// in microseconds.
std::string time_stamp() {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%lld.%06lld",
                static_cast<long long>(us / 1000000),
                static_cast<long long>(us % 1000000));
  return buf;
}

} // namespace

struct expert_backend::state {
  std::string uid;
  std::string cls;
  expert_schema schema;
  std::shared_ptr<expert_module> module;
  std::vector<at::Tensor> params;
  std::string optimizer_name;
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  double base_lr = 0;
  lr_schedule schedule;
  int64_t updates = 0;
  double clip = 0;

  double current_lr() const { return base_lr * schedule.factor(updates); }

  void apply_lr() {
    if (!optimizer)
      return;
    for (auto& group : optimizer->param_groups())
      group.options().set_lr(current_lr());
  }

  void clear_grads() {
    for (auto& p : params)
      if (p.grad().defined())
        p.mutable_grad() = at::Tensor{};
  }

  /// Writes module and optimizer state to `archive`.
  void save_state(torch::serialize::OutputArchive& archive) {
    torch::serialize::OutputArchive module_archive;
    module->save(module_archive);
    archive.write("module", module_archive);
    if (optimizer) {
      torch::serialize::OutputArchive optimizer_archive;
      optimizer->save(optimizer_archive);
      archive.write("optimizer", optimizer_archive);
    }
  }

  /// Reads what `save_state` wrote. Throws if it does not fit.
  void load_state(torch::serialize::InputArchive& archive) {
    std::vector<std::pair<std::vector<int64_t>, at::ScalarType>> before;
    for (auto& p : params)
      before.emplace_back(p.sizes().vec(), p.scalar_type());
    torch::serialize::InputArchive module_archive;
    archive.read("module", module_archive);
    module->load(module_archive);
    for (size_t i = 0; i < params.size(); ++i)
      if (params[i].sizes().vec() != before[i].first ||
          params[i].scalar_type() != before[i].second)
        throw std::runtime_error(
            "parameter " + std::to_string(i) + " has shape " +
            tensor_schema::of(params[i].unsqueeze(0)).to_string() +
            " in the checkpoint, expected " +
            tensor_schema{before[i].first, before[i].second}.to_string());
    if (optimizer) {
      torch::serialize::InputArchive optimizer_archive;
      if (archive.try_read("optimizer", optimizer_archive))
        optimizer->load(optimizer_archive);
    }
  }
};

expert_backend::expert_backend(std::unique_ptr<state> st)
    : state_(std::move(st)) {}

expert_backend::~expert_backend() = default;

caf::expected<std::unique_ptr<expert_backend>>
expert_backend::make(std::string uid, const std::string& expert_cls,
                     int64_t hidden_dim,
                     const expert_backend_options& options) {
  if (hidden_dim <= 0)
    return make_error(errc::invalid_argument,
                      "hidden_dim must be positive, got " +
                          std::to_string(hidden_dim));
  std::shared_ptr<expert_module> module;
  std::vector<at::Tensor> sample;
  if (ends_with(expert_cls, ".pt") || ends_with(expert_cls, ".ts")) {
    auto loaded = load_torchscript_expert(expert_cls);
    if (!loaded)
      return std::move(loaded.error());
    module = std::move(*loaded);
    sample.push_back(torch::randn({sample_batch, hidden_dim}));
  } else {
    auto cls = find_expert_class(expert_cls);
    if (cls == nullptr) {
      std::string known;
      for (auto& name : expert_class_names())
        known += (known.empty() ? "" : ", ") + name;
      return make_error(errc::invalid_argument,
                        "unknown expert class '" + expert_cls +
                            "' (known: " + known +
                            "; or a TorchScript file ending in .pt or .ts)");
    }
    try {
      module = cls->make(hidden_dim);
      sample = cls->sample_inputs(sample_batch, hidden_dim);
    } catch (const std::exception& e) {
      return make_error(errc::invalid_argument, "cannot build expert class '" +
                                                    expert_cls +
                                                    "': " + libtorch_reason(e));
    }
  }
  return make(std::move(uid), expert_cls, std::move(module), sample, options);
}

caf::expected<std::unique_ptr<expert_backend>>
expert_backend::make(std::string uid, std::string class_name,
                     std::shared_ptr<expert_module> module,
                     const std::vector<at::Tensor>& sample_inputs,
                     const expert_backend_options& options) {
  if (auto err = check_uid(uid))
    return err;
  if (!module)
    return make_error(errc::invalid_argument, "expert " + uid + ": no module");
  auto rows = common_batch(sample_inputs);
  if (sample_inputs.empty() || rows < 1)
    return make_error(errc::invalid_argument,
                      "expert " + uid +
                          ": sample inputs must be one or more tensors with "
                          "one batch size >= 1");
  auto schedule = lr_schedule::parse(
      options.scheduler, options.num_warmup_steps, options.num_training_steps);
  if (!schedule)
    return std::move(schedule.error());
  if (!(options.clip_grad_norm >= 0) || !std::isfinite(options.clip_grad_norm))
    return make_error(errc::invalid_argument,
                      "clip_grad_norm must be a finite number >= 0");
  if (!(options.learning_rate >= 0) || !std::isfinite(options.learning_rate))
    return make_error(errc::invalid_argument,
                      "learning_rate must be a finite number >= 0");
  auto st = std::make_unique<state>();
  st->uid = std::move(uid);
  st->cls = std::move(class_name);
  st->module = std::move(module);
  st->schedule = *schedule;
  st->clip = options.clip_grad_norm;
  st->optimizer_name = options.optimizer;
  try {
    st->module->train(true);
    std::vector<at::Tensor> outputs;
    {
      torch::NoGradGuard no_grad;
      outputs = st->module->forward(sample_inputs);
    }
    if (outputs.empty() || common_batch(outputs) != rows)
      return make_error(errc::invalid_argument,
                        "expert " + st->uid +
                            ": forward on the sample inputs must return one or "
                            "more tensors with the inputs' batch size " +
                            std::to_string(rows));
    for (auto& t : sample_inputs)
      st->schema.inputs.push_back(tensor_schema::of(t));
    for (auto& t : outputs)
      st->schema.outputs.push_back(tensor_schema::of(t));
    st->params = st->module->parameters();
    if (options.optimizer == "adam") {
      st->base_lr = options.learning_rate > 0 ? options.learning_rate : 1e-3;
      st->optimizer = std::make_unique<torch::optim::Adam>(
          st->params, torch::optim::AdamOptions(st->base_lr));
    } else if (options.optimizer == "sgd") {
      st->base_lr = options.learning_rate > 0 ? options.learning_rate : 0.01;
      st->optimizer = std::make_unique<torch::optim::SGD>(
          st->params, torch::optim::SGDOptions(st->base_lr));
    } else if (options.optimizer == "none") {
      st->base_lr = options.learning_rate;
    } else {
      return make_error(errc::invalid_argument,
                        "unknown optimizer '" + options.optimizer +
                            "' (expected adam, sgd or none)");
    }
    st->apply_lr();
  } catch (const std::exception& e) {
    return make_error(
        errc::invalid_argument,
        "expert " + st->uid +
            ": module fails on its sample inputs: " + libtorch_reason(e));
  }
  return std::unique_ptr<expert_backend>{new expert_backend(std::move(st))};
}

const std::string& expert_backend::uid() const noexcept {
  return state_->uid;
}

const std::string& expert_backend::expert_class() const noexcept {
  return state_->cls;
}

const expert_schema& expert_backend::schema() const noexcept {
  return state_->schema;
}

int64_t expert_backend::parameter_count() const {
  int64_t result = 0;
  for (auto& p : state_->params)
    result += p.numel();
  return result;
}

std::vector<at::Tensor>
expert_backend::forward(const std::vector<at::Tensor>& inputs) {
  auto& st = *state_;
  int64_t rows = 0;
  if (auto err = check_tensors(st.schema.inputs, inputs, "inputs", rows))
    throw std::invalid_argument(error_reason(err));
  torch::NoGradGuard no_grad;
  auto outputs = st.module->forward(inputs);
  if (outputs.size() != st.schema.outputs.size())
    throw std::runtime_error(
        "expert " + st.uid + " returned " + std::to_string(outputs.size()) +
        " outputs, expected " + std::to_string(st.schema.outputs.size()));
  return outputs;
}

std::vector<at::Tensor> expert_backend::backward(
    const std::vector<at::Tensor>& inputs_and_grad_outputs) {
  auto& st = *state_;
  auto n_in = st.schema.inputs.size();
  auto n_out = st.schema.outputs.size();
  if (inputs_and_grad_outputs.size() != n_in + n_out)
    throw std::invalid_argument(
        "backward of expert " + st.uid + " takes " + std::to_string(n_in) +
        " inputs and " + std::to_string(n_out) + " grad_outputs, got " +
        std::to_string(inputs_and_grad_outputs.size()) + " tensors");
  std::vector<at::Tensor> inputs(inputs_and_grad_outputs.begin(),
                                 inputs_and_grad_outputs.begin() + n_in);
  std::vector<at::Tensor> grad_outputs(inputs_and_grad_outputs.begin() + n_in,
                                       inputs_and_grad_outputs.end());
  int64_t rows = 0;
  int64_t grad_rows = 0;
  if (auto err = check_tensors(st.schema.inputs, inputs, "inputs", rows))
    throw std::invalid_argument(error_reason(err));
  if (auto err = check_tensors(st.schema.outputs, grad_outputs, "grad_outputs",
                               grad_rows))
    throw std::invalid_argument(error_reason(err));
  if (rows != grad_rows)
    throw std::invalid_argument("grad_outputs have batch size " +
                                std::to_string(grad_rows) + ", inputs have " +
                                std::to_string(rows));
  std::vector<at::Tensor> result;
  try {
    torch::AutoGradMode grad_mode{true};
    for (auto& x : inputs)
      if (x.is_floating_point())
        x = x.detach().requires_grad_(true);
    auto outputs = st.module->forward(inputs);
    if (outputs.size() != n_out)
      throw std::runtime_error("expert " + st.uid + " returned " +
                               std::to_string(outputs.size()) +
                               " outputs, expected " + std::to_string(n_out));
    std::vector<at::Tensor> roots;
    std::vector<at::Tensor> grads;
    for (size_t i = 0; i < n_out; ++i) {
      if (outputs[i].requires_grad()) {
        roots.push_back(outputs[i]);
        grads.push_back(grad_outputs[i]);
      }
    }
    if (!roots.empty())
      torch::autograd::backward(roots, grads);
    result.reserve(n_in);
    for (auto& x : inputs) {
      if (x.requires_grad() && x.grad().defined())
        result.push_back(x.grad());
      else
        result.push_back(torch::zeros_like(x));
    }
    if (st.optimizer) {
      if (st.clip > 0)
        torch::nn::utils::clip_grad_norm_(st.params, st.clip);
      st.optimizer->step();
      st.optimizer->zero_grad();
      ++st.updates;
      st.apply_lr();
    }
  } catch (...) {
    // Gradients of a failed call must not leak into the next step.
    st.clear_grads();
    throw;
  }
  if (!st.optimizer)
    st.clear_grads();
  return result;
}

double expert_backend::learning_rate() const noexcept {
  return state_->current_lr();
}

int64_t expert_backend::update_count() const noexcept {
  return state_->updates;
}

caf::error expert_backend::save_checkpoint(const std::string& dir) {
  auto& st = *state_;
  std::error_code ec;
  auto expert_dir = fs::path{dir} / st.uid;
  fs::create_directories(expert_dir, ec);
  if (ec)
    return make_error(errc::io_error, "cannot create checkpoint directory " +
                                          expert_dir.string() + ": " +
                                          ec.message());
  auto stamp = time_stamp();
  auto path = expert_dir / ("checkpoint_" + stamp + ".pt");
  for (int i = 1; fs::exists(path, ec); ++i)
    path =
        expert_dir / ("checkpoint_" + stamp + "_" + std::to_string(i) + ".pt");
  auto tmp = expert_dir / (std::string{last_checkpoint_name} + ".tmp");
  try {
    torch::serialize::OutputArchive archive;
    archive.write("version", c10::IValue{checkpoint_version});
    archive.write("expert_class", c10::IValue{st.cls});
    archive.write("optimizer_name", c10::IValue{st.optimizer_name});
    archive.write("update_count", c10::IValue{st.updates});
    archive.write("base_learning_rate", c10::IValue{st.base_lr});
    st.save_state(archive);
    archive.save_to(path.string());
  } catch (const std::exception& e) {
    return make_error(errc::io_error, "cannot write checkpoint " +
                                          path.string() + ": " +
                                          libtorch_reason(e));
  }
  fs::copy_file(path, tmp, fs::copy_options::overwrite_existing, ec);
  if (!ec)
    fs::rename(tmp, expert_dir / last_checkpoint_name, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    return make_error(errc::io_error,
                      "cannot update " +
                          (expert_dir / last_checkpoint_name).string() + ": " +
                          ec.message());
  }
  return caf::none;
}

caf::expected<bool> expert_backend::load_checkpoint(const std::string& dir) {
  auto& st = *state_;
  auto path = fs::path{dir} / st.uid / last_checkpoint_name;
  std::error_code ec;
  auto status = fs::status(path, ec);
  if (status.type() == fs::file_type::not_found)
    return false;
  if (ec)
    return make_error(errc::io_error,
                      "cannot read " + path.string() + ": " + ec.message());
  if (status.type() != fs::file_type::regular)
    return make_error(errc::io_error, path.string() + " is not a file");
  if (!std::ifstream{path, std::ios::binary})
    return make_error(errc::io_error, "cannot open " + path.string());
  torch::serialize::InputArchive archive;
  int64_t updates = 0;
  double base_lr = 0;
  try {
    archive.load_from(path.string());
    c10::IValue version;
    c10::IValue optimizer_name;
    c10::IValue update_count;
    c10::IValue learning_rate;
    archive.read("version", version);
    archive.read("optimizer_name", optimizer_name);
    archive.read("update_count", update_count);
    archive.read("base_learning_rate", learning_rate);
    if (!version.isInt() || version.toInt() != checkpoint_version)
      throw std::runtime_error("unsupported checkpoint version");
    if (!optimizer_name.isString() || !update_count.isInt() ||
        !learning_rate.isDouble() || update_count.toInt() < 0)
      throw std::runtime_error("bad checkpoint metadata");
    if (optimizer_name.toStringRef() != st.optimizer_name)
      throw std::runtime_error("checkpoint of optimizer " +
                               optimizer_name.toStringRef() +
                               ", this expert uses " + st.optimizer_name);
    updates = update_count.toInt();
    base_lr = learning_rate.toDouble();
  } catch (const std::exception& e) {
    return make_error(errc::malformed, path.string() +
                                           " is not a checkpoint of this "
                                           "expert: " +
                                           libtorch_reason(e));
  }
  // Keep the current state to restore if the checkpoint does not fit.
  std::stringstream backup;
  try {
    torch::serialize::OutputArchive out;
    st.save_state(out);
    out.save_to(backup);
  } catch (const std::exception& e) {
    return make_error(errc::io_error,
                      "cannot back up expert " + st.uid +
                          " before loading: " + libtorch_reason(e));
  }
  try {
    st.load_state(archive);
  } catch (const std::exception& e) {
    auto reason = libtorch_reason(e);
    try {
      torch::serialize::InputArchive in;
      backup.seekg(0);
      in.load_from(backup);
      st.load_state(in);
    } catch (const std::exception& restore_error) {
      reason += "; restoring the previous state failed too: " +
                libtorch_reason(restore_error);
    }
    return make_error(errc::malformed, path.string() + " does not fit expert " +
                                           st.uid + ": " + reason);
  }
  st.updates = updates;
  st.base_lr = base_lr;
  st.apply_lr();
  return true;
}

} // namespace colony::moe
