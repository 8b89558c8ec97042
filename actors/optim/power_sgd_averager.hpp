#pragma once

// power_sgd_averager: hivemind's PowerSGDGradientAverager over two colony
// averagers. One round is two all-reduce phases among the same peers:
//
// - phase 1 (prefix `{run_id}_grad_averager`, the epoch's group bits):
//   the P factors of the compressed gradients and, plain, the gradients
//   that compress poorly (biases, norms, small matrices);
// - phase 2 (prefix `{run_id}_grad_averager_phase2`): the Q factors. Its
//   group bits are the epoch's followed by 32 bits of phase 1's group id,
//   and it expects phase 1's group size, so that only the members of one
//   phase-1 group meet again.
//
// Consistency: every phase-2 member gathers phase 1's group id and whether
// all its phase-1 parts were averaged. A phase-2 round succeeds for a
// member only if every member gathered the same (all share one averaged P)
// and none of its own phase-2 parts kept local values. Then all of them
// end with the same P Q^T. Otherwise, and when phase 2 finds no group or
// fails (a peer missing), the step fails: that peer's gradients, error
// feedback and Q stay as before the round (local gradients, as hivemind on
// failure), and the collaborative optimizer logs it. A peer that left
// between the phases thus falls back alone, while the phase-2 members that
// shared its P still agree among themselves (their P Q^T approximates
// their own mean gradient).

#include "actors/optim/gradient_averager.hpp"
#include "actors/optim/power_sgd.hpp"

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace spdlog {
class logger;
}

namespace colony::optim {

class power_sgd_averager final : public gradient_averager {
 public:
  /// Spawns the averager of `phase` (1 or 2) over `tensors`, locked by
  /// `lock` (the caller picks prefix and options).
  using averager_factory = std::function<
      caf::expected<std::unique_ptr<averaging::decentralized_averager>>(
          int phase, std::vector<at::Tensor> tensors,
          std::shared_ptr<std::mutex> lock)>;

  /// A PowerSGD averager of `gradients` (contiguous CPU tensors, averaged
  /// in place). Without any tensor that compresses, it runs phase 1 only
  /// (plain averaging). Errors: the factory's.
  static caf::expected<std::unique_ptr<power_sgd_averager>>
  create(std::vector<at::Tensor> gradients, power_sgd_options options,
         const averager_factory& make, std::shared_ptr<spdlog::logger> log);

  std::unique_lock<std::mutex> lock_tensors() override {
    return std::unique_lock<std::mutex>{*lock_};
  }

  caf::error set_group_bits(std::string bits) override;

  /// Both phases. The result is phase 1's (group, gathered bytes, group
  /// bits) with the two phases' parts, times and bytes added up.
  /// Errors: phase 1's as decentralized_averager::step; allreduce_failed
  /// for a phase 2 that failed or did not match phase 1 (see above).
  caf::expected<averaging::step_result>
  step(averaging::step_request request) override;

  [[nodiscard]] const power_sgd_compressor& compressor() const noexcept {
    return compressor_;
  }

 private:
  power_sgd_averager(std::vector<at::Tensor> gradients,
                     power_sgd_options options,
                     std::shared_ptr<spdlog::logger> log);

  /// Ends a failed round: gradients, E and Q as before it.
  caf::error fail(const std::vector<at::Tensor>& plain_before, caf::error err);

  std::vector<at::Tensor> gradients_;
  power_sgd_compressor compressor_;
  std::shared_ptr<std::mutex> lock_ = std::make_shared<std::mutex>();
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<averaging::decentralized_averager> phase1_;
  std::unique_ptr<averaging::decentralized_averager> phase2_;
  std::string group_bits_;
};

/// The bytes phase-2 members gather: phase 1's group id and whether every
/// phase-1 part of the member was averaged.
[[nodiscard]] std::string phase2_tag(const averaging::group_id& phase1,
                                     bool phase1_complete);

/// Phase 2's group bits: `bits` followed by the first 32 bits of `phase1`.
[[nodiscard]] std::string phase2_group_bits(const std::string& bits,
                                            const averaging::group_id& phase1);

} // namespace colony::optim
