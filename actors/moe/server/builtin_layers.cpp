#include "actors/moe/server/builtin_layers.hpp"

#include "actors/moe/server/expert_module.hpp"

#include <stdexcept>
#include <thread>

namespace colony::moe {

namespace {

using torch::nn::LayerNorm;
using torch::nn::LayerNormOptions;
using torch::nn::Linear;

/// ffn: a residual two-layer MLP with a LayerNorm on the sum, as hivemind's
/// FeedforwardBlock (tanh-approximated GELU, LayerNorm eps 1e-12).
struct ffn_impl : torch::nn::Module {
  explicit ffn_impl(int64_t h)
      : linear_in(register_module("linear_in", Linear(h, 4 * h))),
        linear_out(register_module("linear_out", Linear(4 * h, h))),
        norm(register_module("norm",
                             LayerNorm(LayerNormOptions({h}).eps(1e-12)))) {}

  at::Tensor forward(const at::Tensor& x) {
    return norm(x + linear_out(torch::gelu(linear_in(x), "tanh")));
  }

  Linear linear_in;
  Linear linear_out;
  LayerNorm norm;
};

TORCH_MODULE_IMPL(ffn_block, ffn_impl);

/// transformer: torch.nn.TransformerEncoderLayer (post-norm, GELU) over
/// batch-first inputs with a key padding mask (true = ignore).
struct transformer_impl : torch::nn::Module {
  explicit transformer_impl(int64_t h)
      : self_attn(register_module(
            "self_attn",
            torch::nn::MultiheadAttention(
                torch::nn::MultiheadAttentionOptions(h, transformer_heads)
                    .dropout(transformer_dropout)))),
        linear1(register_module("linear1", Linear(h, 4 * h))),
        linear2(register_module("linear2", Linear(4 * h, h))),
        norm1(register_module("norm1", LayerNorm(LayerNormOptions({h})))),
        norm2(register_module("norm2", LayerNorm(LayerNormOptions({h})))),
        dropout(register_module("dropout",
                                torch::nn::Dropout(transformer_dropout))),
        dropout1(register_module("dropout1",
                                 torch::nn::Dropout(transformer_dropout))),
        dropout2(register_module("dropout2",
                                 torch::nn::Dropout(transformer_dropout))) {}

  at::Tensor forward(const at::Tensor& x, const at::Tensor& padding_mask) {
    // (B, S, E) -> (S, B, E), the layout of MultiheadAttention.
    auto src = x.transpose(0, 1);
    auto attn = std::get<0>(
        self_attn(src, src, src, padding_mask, /*need_weights=*/false));
    src = norm1(src + dropout1(attn));
    auto ff = linear2(dropout(torch::gelu(linear1(src))));
    src = norm2(src + dropout2(ff));
    return src.transpose(0, 1);
  }

  torch::nn::MultiheadAttention self_attn;
  Linear linear1;
  Linear linear2;
  LayerNorm norm1;
  LayerNorm norm2;
  torch::nn::Dropout dropout;
  torch::nn::Dropout dropout1;
  torch::nn::Dropout dropout2;
};

TORCH_MODULE_IMPL(transformer_block, transformer_impl);

/// det_dropout: dropout with a mask from the caller, so a forward and its
/// recomputation in backward drop the same units.
struct det_dropout_impl : torch::nn::Module {
  explicit det_dropout_impl(int64_t h)
      : linear_in(register_module("linear_in", Linear(h, 2 * h))),
        linear_out(register_module("linear_out", Linear(2 * h, h))) {}

  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask) {
    auto hidden = torch::relu(linear_in(x));
    if (is_training())
      hidden = hidden * mask.to(hidden.scalar_type()) / (1 - det_dropout_prob);
    return linear_out(hidden);
  }

  Linear linear_in;
  Linear linear_out;
};

TORCH_MODULE_IMPL(det_dropout_block, det_dropout_impl);

/// nop and nop_delay: a copy of the input, optionally after a sleep.
class nop_expert : public expert_module {
 public:
  explicit nop_expert(std::chrono::milliseconds delay) : delay_(delay) {}

  std::vector<at::Tensor>
  forward(const std::vector<at::Tensor>& inputs) override {
    if (inputs.size() != 1)
      throw std::invalid_argument("nop takes 1 input, got " +
                                  std::to_string(inputs.size()));
    if (delay_.count() > 0)
      std::this_thread::sleep_for(delay_);
    // clone() keeps the output in the autograd graph of the input.
    return {inputs[0].clone()};
  }

  std::vector<at::Tensor> parameters() override { return {}; }

  void train(bool) override {}

  void save(torch::serialize::OutputArchive&) override {}

  void load(torch::serialize::InputArchive&) override {}

 private:
  std::chrono::milliseconds delay_;
};

std::vector<at::Tensor> one_vector(int64_t batch, int64_t h) {
  return {torch::randn({batch, h})};
}

} // namespace

std::vector<std::pair<std::string, expert_class>> builtin_expert_classes() {
  std::vector<std::pair<std::string, expert_class>> result;
  result.emplace_back(
      "ffn",
      expert_class{[](int64_t h) { return make_module_expert(ffn_block(h)); },
                   one_vector});
  result.emplace_back(
      "transformer",
      expert_class{[](int64_t h) {
                     if (h <= 0 || h % transformer_heads != 0)
                       throw std::invalid_argument(
                           "transformer: hidden_dim " + std::to_string(h) +
                           " is not a positive multiple of " +
                           std::to_string(transformer_heads) + " heads");
                     return make_module_expert(transformer_block(h));
                   },
                   [](int64_t batch, int64_t h) {
                     // The last positions are padding, the rest attended to.
                     auto mask = torch::arange(transformer_seq_len)
                                     .ge(transformer_seq_len - 8)
                                     .unsqueeze(0)
                                     .expand({batch, transformer_seq_len})
                                     .contiguous();
                     return std::vector<at::Tensor>{
                         torch::randn({batch, transformer_seq_len, h}), mask};
                   }});
  result.emplace_back(
      "nop", expert_class{[](int64_t) -> std::shared_ptr<expert_module> {
                            return std::make_shared<nop_expert>(
                                std::chrono::milliseconds{0});
                          },
                          one_vector});
  result.emplace_back(
      "nop_delay",
      expert_class{[](int64_t) -> std::shared_ptr<expert_module> {
                     return std::make_shared<nop_expert>(nop_delay);
                   },
                   one_vector});
  result.emplace_back(
      "det_dropout",
      expert_class{
          [](int64_t h) { return make_module_expert(det_dropout_block(h)); },
          [](int64_t batch, int64_t h) {
            return std::vector<at::Tensor>{
                torch::randn({batch, h}),
                torch::rand({batch, 2 * h}).gt(det_dropout_prob)};
          }});
  return result;
}

} // namespace colony::moe
