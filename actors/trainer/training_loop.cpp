#include "actors/trainer/training_loop.hpp"

#include "actors/trainer/dmoe_classifier.hpp"
#include "actors/trainer/fashion_mnist.hpp"
#include "messages/error.hpp"

#include <torch/nn/functional/loss.h>
#include <torch/utils.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <random>

namespace colony::trainer {

namespace {

/// Keeps the samples whose label is one of `classes` (all if empty).
image_dataset only_classes(image_dataset data,
                           const std::vector<int64_t>& classes) {
  if (classes.empty())
    return data;
  auto keep = torch::zeros_like(data.labels, torch::kBool);
  for (auto c : classes)
    keep = keep.logical_or(data.labels == c);
  auto rows = keep.nonzero().flatten();
  data.images = data.images.index_select(0, rows).contiguous();
  data.labels = data.labels.index_select(0, rows).contiguous();
  return data;
}

/// The seed of a collaborative run's initial parameters: every trainer of
/// the run starts from the same ones (FNV-1a of the run id).
uint64_t run_seed(const std::string& run_id) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : run_id) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h & 0x7fff'ffff'ffff'ffffull;
}

} // namespace

struct training_loop::impl {
  trainer_options options;
  image_dataset train;
  image_dataset test;
  DmoeClassifier model{nullptr};
  std::shared_ptr<torch::optim::Adam> optimizer;
  std::unique_ptr<optim::collaborative_optimizer> collaborative;
  torch::Generator generator;
  at::Tensor order; // this epoch's permutation of the training split
  int64_t next = 0; // position in `order`
  uint64_t steps = 0;
  uint64_t samples = 0;
  /// The digest's count sketch, made on first use: each parameter's bucket
  /// and sign (float64: the sketches of near-equal vectors must not differ
  /// by float32 rounding).
  at::Tensor sketch_buckets;
  at::Tensor sketch_signs;

  /// The parameters as one float64 vector (read under the caller's lock).
  at::Tensor flat_parameters() const {
    std::vector<at::Tensor> flat;
    for (const auto& p : model->parameters())
      flat.push_back(p.detach().to(torch::kFloat64).reshape(-1));
    return torch::cat(flat);
  }

  at::Tensor next_batch_rows() {
    auto n = train.size();
    auto batch = std::min<int64_t>(static_cast<int64_t>(options.batch_size), n);
    if (!order.defined() || next + batch > n) {
      order = torch::randperm(n, generator, torch::kLong);
      next = 0;
    }
    auto rows = order.narrow(0, next, batch);
    next += batch;
    return rows;
  }
};

training_loop::training_loop(std::unique_ptr<impl> self)
    : self_(std::move(self)) {}

training_loop::~training_loop() = default;

caf::expected<std::unique_ptr<training_loop>>
training_loop::make(const trainer_options& options, const swarm_access& swarm) {
  if (options.batch_size == 0)
    return make_error(errc::invalid_argument, "batch_size must be > 0");
  for (auto c : options.classes)
    if (c < 0 || c > 9)
      return make_error(errc::invalid_argument,
                        "class " + std::to_string(c) + " is not in [0, 9]");
  auto train = load_fashion_mnist("train", options.dataset_dir);
  if (!train)
    return train.error();
  auto test = load_fashion_mnist("t10k", options.dataset_dir);
  if (!test)
    return test.error();
  auto self = std::make_unique<impl>();
  self->options = options;
  self->train = only_classes(std::move(*train), options.classes);
  self->test = only_classes(std::move(*test), options.classes);
  if (self->train.size() == 0 || self->test.size() == 0)
    return make_error(errc::invalid_argument, "no samples of the classes");
  auto seed = options.seed != 0 ? options.seed : std::random_device{}();
  self->generator = at::detail::createCPUGenerator(seed);
  try {
    // Parameter init draws from the global generator; the trainers of a
    // collaborative run all draw the same.
    torch::manual_seed(options.init_seed != 0 ? options.init_seed
                       : options.collaborative
                           ? run_seed(options.collaboration.run_id)
                           : seed);
    auto made = make_trainer_model(options, swarm);
    self->model = made.model;
    self->optimizer = made.optimizer;
  } catch (const std::exception& e) {
    return make_error(errc::invalid_argument, e.what());
  }
  if (options.collaborative) {
    auto collab = options.collaboration;
    collab.batch_size_per_step = options.batch_size;
    auto opt = optim::collaborative_optimizer::create(swarm, self->optimizer,
                                                      std::move(collab));
    if (!opt)
      return opt.error();
    self->collaborative = std::move(*opt);
  }
  return std::unique_ptr<training_loop>(new training_loop(std::move(self)));
}

