#include "actors/optim/collaborative_options.hpp"

#include "messages/error.hpp"

namespace colony::optim {

const char* to_string(grad_averager_kind kind) noexcept {
  switch (kind) {
  case grad_averager_kind::plain:
    return "plain";
  case grad_averager_kind::power_sgd:
    return "power_sgd";
  }
  return "unknown";
}

std::optional<grad_averager_kind>
parse_grad_averager_kind(const std::string& text) {
  for (auto kind : {grad_averager_kind::plain, grad_averager_kind::power_sgd})
    if (text == to_string(kind))
      return kind;
  return std::nullopt;
}

caf::error validate(const collaborative_options& o) {
  std::vector<std::string> problems;
  auto check = [&](bool ok, std::string what) {
    if (!ok)
      problems.push_back(std::move(what));
  };
  check(!o.run_id.empty(), "run_id must not be empty");
  check(o.run_id.find('.') == std::string::npos,
        "run_id must not contain '.', got '" + o.run_id + "'");
  check(o.target_batch_size > 0, "target_batch_size must be positive");
  check(!o.batch_size_per_step || *o.batch_size_per_step > 0,
        "batch_size_per_step must be positive");
  using std::chrono::milliseconds;
  auto positive = [&](milliseconds d, const char* name) {
    check(d.count() > 0, std::string(name) + " must be positive, got " +
                             std::to_string(d.count()) + " ms");
  };
  check(o.matchmaking_time.count() >= 0,
        "matchmaking_time must not be negative");
  positive(o.averaging_timeout, "averaging_timeout");
  positive(o.load_state_timeout, "load_state_timeout");
  if (o.allreduce_timeout)
    positive(*o.allreduce_timeout, "allreduce_timeout");
  if (o.next_chunk_timeout)
    positive(*o.next_chunk_timeout, "next_chunk_timeout");
  positive(o.min_refresh_period, "min_refresh_period");
  check(o.max_refresh_period >= o.min_refresh_period,
        "max_refresh_period must not be below min_refresh_period");
  check(o.average_state_every >= 1, "average_state_every must be at least 1");
  check(!(o.client_mode && o.auxiliary),
        "a peer cannot be both client_mode and auxiliary (an auxiliary peer "
        "serves averaging)");
  check(!(o.delay_grad_averaging && o.reuse_grad_buffers),
        "delay_grad_averaging needs its own gradient buffers: it cannot be "
        "used with reuse_grad_buffers");
  check(!(o.delay_grad_averaging && o.use_local_updates),
        "use_local_updates averages no gradients: delay_grad_averaging does "
        "not apply");
  check(!(o.delay_optimizer_step.value_or(false) && !o.delay_grad_averaging),
        "delay_optimizer_step needs delay_grad_averaging (colony applies a "
        "delayed optimizer step once its delayed gradient round ended)");
  check(!(o.delay_grad_averaging && !o.delay_optimizer_step.value_or(true)),
        "delay_grad_averaging delays the optimizer step too: "
        "delay_optimizer_step cannot be false with it");
  check(o.power_sgd_rank >= 1 && o.power_sgd_rank <= max_power_sgd_rank,
        "power_sgd_rank must be in [1, " + std::to_string(max_power_sgd_rank) +
            "], got " + std::to_string(o.power_sgd_rank));
  check(!(o.grad_averager == grad_averager_kind::power_sgd &&
          o.use_local_updates),
        "use_local_updates averages no gradients: grad_averager = power_sgd "
        "does not apply");
  check(o.part_size_bytes > 0, "part_size_bytes must be positive");
  check(o.averaging_drop_rate >= 0 && o.averaging_drop_rate <= 1,
        "averaging_drop_rate must be in [0, 1]");
  if (problems.empty())
    return {};
  std::string text;
  for (const auto& p : problems)
    text += (text.empty() ? "" : "\n") + p;
  return make_error(errc::invalid_argument, std::move(text));
}

} // namespace colony::optim
