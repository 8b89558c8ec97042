#include "actors/moe/server/expert_backend.hpp"

#include "actors/moe/server/expert_module.hpp"
#include "messages/error.hpp"

#include <gtest/gtest.h>
#include <torch/script.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace colony;
using namespace colony::moe;

namespace fs = std::filesystem;

namespace {

/// A fresh directory under the system's temp directory, removed at the end.
struct temp_dir {
  fs::path path;

  temp_dir() {
    static std::atomic<int> counter{0};
    path = fs::temp_directory_path() /
           ("colony_expert_backend_test_" + std::to_string(::getpid()) + "_" +
            std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }

  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

expert_backend_options with_optimizer(std::string name, double lr = 0) {
  expert_backend_options opts;
  opts.optimizer = std::move(name);
  opts.learning_rate = lr;
  return opts;
}

std::unique_ptr<expert_backend> make_builtin(const std::string& cls,
                                             int64_t hidden,
                                             expert_backend_options opts = {},
                                             std::string uid = "") {
  if (uid.empty())
    uid = cls + ".0";
  auto result = expert_backend::make(uid, cls, hidden, opts);
  EXPECT_TRUE(result) << describe(result.error());
  return result ? std::move(*result) : nullptr;
}

/// Backend of a fresh Linear(in, out) with sample inputs (1, in).
std::unique_ptr<expert_backend> make_linear(const std::string& uid, int64_t in,
                                            int64_t out,
                                            const expert_backend_options& o) {
  auto result = expert_backend::make(
      uid, "linear", make_module_expert(torch::nn::Linear(in, out)),
      {torch::randn({1, in})}, o);
  EXPECT_TRUE(result) << describe(result.error());
  return result ? std::move(*result) : nullptr;
}

/// All parameters flattened into one vector, copied.
at::Tensor snapshot(const std::vector<at::Tensor>& params) {
  std::vector<at::Tensor> flat;
  for (auto& p : params)
    flat.push_back(p.detach().flatten().clone());
  return flat.empty() ? torch::zeros({0}) : torch::cat(flat);
}

/// True if a checkpoint was loaded; reports an error.
bool loaded(const caf::expected<bool>& result) {
  EXPECT_TRUE(result) << describe(result.error());
  return result && *result;
}

/// Parameters of `backend` observed through forward: the outputs on a fixed
/// probe input.
at::Tensor probe(expert_backend& backend, int64_t in) {
  auto x = torch::linspace(-1, 1, in).reshape({1, in});
  return backend.forward({x})[0];
}

} // namespace

TEST(ExpertBackend, FfnSchema) {
  auto b = make_builtin("ffn", 64);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->uid(), "ffn.0");
  EXPECT_EQ(b->expert_class(), "ffn");
  ASSERT_EQ(b->schema().inputs.size(), 1u);
  ASSERT_EQ(b->schema().outputs.size(), 1u);
  EXPECT_EQ(b->schema().inputs[0], (tensor_schema{{64}, at::kFloat}));
  EXPECT_EQ(b->schema().outputs[0], (tensor_schema{{64}, at::kFloat}));
  EXPECT_EQ(b->parameter_count(), 64 * 256 + 256 + 256 * 64 + 64 + 2 * 64);
  EXPECT_DOUBLE_EQ(b->learning_rate(), 1e-3);
  EXPECT_EQ(b->update_count(), 0);
}

TEST(ExpertBackend, TransformerSchema) {
  auto b = make_builtin("transformer", 32);
  ASSERT_TRUE(b);
  ASSERT_EQ(b->schema().inputs.size(), 2u);
  EXPECT_EQ(b->schema().inputs[0], (tensor_schema{{128, 32}, at::kFloat}));
  EXPECT_EQ(b->schema().inputs[1], (tensor_schema{{128}, at::kBool}));
  ASSERT_EQ(b->schema().outputs.size(), 1u);
  EXPECT_EQ(b->schema().outputs[0], (tensor_schema{{128, 32}, at::kFloat}));
}

TEST(ExpertBackend, RejectsBadArguments) {
  auto unknown = expert_backend::make("x.0", "no_such_class", 8, {});
  ASSERT_FALSE(unknown);
  EXPECT_TRUE(is_error(unknown.error(), errc::invalid_argument));
  EXPECT_NE(error_reason(unknown.error()).find("ffn"), std::string::npos);
  for (auto uid : {"../ffn.0", "a/b", "", ".."}) {
    auto bad_uid = expert_backend::make(uid, "ffn", 8, {});
    ASSERT_FALSE(bad_uid) << uid;
    EXPECT_TRUE(is_error(bad_uid.error(), errc::invalid_argument));
  }
  auto bad_opt =
      expert_backend::make("ffn.0", "ffn", 8, with_optimizer("lamb"));
  ASSERT_FALSE(bad_opt);
  EXPECT_TRUE(is_error(bad_opt.error(), errc::invalid_argument));
  expert_backend_options linear_without_total;
  linear_without_total.scheduler = "linear";
  auto bad_sched =
      expert_backend::make("ffn.0", "ffn", 8, linear_without_total);
  ASSERT_FALSE(bad_sched);
  auto bad_width = expert_backend::make("transformer.0", "transformer", 40, {});
  ASSERT_FALSE(bad_width);
  EXPECT_TRUE(is_error(bad_width.error(), errc::invalid_argument));
  auto no_module =
      expert_backend::make("x.0", "x", nullptr, {torch::randn({1, 2})}, {});
  ASSERT_FALSE(no_module);
  auto no_samples = expert_backend::make(
      "x.0", "x", make_module_expert(torch::nn::Linear(2, 2)), {}, {});
  ASSERT_FALSE(no_samples);
  auto failing_forward = expert_backend::make(
      "x.0", "x", make_module_expert(torch::nn::Linear(2, 2)),
      {torch::randn({1, 3})}, {});
  ASSERT_FALSE(failing_forward);
  EXPECT_TRUE(is_error(failing_forward.error(), errc::invalid_argument));
}

TEST(ExpertBackend, BatchForwardEqualsRowForwards) {
  auto b = make_builtin("ffn", 64);
  ASSERT_TRUE(b);
  auto x = torch::randn({5, 64});
  auto batched = b->forward({x});
  ASSERT_EQ(batched.size(), 1u);
  EXPECT_FALSE(batched[0].requires_grad());
  for (int64_t i = 0; i < 5; ++i) {
    auto row = b->forward({x.slice(0, i, i + 1)})[0];
    EXPECT_TRUE(torch::allclose(row, batched[0].slice(0, i, i + 1), 1e-5, 1e-5))
        << "row " << i;
  }
}

TEST(ExpertBackend, ForwardChecksSchema) {
  auto b = make_builtin("ffn", 16);
  ASSERT_TRUE(b);
  EXPECT_THROW(b->forward({torch::randn({2, 17})}), std::invalid_argument);
  EXPECT_THROW(b->forward({torch::randn({2, 16}).to(at::kDouble)}),
               std::invalid_argument);
  EXPECT_THROW(b->forward({}), std::invalid_argument);
  EXPECT_THROW(b->backward({torch::randn({2, 16})}), std::invalid_argument);
}

TEST(ExpertBackend, BackwardReturnsGradsAndSteps) {
  auto b = make_builtin("ffn", 32);
  ASSERT_TRUE(b);
  // Parameters as seen through forward.
  auto x = torch::randn({4, 32});
  auto before = b->forward({x})[0];
  auto grads = b->backward({x, torch::randn({4, 32})});
  ASSERT_EQ(grads.size(), 1u);
  EXPECT_EQ(grads[0].sizes(), x.sizes());
  EXPECT_GT(grads[0].abs().sum().item<double>(), 0);
  EXPECT_FALSE(grads[0].requires_grad());
  EXPECT_EQ(b->update_count(), 1);
  auto after = b->forward({x})[0];
  EXPECT_FALSE(torch::allclose(before, after));
}

TEST(ExpertBackend, BackwardWithoutOptimizerKeepsParameters) {
  auto b = make_builtin("ffn", 32, with_optimizer("none"));
  ASSERT_TRUE(b);
  auto x = torch::randn({4, 32});
  auto before = b->forward({x})[0];
  auto g1 = b->backward({x, torch::ones({4, 32})});
  auto g2 = b->backward({x, torch::ones({4, 32})});
  EXPECT_EQ(b->update_count(), 0);
  EXPECT_TRUE(torch::equal(before, b->forward({x})[0]));
  // Gradients do not accumulate from call to call.
  EXPECT_TRUE(torch::allclose(g1[0], g2[0]));
}

TEST(ExpertBackend, BackwardMatchesAutograd) {
  auto module = torch::nn::Linear(3, 2);
  auto b = expert_backend::make("lin.0", "linear", make_module_expert(module),
                                {torch::randn({1, 3})}, with_optimizer("none"));
  ASSERT_TRUE(b) << describe(b.error());
  auto x = torch::randn({2, 3});
  auto g = torch::randn({2, 2});
  auto grads = (*b)->backward({x, g});
  // d(x W^T + b)/dx applied to g is g W.
  EXPECT_TRUE(torch::allclose(grads[0], g.matmul(module->weight.detach())));
}

TEST(ExpertBackend, TransformerBackwardGivesZerosForMask) {
  auto b = make_builtin("transformer", 32, with_optimizer("sgd"));
  ASSERT_TRUE(b);
  auto x = torch::randn({2, 128, 32});
  auto mask = torch::zeros({2, 128}, torch::kBool);
  mask.slice(1, 100, 128).fill_(true);
  auto grads = b->backward({x, mask, torch::randn({2, 128, 32})});
  ASSERT_EQ(grads.size(), 2u);
  EXPECT_EQ(grads[0].sizes(), x.sizes());
  EXPECT_EQ(grads[0].scalar_type(), at::kFloat);
  EXPECT_GT(grads[0].abs().sum().item<double>(), 0);
  EXPECT_EQ(grads[1].sizes(), mask.sizes());
  EXPECT_EQ(grads[1].scalar_type(), at::kBool);
  EXPECT_FALSE(grads[1].any().item<bool>());
  EXPECT_EQ(b->update_count(), 1);
  EXPECT_DOUBLE_EQ(b->learning_rate(), 0.01);
}

TEST(ExpertBackend, UnusedInputGetsZeroGrad) {
  auto module = torch::nn::Linear(3, 3);
  auto expert = make_module_expert(
      module, [](torch::nn::Linear& m, const std::vector<at::Tensor>& xs) {
        return std::vector<at::Tensor>{m(xs.at(0))};
      });
  auto b = expert_backend::make(
      "two.0", "two", expert, {torch::randn({1, 3}), torch::randn({1, 5})}, {});
  ASSERT_TRUE(b) << describe(b.error());
  auto grads = (*b)->backward(
      {torch::randn({2, 3}), torch::randn({2, 5}), torch::randn({2, 3})});
  ASSERT_EQ(grads.size(), 2u);
  EXPECT_EQ(grads[1].sizes(), (at::IntArrayRef{2, 5}));
  EXPECT_EQ(grads[1].abs().sum().item<double>(), 0);
}

TEST(ExpertBackend, NopAndDetDropoutTrain) {
  auto nop = make_builtin("nop", 8);
  ASSERT_TRUE(nop);
  EXPECT_EQ(nop->parameter_count(), 0);
  auto g = torch::randn({3, 8});
  auto grads = nop->backward({torch::randn({3, 8}), g});
  EXPECT_TRUE(torch::allclose(grads[0], g));
  auto dd = make_builtin("det_dropout", 8);
  ASSERT_TRUE(dd);
  auto x = torch::randn({3, 8});
  auto mask = torch::rand({3, 16}).gt(0.2);
  auto dgrads = dd->backward({x, mask, torch::randn({3, 8})});
  ASSERT_EQ(dgrads.size(), 2u);
  EXPECT_FALSE(dgrads[1].any().item<bool>());
  EXPECT_TRUE(
      torch::equal(dd->forward({x, mask})[0], dd->forward({x, mask})[0]));
}

TEST(ExpertBackend, ClipGradNormLimitsUpdate) {
  const double clip = 0.1;
  for (double limit : {0.0, clip}) {
    auto opts = with_optimizer("sgd", 1.0);
    opts.clip_grad_norm = limit;
    auto module = torch::nn::Linear(4, 4);
    auto b =
        expert_backend::make("clip.0", "linear", make_module_expert(module),
                             {torch::randn({1, 4})}, opts);
    ASSERT_TRUE(b) << describe(b.error());
    auto before = snapshot(module->parameters());
    (*b)->backward({torch::randn({8, 4}), torch::full({8, 4}, 1e3)});
    auto change =
        (snapshot(module->parameters()) - before).norm().item<double>();
    if (limit > 0)
      EXPECT_LE(change, clip + 1e-5);
    else
      EXPECT_GT(change, 10 * clip);
  }
}

TEST(ExpertBackend, CheckpointRestoresStateAndSchedule) {
  // As hivemind's test_checkpoints: Linear(1, 1), SGD lr 1, linear warm-up
  // over 2 of 4 steps.
  temp_dir dir;
  auto opts = with_optimizer("sgd", 1.0);
  opts.scheduler = "linear";
  opts.num_warmup_steps = 2;
  opts.num_training_steps = 4;
  auto a = make_linear("test_expert.0", 1, 1, opts);
  ASSERT_TRUE(a);
  auto train_step = [](expert_backend& b) {
    b.backward({torch::ones({1, 1}), torch::ones({1, 1})});
  };
  std::vector<double> lrs;
  at::Tensor probe_at_2;
  for (int step = 0; step < 4; ++step) {
    lrs.push_back(a->learning_rate());
    train_step(*a);
    if (step == 1) {
      auto err = a->save_checkpoint(dir.path.string());
      ASSERT_FALSE(err) << describe(err);
      probe_at_2 = probe(*a, 1);
    }
  }
  lrs.push_back(a->learning_rate());
  const std::vector<double> expected{0.0, 0.5, 1.0, 0.5, 0.0};
  ASSERT_EQ(lrs.size(), expected.size());
  for (size_t i = 0; i < lrs.size(); ++i)
    EXPECT_DOUBLE_EQ(lrs[i], expected[i]) << "step " << i;
  EXPECT_EQ(a->update_count(), 4);
  EXPECT_TRUE(fs::exists(dir.path / "test_expert.0" / "checkpoint_last.pt"));
  // A fresh expert resumes where the checkpoint left off.
  auto b = make_linear("test_expert.0", 1, 1, opts);
  ASSERT_TRUE(b);
  EXPECT_FALSE(torch::allclose(probe(*b, 1), probe_at_2));
  ASSERT_TRUE(loaded(b->load_checkpoint(dir.path.string())));
  EXPECT_TRUE(torch::allclose(probe(*b, 1), probe_at_2));
  EXPECT_DOUBLE_EQ(b->learning_rate(), 1.0);
  EXPECT_EQ(b->update_count(), 2);
  train_step(*b);
  EXPECT_DOUBLE_EQ(b->learning_rate(), 0.5);
  EXPECT_EQ(b->update_count(), 3);
}

TEST(ExpertBackend, TwoSavesKeepBothCheckpoints) {
  temp_dir dir;
  auto a = make_linear("twice.0", 2, 2, with_optimizer("adam"));
  ASSERT_TRUE(a);
  ASSERT_FALSE(a->save_checkpoint(dir.path.string()));
  a->backward({torch::ones({1, 2}), torch::ones({1, 2})});
  ASSERT_FALSE(a->save_checkpoint(dir.path.string()));
  size_t files = 0;
  for (auto& entry : fs::directory_iterator(dir.path / "twice.0")) {
    auto name = entry.path().filename().string();
    EXPECT_EQ(name.rfind("checkpoint_", 0), 0u) << name;
    EXPECT_EQ(name.find(".tmp"), std::string::npos) << name;
    ++files;
  }
  EXPECT_EQ(files, 3u); // two stamped checkpoints and checkpoint_last.pt
  // Adam state comes back too: the next steps agree.
  auto b = make_linear("twice.0", 2, 2, with_optimizer("adam"));
  ASSERT_TRUE(b);
  ASSERT_TRUE(loaded(b->load_checkpoint(dir.path.string())));
  EXPECT_EQ(b->update_count(), 1);
  for (auto* x : {a.get(), b.get()})
    x->backward({torch::ones({1, 2}), torch::ones({1, 2})});
  EXPECT_TRUE(torch::allclose(probe(*a, 2), probe(*b, 2)));
}

TEST(ExpertBackend, MissingCheckpointIsFalse) {
  temp_dir dir;
  auto b = make_linear("none.0", 1, 1, {});
  ASSERT_TRUE(b);
  auto none = b->load_checkpoint(dir.path.string());
  ASSERT_TRUE(none) << describe(none.error());
  EXPECT_FALSE(*none);
  auto missing_dir = b->load_checkpoint((dir.path / "nowhere").string());
  ASSERT_TRUE(missing_dir);
  EXPECT_FALSE(*missing_dir);
}

TEST(ExpertBackend, CorruptCheckpointIsError) {
  temp_dir dir;
  auto b = make_linear("corrupt.0", 1, 1, {});
  ASSERT_TRUE(b);
  auto before = probe(*b, 1);
  fs::create_directories(dir.path / "corrupt.0");
  {
    std::ofstream out{dir.path / "corrupt.0" / "checkpoint_last.pt",
                      std::ios::binary};
    out << "this is not a zip archive";
  }
  auto result = b->load_checkpoint(dir.path.string());
  ASSERT_FALSE(result);
  EXPECT_TRUE(is_error(result.error(), errc::malformed))
      << describe(result.error());
  EXPECT_TRUE(torch::equal(probe(*b, 1), before));
}

TEST(ExpertBackend, CheckpointOfOtherShapeIsErrorAndChangesNothing) {
  temp_dir dir;
  auto big = make_linear("shape.0", 2, 2, with_optimizer("sgd"));
  ASSERT_TRUE(big);
  ASSERT_FALSE(big->save_checkpoint(dir.path.string()));
  auto small = make_linear("shape.0", 1, 1, with_optimizer("sgd"));
  ASSERT_TRUE(small);
  auto before = probe(*small, 1);
  auto result = small->load_checkpoint(dir.path.string());
  ASSERT_FALSE(result);
  EXPECT_TRUE(is_error(result.error(), errc::malformed))
      << describe(result.error());
  EXPECT_TRUE(torch::equal(probe(*small, 1), before));
  small->backward({torch::ones({1, 1}), torch::ones({1, 1})});
  // An optimizer of another kind does not fit either.
  auto adam = make_linear("shape.0", 2, 2, with_optimizer("adam"));
  ASSERT_TRUE(adam);
  auto other = adam->load_checkpoint(dir.path.string());
  ASSERT_FALSE(other);
  EXPECT_TRUE(is_error(other.error(), errc::malformed));
}

TEST(ExpertBackend, SaveToUnwritableDirIsError) {
  temp_dir dir;
  auto file = dir.path / "a_file";
  std::ofstream{file} << "x";
  auto b = make_linear("io.0", 1, 1, {});
  ASSERT_TRUE(b);
  auto err = b->save_checkpoint(file.string());
  ASSERT_TRUE(err);
  EXPECT_TRUE(is_error(err, errc::io_error)) << describe(err);
}

TEST(ExpertBackend, TorchScriptExpert) {
  temp_dir dir;
  // Script a module in C++: no Python needed.
  // A submodule gives dotted parameter names ("inner.weight").
  torch::jit::Module inner("colony_test_inner");
  inner.register_parameter("weight", torch::randn({4, 4}).requires_grad_(),
                           false);
  torch::jit::Module m("colony_test_expert");
  m.register_module("inner", inner);
  m.register_parameter("bias", torch::zeros({4}).requires_grad_(), false);
  m.define(R"(
def forward(self, x):
    return torch.tanh(x.matmul(self.inner.weight) + self.bias)
)");
  auto path = (dir.path / "expert.pt").string();
  m.save(path);
  auto made = expert_backend::make("script.0", path, 4, with_optimizer("sgd"));
  ASSERT_TRUE(made) << describe(made.error());
  auto& b = *made;
  EXPECT_EQ(b->expert_class(), path);
  EXPECT_EQ(b->parameter_count(), 20);
  EXPECT_EQ(b->schema().outputs[0], (tensor_schema{{4}, at::kFloat}));
  auto x = torch::randn({3, 4});
  auto before = b->forward({x})[0];
  auto grads = b->backward({x, torch::ones({3, 4})});
  EXPECT_EQ(grads[0].sizes(), x.sizes());
  auto after = b->forward({x})[0];
  EXPECT_FALSE(torch::allclose(before, after));
  ASSERT_FALSE(b->save_checkpoint(dir.path.string()));
  auto fresh = expert_backend::make("script.0", path, 4, with_optimizer("sgd"));
  ASSERT_TRUE(fresh);
  ASSERT_TRUE(loaded((*fresh)->load_checkpoint(dir.path.string())));
  EXPECT_TRUE(torch::allclose((*fresh)->forward({x})[0], after));
}

TEST(ExpertBackend, TorchScriptErrors) {
  temp_dir dir;
  auto missing = expert_backend::make(
      "script.0", (dir.path / "missing.pt").string(), 4, {});
  ASSERT_FALSE(missing);
  EXPECT_TRUE(is_error(missing.error(), errc::io_error))
      << describe(missing.error());
  auto junk_path = dir.path / "junk.pt";
  std::ofstream{junk_path} << "not torchscript";
  auto junk = load_torchscript_expert(junk_path.string());
  ASSERT_FALSE(junk);
  EXPECT_TRUE(is_error(junk.error(), errc::invalid_argument))
      << describe(junk.error());
}
