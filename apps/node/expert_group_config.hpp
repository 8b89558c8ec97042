#pragma once

#include "actors/moe/server/expert_backend.hpp"
#include "messages/tensor_codec.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace colony {

/// One `[[experts]]` table of a node config (or the flags of `colony
/// server`): a group of experts of one class served from one device.
/// Defaults are hivemind-server's.
struct expert_group_config {
  /// `num_experts`: how many uids to draw from `expert_pattern`.
  size_t num_experts = 0;
  /// `expert_pattern`, e.g. `ffn.[0:4].[0:8]`: uids are sampled from it,
  /// skipping uids another server already declared in the DHT.
  std::string expert_pattern;
  /// `expert_uids`: explicit uids (instead of a pattern).
  std::vector<std::string> expert_uids;
  /// `expert_cls`: a registered class (ffn, transformer, nop, nop_delay,
  /// det_dropout, or a user's) or a TorchScript file (`*.pt`, `*.ts`).
  std::string expert_cls = "ffn";
  /// `hidden_dim`: width of the experts' inputs and outputs.
  int64_t hidden_dim = 1024;
  /// `min_batch_size`, `max_batch_size`: rows per batch a task pool forms.
  size_t min_batch_size = 1;
  size_t max_batch_size = 16384;
  /// `device`: `cpu` or `cuda:N`.
  std::string device = "cpu";
  /// `optimizer`, `learning_rate`, `scheduler`, `num_warmup_steps`,
  /// `num_training_steps`, `clip_grad_norm`.
  moe::expert_backend_options backend;
  /// `update_period`: seconds between DHT declarations and checkpoints.
  std::chrono::milliseconds update_period{30000};
  /// `expiration`: seconds a declaration lives; 0 means
  /// max(2 x update_period, 3 s).
  std::chrono::milliseconds expiration{0};
  /// `compression`: codec of the server's replies.
  compression_type compression = compression_type::none;
  /// `checkpoint_dir`: save and restore expert state here (empty: never).
  std::string checkpoint_dir;
  /// `drop_rate`: fraction (in [0, 1]) of forward/backward requests each
  /// expert silently drops, for fault-injection runs (callers time out).
  double drop_rate = 0;

  /// The declaration lifetime in effect.
  [[nodiscard]] std::chrono::milliseconds effective_expiration() const {
    if (expiration.count() > 0)
      return expiration;
    return std::max<std::chrono::milliseconds>(2 * update_period,
                                               std::chrono::seconds(3));
  }
};

} // namespace colony
