#pragma once

// The built-in expert classes, the architectures of hivemind's
// `hivemind/moe/server/layers/common.py`:
//   ffn          x -> LayerNorm(x + Linear(4h, h)(GELU(Linear(h, 4h)(x))))
//   transformer  a post-norm transformer encoder layer over (B, 128, h) with
//                a key padding mask (B, 128), 16 heads, dropout 0.1, GELU
//   nop          returns a copy of its input (B, h); no parameters
//   nop_delay    like nop, but sleeps `nop_delay` in forward
//   det_dropout  Linear(h, 2h) -> ReLU -> x * mask / keep -> Linear(2h, h),
//                the dropout mask (B, 2h, bool) given by the caller
// `find_expert_class` registers them on first use.

#include "actors/moe/server/layer_registry.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace colony::moe {

/// Attention heads of the `transformer` expert; its hidden_dim must be a
/// multiple of this.
constexpr int64_t transformer_heads = 16;

/// Sequence length (tokens) of the `transformer` expert's sample inputs.
constexpr int64_t transformer_seq_len = 128;

/// Dropout probability inside the `transformer` expert.
constexpr double transformer_dropout = 0.1;

/// Drop probability the `det_dropout` expert rescales by (kept values are
/// divided by 1 - this).
constexpr double det_dropout_prob = 0.2;

/// How long the `nop_delay` expert sleeps in each forward.
constexpr std::chrono::milliseconds nop_delay{500};

/// The built-in classes with their names, in no particular order.
[[nodiscard]] std::vector<std::pair<std::string, expert_class>>
builtin_expert_classes();

} // namespace colony::moe
