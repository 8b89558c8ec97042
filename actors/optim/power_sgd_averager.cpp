#include "actors/optim/power_sgd_averager.hpp"

#include "messages/error.hpp"

#include <ATen/ATen.h>
#include <spdlog/spdlog.h>

namespace colony::optim {

namespace {

/// Bits of phase 1's group id that phase 2's group bits carry: two
/// phase-1 groups of one epoch meet in phase 2 with odds 2^-32.
constexpr size_t phase1_id_bits = 32;

} // namespace

std::string phase2_tag(const averaging::group_id& phase1,
                       bool phase1_complete) {
  std::string tag(phase1.begin(), phase1.end());
  tag.push_back(phase1_complete ? '\1' : '\0');
  return tag;
}

std::string phase2_group_bits(const std::string& bits,
                              const averaging::group_id& phase1) {
  std::string out = bits;
  for (size_t i = 0; i < phase1_id_bits; ++i)
    out.push_back(((phase1[i / 8] >> (7 - i % 8)) & 1u) ? '1' : '0');
  return out;
}

power_sgd_averager::power_sgd_averager(std::vector<at::Tensor> gradients,
                                       power_sgd_options options,
                                       std::shared_ptr<spdlog::logger> log)
    : gradients_(std::move(gradients)), compressor_(gradients_, options),
      log_(std::move(log)) {}

caf::expected<std::unique_ptr<power_sgd_averager>> power_sgd_averager::create(
    std::vector<at::Tensor> gradients, power_sgd_options options,
    const averager_factory& make, std::shared_ptr<spdlog::logger> log) {
  if (options.rank < 1)
    return make_error(errc::invalid_argument,
                      "PowerSGD rank must be at least 1");
  std::unique_ptr<power_sgd_averager> self{
      new power_sgd_averager(std::move(gradients), options, std::move(log))};
  const auto& c = self->compressor_;
  // Phase 1: the P factors, then the gradients that go plain.
  std::vector<at::Tensor> first = c.p_factors();
  for (auto i : c.plain())
    first.push_back(self->gradients_[i]);
  auto p1 = make(1, std::move(first), self->lock_);
  if (!p1)
    return std::move(p1.error());
  self->phase1_ = std::move(*p1);
  if (!c.compressed().empty()) {
    auto p2 = make(2, c.q_factors(), self->lock_);
    if (!p2)
      return std::move(p2.error());
    self->phase2_ = std::move(*p2);
  }
  int64_t plain_numel = 0, full_numel = 0;
  for (size_t i = 0; i < self->gradients_.size(); ++i)
    full_numel += self->gradients_[i].numel();
  for (auto i : c.plain())
    plain_numel += self->gradients_[i].numel();
  if (self->log_)
    self->log_->info("PowerSGD rank {}: {} tensors through factors, {} plain; "
                     "{} of {} elements per round",
                     options.rank, c.compressed().size(), c.plain().size(),
                     c.factor_numel() + plain_numel, full_numel);
  return self;
}

caf::error power_sgd_averager::set_group_bits(std::string bits) {
  if (auto err = phase1_->set_group_bits(bits))
    return err;
  group_bits_ = std::move(bits);
  return {};
}

caf::error power_sgd_averager::fail(const std::vector<at::Tensor>& plain_before,
                                    caf::error err) {
  auto guard = lock_tensors();
  at::NoGradGuard no_grad;
  compressor_.abandon();
  const auto& plain = compressor_.plain();
  for (size_t k = 0; k < plain.size(); ++k)
    gradients_[plain[k]].copy_(plain_before[k]);
  return err;
}

caf::expected<averaging::step_result>
power_sgd_averager::step(averaging::step_request request) {
  std::vector<at::Tensor> plain_before;
  {
    auto guard = lock_tensors();
    at::NoGradGuard no_grad;
    compressor_.begin(gradients_);
    // Phase 1 averages these in place; a failed phase 2 puts them back.
    for (auto i : compressor_.plain())
      plain_before.push_back(gradients_[i].clone());
  }
  auto first = phase1_->step(request);
  if (!first)
    return fail(plain_before, std::move(first.error()));
  if (!phase2_)
    return first;
  {
    auto guard = lock_tensors();
    compressor_.project();
  }
  auto tag = phase2_tag(first->group.id, first->kept_parts == 0);
  averaging::step_request second;
  second.weight = request.weight;
  second.gathered = tag;
  second.expected_group_size = first->group.members.size();
  second.timeout = std::nullopt; // one search: the members are on their way
  auto phase2_failed = [&](const std::string& why) {
    return fail(plain_before,
                make_error(errc::allreduce_failed, "PowerSGD phase 2 " + why));
  };
  if (auto err = phase2_->set_group_bits(
          phase2_group_bits(group_bits_, first->group.id)))
    return phase2_failed(describe(err));
  auto result = phase2_->step(std::move(second));
  if (!result)
    return phase2_failed("failed: " + describe(result.error()));
  if (result->kept_parts > 0)
    return phase2_failed("kept " + std::to_string(result->kept_parts) +
                         " parts local");
  for (const auto& g : result->gathered)
    if (g != tag)
      return phase2_failed("met a peer of another phase 1, or one whose "
                           "phase 1 kept parts local");
  {
    auto guard = lock_tensors();
    compressor_.finish(gradients_);
  }
  if (result->group.members.size() != first->group.members.size() && log_)
    log_->info("PowerSGD: {} of phase 1's {} peers took part in phase 2",
               result->group.members.size(), first->group.members.size());
  first->averaged_parts += result->averaged_parts;
  first->matchmaking_time += result->matchmaking_time;
  first->allreduce_time += result->allreduce_time;
  first->bytes_sent += result->bytes_sent;
  return first;
}

} // namespace colony::optim