caf::expected<step_outcome> training_loop::step() {
  auto& s = *self_;
  auto rows = s.next_batch_rows();
  auto images = s.train.images.index_select(0, rows);
  auto labels = s.train.labels.index_select(0, rows);
  try {
    s.model->train();
    s.optimizer->zero_grad();
    auto out = s.model->forward(images);
    auto loss = torch::nn::functional::cross_entropy(out.logits, labels);
    (loss + out.aux_loss).backward();
    auto batch = static_cast<uint64_t>(rows.size(0));
    step_outcome outcome{loss.item<double>(), batch,
                         s.model->last_answered_experts()};
    if (s.collaborative) {
      auto report = s.collaborative->step(batch);
      if (!report)
        return report.error();
      outcome.epoch = report->epoch;
      outcome.epoch_changed = report->epoch_changed;
      outcome.averaging_s =
          std::chrono::duration<double>(report->averaging_time).count();
      outcome.swarm_samples_per_s =
          s.collaborative->status().swarm_samples_per_second;
      outcome.loaded_state = report->loaded_state;
    } else {
      s.optimizer->step();
    }
    ++s.steps;
    s.samples += batch;
    return outcome;
  } catch (const std::exception& e) {
    // Gradients of a failed step are dropped by the next zero_grad.
    return make_error(errc::remote_error, e.what());
  }
}

caf::expected<evaluation> training_loop::evaluate(uint64_t max_samples) {
  auto& s = *self_;
  auto n = s.test.size();
  if (max_samples > 0)
    n = std::min<int64_t>(n, static_cast<int64_t>(max_samples));
  constexpr int64_t eval_batch = 1000;
  int64_t correct = 0;
  double loss_sum = 0;
  try {
    torch::NoGradGuard no_grad;
    s.model->eval();
    for (int64_t begin = 0; begin < n; begin += eval_batch) {
      auto len = std::min(eval_batch, n - begin);
      auto images = s.test.images.narrow(0, begin, len);
      auto labels = s.test.labels.narrow(0, begin, len);
      auto out = s.model->forward(images);
      loss_sum +=
          torch::nn::functional::cross_entropy(
              out.logits, labels,
              torch::nn::functional::CrossEntropyFuncOptions().reduction(
                  torch::kSum))
              .item<double>();
      correct += out.logits.argmax(1).eq(labels).sum().item<int64_t>();
    }
  } catch (const std::exception& e) {
    return make_error(errc::remote_error, e.what());
  }
  auto count = static_cast<double>(n);
  return evaluation{static_cast<double>(correct) / count, loss_sum / count,
                    static_cast<uint64_t>(n)};
}

uint64_t training_loop::steps() const noexcept {
  return self_->steps;
}

uint64_t training_loop::samples_seen() const noexcept {
  return self_->samples;
}

moe::expert_call_stats training_loop::call_stats() const {
  return self_->model->call_stats();
}

int64_t training_loop::parameter_count() const {
  int64_t total = 0;
  for (const auto& p : self_->model->parameters())
    total += p.numel();
  return total;
}

std::optional<optim::collaborative_status>
training_loop::collaboration() const {
  if (!self_->collaborative)
    return std::nullopt;
  return self_->collaborative->status();
}

void training_loop::finish_collaboration() {
  if (self_->collaborative)
    self_->collaborative->finish();
}

caf::error training_loop::write_parameters(const std::string& path) const {
  std::vector<at::Tensor> flat;
  {
    std::unique_lock<std::mutex> guard;
    if (self_->collaborative)
      guard = self_->collaborative->lock_parameters();
    for (const auto& p : self_->model->parameters())
      flat.push_back(p.detach().to(torch::kFloat32).reshape(-1));
  }
  auto all = torch::cat(flat).contiguous();
  std::unique_ptr<FILE, int (*)(FILE*)> file{std::fopen(path.c_str(), "wb"),
                                             &std::fclose};
  auto bytes = static_cast<size_t>(all.numel()) * sizeof(float);
  if (!file ||
      std::fwrite(all.data_ptr<float>(), 1, bytes, file.get()) != bytes)
    return make_error(errc::io_error, "cannot write " + path);
  return {};
}

parameter_digest training_loop::digest_parameters() const {
  auto& s = *self_;
  at::Tensor flat;
  {
    std::unique_lock<std::mutex> guard;
    if (s.collaborative)
      guard = s.collaborative->lock_parameters();
    flat = s.flat_parameters();
  }
  // A count sketch: element i adds sign(i) * x_i to bucket(i). Linear and
  // norm-preserving in expectation like a dense ±1 projection, but one pass
  // over the parameters and two vectors of their size instead of a matrix
  // of K times their size (553 MB for a 4.3M-parameter model).
  if (!s.sketch_buckets.defined() || s.sketch_buckets.numel() != flat.numel()) {
    auto gen = at::detail::createCPUGenerator(parameter_sketch_seed);
    auto k = static_cast<int64_t>(parameter_sketch_size);
    s.sketch_buckets = torch::randint(0, k, {flat.numel()}, gen, torch::kLong);
    s.sketch_signs =
        torch::randint(0, 2, {flat.numel()}, gen, torch::kFloat64) * 2 - 1;
  }
  parameter_digest d;
  d.norm = flat.norm().item<double>();
  auto sketch = torch::zeros({static_cast<int64_t>(parameter_sketch_size)},
                             torch::kFloat64)
                    .index_add_(0, s.sketch_buckets, flat * s.sketch_signs)
                    .contiguous();
  d.sketch.assign(sketch.data_ptr<double>(),
                  sketch.data_ptr<double>() + sketch.numel());
  return d;
}

} // namespace colony::trainer
