#include "actors/moe/server/builtin_layers.hpp"

#include "actors/moe/server/expert_module.hpp"
#include "actors/moe/server/layer_registry.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>

using namespace colony::moe;

namespace {

/// A small width that suits every built-in (transformer: 16 heads).
constexpr int64_t hidden = 32;

int64_t count_parameters(expert_module& m) {
  int64_t result = 0;
  for (auto& p : m.parameters())
    result += p.numel();
  return result;
}

std::shared_ptr<expert_module> build(const std::string& name, int64_t h) {
  auto cls = find_expert_class(name);
  EXPECT_NE(cls, nullptr) << name;
  if (cls == nullptr)
    return nullptr;
  return cls->make(h);
}

} // namespace

TEST(LayerRegistry, ListsBuiltins) {
  auto names = expert_class_names();
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  for (auto name : {"ffn", "transformer", "nop", "nop_delay", "det_dropout"})
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
  EXPECT_EQ(find_expert_class("no_such_layer"), nullptr);
}

TEST(LayerRegistry, FindsUserClass) {
  expert_class cls;
  cls.make = [](int64_t h) {
    return make_module_expert(torch::nn::Linear(h, 2 * h));
  };
  cls.sample_inputs = [](int64_t batch, int64_t h) {
    return std::vector<at::Tensor>{torch::randn({batch, h})};
  };
  register_expert_class("user_linear_test", cls);
  auto found = find_expert_class("user_linear_test");
  ASSERT_NE(found, nullptr);
  auto module = found->make(8);
  auto out = module->forward(found->sample_inputs(3, 8));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].sizes(), (at::IntArrayRef{3, 16}));
  auto names = expert_class_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "user_linear_test"),
            names.end());
  // Replacing keeps the old pointer valid and the new class found.
  cls.make = [](int64_t h) {
    return make_module_expert(torch::nn::Linear(h, h));
  };
  register_expert_class("user_linear_test", cls);
  auto replaced = find_expert_class("user_linear_test");
  ASSERT_NE(replaced, nullptr);
  EXPECT_EQ(replaced->make(8)->forward({torch::randn({1, 8})})[0].size(1), 8);
  EXPECT_EQ(found->make(8)->forward({torch::randn({1, 8})})[0].size(1), 16);
}

TEST(Layers, BuiltinsGiveOutputShapes) {
  for (auto name : {"ffn", "transformer", "nop", "det_dropout"}) {
    auto cls = find_expert_class(name);
    ASSERT_NE(cls, nullptr) << name;
    auto module = cls->make(hidden);
    for (int64_t batch : {1, 4}) {
      auto inputs = cls->sample_inputs(batch, hidden);
      auto out = module->forward(inputs);
      ASSERT_EQ(out.size(), 1u) << name;
      EXPECT_EQ(out[0].sizes(), inputs[0].sizes()) << name << " " << batch;
      EXPECT_EQ(out[0].scalar_type(), at::kFloat) << name;
      EXPECT_FALSE(torch::isnan(out[0]).any().item<bool>()) << name;
    }
  }
}

TEST(Layers, SampleInputSchemas) {
  auto tr = find_expert_class("transformer")->sample_inputs(2, hidden);
  ASSERT_EQ(tr.size(), 2u);
  EXPECT_EQ(tr[0].sizes(), (at::IntArrayRef{2, transformer_seq_len, hidden}));
  EXPECT_EQ(tr[1].sizes(), (at::IntArrayRef{2, transformer_seq_len}));
  EXPECT_EQ(tr[1].scalar_type(), at::kBool);
  auto dd = find_expert_class("det_dropout")->sample_inputs(3, hidden);
  ASSERT_EQ(dd.size(), 2u);
  EXPECT_EQ(dd[1].sizes(), (at::IntArrayRef{3, 2 * hidden}));
}

TEST(Layers, FfnParameterCount) {
  auto ffn = build("ffn", 512);
  ASSERT_TRUE(ffn);
  EXPECT_EQ(count_parameters(*ffn), 2100736);
}

TEST(Layers, TransformerRejectsWidthNotDivisibleByHeads) {
  EXPECT_ANY_THROW(find_expert_class("transformer")->make(40));
}

TEST(Layers, DetDropoutIsDeterministic) {
  auto cls = find_expert_class("det_dropout");
  auto module = cls->make(hidden);
  module->train(true);
  auto inputs = cls->sample_inputs(4, hidden);
  auto a = module->forward(inputs)[0];
  auto b = module->forward(inputs)[0];
  EXPECT_TRUE(torch::equal(a, b));
  // The mask matters: dropping everything differs from keeping everything.
  auto none = module->forward({inputs[0], torch::zeros_like(inputs[1])})[0];
  auto all = module->forward({inputs[0], torch::ones_like(inputs[1])})[0];
  EXPECT_FALSE(torch::allclose(none, all));
}

TEST(Layers, NopIsDifferentiableCopy) {
  auto nop = build("nop", hidden);
  ASSERT_TRUE(nop);
  EXPECT_EQ(count_parameters(*nop), 0);
  auto x = torch::randn({3, hidden}, torch::requires_grad());
  auto y = nop->forward({x})[0];
  EXPECT_TRUE(torch::equal(y, x));
  EXPECT_NE(y.data_ptr(), x.data_ptr());
  (y * 2).sum().backward();
  EXPECT_TRUE(torch::allclose(x.grad(), torch::full_like(x, 2)));
}

TEST(Layers, NopDelaySleeps) {
  auto nop = build("nop_delay", hidden);
  ASSERT_TRUE(nop);
  auto x = torch::randn({2, hidden});
  auto start = std::chrono::steady_clock::now();
  auto y = nop->forward({x})[0];
  EXPECT_GE(std::chrono::steady_clock::now() - start, nop_delay);
  EXPECT_TRUE(torch::equal(y, x));
}

TEST(Layers, ModuleExpertAdaptsPlainModule) {
  // forward(const Tensor&) is deduced: one input.
  auto linear = make_module_expert(torch::nn::Linear(4, 2));
  auto out = linear->forward({torch::randn({5, 4})});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].sizes(), (at::IntArrayRef{5, 2}));
  EXPECT_EQ(count_parameters(*linear), 10);
  EXPECT_ANY_THROW(linear->forward({}));
  // A custom forward for a module with a template forward.
  torch::nn::Sequential seq(torch::nn::Linear(4, 3), torch::nn::ReLU());
  auto wrapped = make_module_expert(
      seq, [](torch::nn::Sequential& m, const std::vector<at::Tensor>& xs) {
        return std::vector<at::Tensor>{m->forward(xs.at(0))};
      });
  EXPECT_EQ(wrapped->forward({torch::randn({2, 4})})[0].size(1), 3);
}

TEST(Layers, ModuleExpertSavesAndLoads) {
  auto a = build("ffn", 16);
  auto b = build("ffn", 16);
  torch::serialize::OutputArchive out;
  a->save(out);
  std::stringstream buffer;
  out.save_to(buffer);
  torch::serialize::InputArchive in;
  in.load_from(buffer);
  b->load(in);
  auto x = torch::randn({2, 16});
  EXPECT_TRUE(torch::allclose(a->forward({x})[0], b->forward({x})[0]));
}
