// Gradients accumulated over steps of different batch sizes average to the
// gradient per sample of the whole: what one large batch would give.

#include "actors/optim/collaborative_options.hpp"
#include "actors/optim/gradient_accumulator.hpp"
#include "actors/optim/training_state_metadata.hpp"
#include "messages/error.hpp"

#include <gtest/gtest.h>
#include <torch/nn/functional/loss.h>
#include <torch/optim.h>
#include <torch/utils.h>

using namespace colony::optim;

namespace {

/// Mean squared error of w·x against y over rows [begin, begin + n).
void backward_on(at::Tensor& w, const at::Tensor& x, const at::Tensor& y,
                 int64_t begin, int64_t n) {
  auto pred = x.narrow(0, begin, n).matmul(w);
  torch::mse_loss(pred, y.narrow(0, begin, n)).backward();
}

} // namespace

TEST(gradient_accumulator, batches_of_any_size_average_per_sample) {
  torch::manual_seed(5);
  auto x = torch::randn({20, 4});
  auto y = torch::randn({20, 2});
  auto w = torch::randn({4, 2}).requires_grad_();
  backward_on(w, x, y, 0, 20);
  auto whole = w.grad().clone();
  w.mutable_grad().zero_();

  gradient_accumulator acc({w}, false);
  for (auto [begin, n] :
       {std::pair<int64_t, int64_t>{0, 3}, {3, 12}, {15, 5}}) {
    backward_on(w, x, y, begin, n);
    acc.accumulate(static_cast<uint64_t>(n));
    w.mutable_grad().zero_();
  }
  EXPECT_EQ(acc.samples(), 20u);
  EXPECT_EQ(acc.steps(), 3u);
  std::vector<at::Tensor> out{torch::empty_like(w)};
  acc.mean_into(out);
  EXPECT_TRUE(torch::allclose(out[0], whole, 1e-6, 1e-6));
  acc.reset();
  acc.mean_into(out);
  EXPECT_EQ(out[0].abs().max().item<float>(), 0.0f);
}

TEST(gradient_accumulator, reused_grad_buffers_average_equal_batches) {
  torch::manual_seed(6);
  auto x = torch::randn({12, 4});
  auto y = torch::randn({12, 2});
  auto w = torch::randn({4, 2}).requires_grad_();
  backward_on(w, x, y, 0, 12);
  auto whole = w.grad().clone();
  w.mutable_grad().zero_();
  gradient_accumulator acc({w}, true);
  for (int64_t begin = 0; begin < 12; begin += 4) {
    backward_on(w, x, y, begin, 4); // the buffers sum: no zeroing
    acc.accumulate(4);
  }
  std::vector<at::Tensor> out{torch::empty_like(w)};
  acc.mean_into(out);
  EXPECT_TRUE(torch::allclose(out[0], whole, 1e-6, 1e-6));
  acc.reset();
  EXPECT_EQ(w.grad().abs().max().item<float>(), 0.0f);
}

TEST(training_state_metadata, round_trips_and_refuses_garbage) {
  training_state_metadata m;
  m.epoch = 42;
  m.step_counts = {42, 42, 41};
  m.learning_rates = {0.001};
  m.parameter_count = 3;
  m.optimizer_state_count = 6;
  auto back = decode_training_state_metadata(encode(m));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->epoch, 42u);
  EXPECT_EQ(back->step_counts, m.step_counts);
  EXPECT_EQ(back->learning_rates, m.learning_rates);
  EXPECT_EQ(back->parameter_count, 3u);
  EXPECT_EQ(back->optimizer_state_count, 6u);
  EXPECT_FALSE(decode_training_state_metadata("not a message"));
  EXPECT_FALSE(decode_training_state_metadata(std::string(16, '\xff')));
  m.learning_rates = {std::nan("")};
  EXPECT_FALSE(decode_training_state_metadata(encode(m)));
}

TEST(collaborative_options, validation_names_every_problem) {
  collaborative_options o;
  auto err = validate(o);
  ASSERT_TRUE(err);
  o.run_id = "run";
  o.target_batch_size = 64;
  EXPECT_FALSE(validate(o));
  o.run_id = "a.b";
  o.average_state_every = 0;
  o.delay_grad_averaging = true;
  o.reuse_grad_buffers = true;
  o.client_mode = true;
  o.auxiliary = true;
  auto text = colony::describe(validate(o));
  for (auto word :
       {"run_id", "average_state_every", "reuse_grad_buffers", "auxiliary"})
    EXPECT_NE(text.find(word), std::string::npos) << word << " in " << text;
}
