#include "actors/trainer/trainer.hpp"

#include "actors/trainer/progress_tracker.hpp"
#include "actors/trainer/training_loop.hpp"
#include "messages/error.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <spdlog/spdlog.h>

#include <chrono>

namespace colony::trainer {

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

/// Pause before retrying a failed step.
constexpr std::chrono::milliseconds retry_pause{200};

struct trainer_state {
  trainer_config config;
  std::unique_ptr<training_loop> loop;
  clock_type::time_point start = clock_type::now();
  clock_type::time_point last_success = start;
  progress_tracker tracker{0};
  uint64_t failures_in_a_row = 0;
  /// Collaborative training: the epoch after the last step.
  uint64_t epoch = 0;
  bool stopping = false;
  bool finished = false;
  static inline const char* name = "trainer";
};

using trainer_actor = caf::stateful_actor<trainer_state>;

double now_s(trainer_actor* self) {
  return seconds_since(self->state.start);
}

void tell(trainer_actor* self, const training_record& r) {
  if (self->state.config.listener)
    self->send(self->state.config.listener, r);
}

void finish(trainer_actor* self, std::string error) {
  auto& st = self->state;
  if (st.finished)
    return;
  st.finished = true;
  training_result result;
  result.error = std::move(error);
  if (st.loop) {
    if (auto ev = st.loop->evaluate(0)) {
      auto r = st.tracker.report(now_s(self), st.loop->call_stats(),
                                 ev->accuracy, ev->loss);
      tell(self, r);
      result.test_accuracy = ev->accuracy;
      result.test_loss = ev->loss;
      result.test_samples = ev->samples;
      st.config.log->info("final test accuracy {:.2f}% on {} samples, loss "
                          "{:.4f}, after {} steps",
                          100 * ev->accuracy, ev->samples, ev->loss,
                          st.loop->steps());
    } else {
      st.config.log->error("final evaluation failed: {}",
                           error_reason(ev.error()));
      if (result.error.empty())
        result.error = "final evaluation failed: " + error_reason(ev.error());
    }
    result.steps = st.loop->steps();
    result.samples = st.loop->samples_seen();
    result.parameters = st.loop->parameter_count();
    // The last rounds land before the parameters are read and while the
    // node's actors still run (the averagers answer them).
    st.loop->finish_collaboration();
    if (auto c = st.loop->collaboration()) {
      result.epoch = c->local_epoch;
      // One line in a fixed form: `colony bench collaborative` reads it.
      st.config.log->info("collaborative training: epoch {}, {} gradient "
                          "rounds averaged, {} failed, {} states loaded, "
                          "{:.1f} s averaging, {} gradient bytes sent",
                          c->local_epoch, c->grad_rounds_averaged,
                          c->grad_rounds_failed, c->states_loaded,
                          c->averaging_seconds, c->grad_bytes_sent);
    }
    if (!st.config.options.final_parameters.empty())
      if (auto err =
              st.loop->write_parameters(st.config.options.final_parameters))
        st.config.log->error("cannot write the final parameters: {}",
                             error_reason(err));
  }
  result.seconds = now_s(self);
  // Its optimizer leaves the swarm now, before whoever waits for the result
  // stops the node.
  st.loop.reset();
  if (st.config.listener)
    self->send(st.config.listener, std::move(result));
  self->quit();
}

bool out_of_budget(trainer_actor* self) {
  const auto& o = self->state.config.options;
  if (o.max_epochs > 0 && self->state.epoch >= o.max_epochs)
    return true;
  if (o.max_steps > 0 && self->state.loop->steps() >= o.max_steps)
    return true;
  return o.max_time.count() > 0 &&
         clock_type::now() - self->state.start >= o.max_time;
}

/// Collaborative training: one line per epoch reached with a digest of the
/// parameters (parameter_digest.hpp), so that the harness can compare the
/// trainers of a run at the same epoch.
void log_epoch_digest(trainer_actor* self, const step_outcome& outcome) {
  auto& st = self->state;
  auto d = st.loop->digest_parameters();
  d.t = std::chrono::duration<double>(
            std::chrono::system_clock::now().time_since_epoch())
            .count();
  d.epoch = outcome.epoch;
  d.loaded_state = outcome.loaded_state;
  st.config.log->info("{}", format_digest_line(d));
}

void take_step(trainer_actor* self) {
  auto& st = self->state;
  const auto& o = st.config.options;
  if (st.finished)
    return;
  if (st.stopping || out_of_budget(self)) {
    finish(self, {});
    return;
  }
  auto outcome = st.loop->step();
  if (!outcome) {
    ++st.failures_in_a_row;
    // The first failure and every 25th after it: a dead swarm is logged,
    // not flooded.
    if (st.failures_in_a_row % 25 == 1)
      st.config.log->warn("step {} failed ({} in a row): {}",
                          st.loop->steps() + 1, st.failures_in_a_row,
                          error_reason(outcome.error()));
    if (clock_type::now() - st.last_success >= o.wait_for_experts) {
      finish(self, fmt::format("no step succeeded for {:.1f} s; last error: {}",
                               o.wait_for_experts.count() / 1000.0,
                               error_reason(outcome.error())));
      return;
    }
    self->delayed_send(self, retry_pause, trainer_step_atom::value);
    return;
  }
  st.failures_in_a_row = 0;
  st.last_success = clock_type::now();
  st.tracker.on_step(outcome->loss, outcome->samples,
                     outcome->answered_experts);
  if (o.collaborative && outcome->epoch != st.epoch)
    log_epoch_digest(self, *outcome);
  st.epoch = outcome->epoch;
  if (o.collaborative)
    st.tracker.on_epoch(outcome->epoch, outcome->epoch_changed,
                        outcome->averaging_s, outcome->swarm_samples_per_s);
  auto steps = st.loop->steps();
  if (o.eval_every > 0 && steps % o.eval_every == 0 &&
      !(o.max_steps > 0 && steps >= o.max_steps)) {
    auto began = clock_type::now();
    auto ev = st.loop->evaluate(o.eval_samples);
    st.tracker.exclude_time(seconds_since(began));
    if (ev) {
      tell(self, st.tracker.report(now_s(self), st.loop->call_stats(),
                                   ev->accuracy, ev->loss));
      st.config.log->info("step {}: test accuracy {:.2f}% on {} samples, "
                          "loss {:.4f}",
                          steps, 100 * ev->accuracy, ev->samples, ev->loss);
    } else {
      st.config.log->warn("evaluation at step {} failed: {}", steps,
                          error_reason(ev.error()));
    }
  } else if (o.report_every > 0 && steps % o.report_every == 0) {
    tell(self, st.tracker.report(now_s(self), st.loop->call_stats()));
  }
  self->send(self, trainer_step_atom::value);
}

caf::behavior trainer_main(trainer_actor* self, trainer_config config) {
  auto& st = self->state;
  st.config = std::move(config);
  if (!st.config.log)
    st.config.log = spdlog::default_logger();
  auto loop = training_loop::make(st.config.options, st.config.swarm);
  if (!loop) {
    st.config.log->error("trainer cannot start: {}",
                         error_reason(loop.error()));
    finish(self, error_reason(loop.error()));
    return {};
  }
  st.loop = std::move(*loop);
  st.start = clock_type::now();
  st.last_success = st.start;
  st.tracker = progress_tracker{0};
  st.config.log->info("trainer ready: {} parameters here, layer {}, {} "
                      "blocks, batch {}",
                      st.loop->parameter_count(), st.config.options.layer,
                      st.config.options.grids.size(),
                      st.config.options.batch_size);
  self->send(self, trainer_step_atom::value);
  return {
      [self](trainer_step_atom) { take_step(self); },
      [self](trainer_status_atom) { return self->state.tracker.last(); },
      [self](trainer_stop_atom) { self->state.stopping = true; },
  };
}

} // namespace

caf::actor spawn_trainer(caf::actor_system& system, trainer_config config) {
  return system.spawn<caf::detached>(trainer_main, std::move(config));
}

} // namespace colony::trainer
