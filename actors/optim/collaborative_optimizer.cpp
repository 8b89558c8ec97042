#include "actors/optim/collaborative_optimizer.hpp"

#include "actors/averaging/decentralized_averager.hpp"
#include "actors/dht/dht_messages.hpp"
#include "actors/optim/gradient_accumulator.hpp"
#include "actors/optim/gradient_averager.hpp"
#include "actors/optim/optimizer_state.hpp"
#include "actors/optim/power_sgd_averager.hpp"
#include "actors/optim/progress_tracker.hpp"
#include "actors/optim/training_state_metadata.hpp"
#include "messages/error.hpp"

#include <spdlog/spdlog.h>
#include <torch/optim.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <random>

namespace colony::optim {

namespace {

using namespace std::chrono_literals;
using averaging::decentralized_averager;
using clock_type = std::chrono::steady_clock;

/// Group bits that keep peers of different epochs apart: the epoch's low
/// bits (an averaging round only ever pairs peers of one epoch).
constexpr size_t epoch_group_bits = 8;

std::string group_bits_of(uint64_t epoch) {
  std::string bits(epoch_group_bits, '0');
  for (size_t i = 0; i < epoch_group_bits; ++i)
    if ((epoch >> (epoch_group_bits - 1 - i)) & 1u)
      bits[i] = '1';
  return bits;
}

std::chrono::microseconds since(clock_type::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(
      clock_type::now() - start);
}

template <class T>
bool finished(const std::future<T>& f) {
  return f.valid() && f.wait_for(0s) == std::future_status::ready;
}

} // namespace

struct collaborative_optimizer::impl {
  swarm_endpoint swarm;
  std::shared_ptr<torch::optim::Optimizer> opt;
  collaborative_options options;
  std::vector<at::Tensor> params;        ///< detached views of the parameters
  std::vector<at::Tensor> extra_tensors; ///< the caller's, averaged in place
  std::shared_ptr<std::mutex> state_lock = std::make_shared<std::mutex>();
  std::vector<at::Tensor> grad_buffers; ///< the gradient averager's tensors
  std::unique_ptr<gradient_accumulator> accumulator;
  std::unique_ptr<progress_tracker> tracker;
  /// Plain or PowerSGD (options.grad_averager).
  std::unique_ptr<gradient_averager> grad_averager;
  /// Averages copies of the state (state_buffers), never the live
  /// tensors: a background round must not write a parameter that a forward
  /// pass of the training thread holds. The training thread adds the
  /// round's change (buffers after minus `state_snapshot`) to the live
  /// tensors when the round has ended.
  std::unique_ptr<decentralized_averager> state_averager;
  std::vector<at::Tensor> averaged_live; ///< parameters, statistics, extras
  std::vector<at::Tensor> state_buffers;
  std::vector<at::Tensor> state_snapshot;
  /// Shares (and downloads) the whole training state: parameters, every
  /// optimizer state tensor, extra tensors; never averages.
  std::unique_ptr<decentralized_averager> state_sharing;
  size_t optimizer_state_count = 0;

  std::atomic<uint64_t> local_epoch{0};
  std::atomic<uint64_t> local_samples{0};
  /// A delayed gradient round (delay_grad_averaging) and its epoch.
  std::future<caf::expected<averaging::step_result>> pending_grads;
  uint64_t pending_grads_epoch = 0;
  /// A background state round (delay_state_averaging): whether it
  /// averaged.
  std::future<bool> pending_state;

  mutable std::mutex status_lock;
  collaborative_status counters;
  /// The other members of the last gradient round that averaged.
  std::vector<peer_id> round_members;
  /// Draws the rounds `averaging_drop_rate` fails.
  std::mt19937_64 drop_draws{std::random_device{}()};

  spdlog::logger& log() { return *swarm.log; }

  // -- setup --------------------------------------------------------------

  caf::expected<std::unique_ptr<decentralized_averager>>
  make_averager(const std::string& suffix, std::vector<at::Tensor> tensors,
                std::shared_ptr<std::mutex> lock,
                const averaging::averaging_compression& compression,
                std::optional<bool> share_state, uint64_t seed_salt,
                std::vector<averaging::averaging_compression> per_tensor = {}) {
    averaging::averager_config config;
    config.tensors = std::move(tensors);
    config.transport = swarm.transport;
    config.dht = swarm.dht;
    config.self = averaging::peer_contact{
        swarm.me->peer_id(), options.client_mode ? "" : swarm.address};
    auto& o = config.options;
    o.prefix = options.run_id + suffix;
    o.target_group_size = options.target_group_size;
    o.min_matchmaking_time = options.matchmaking_time;
    o.next_chunk_timeout = options.next_chunk_timeout;
    // A round is one search of matchmaking_time, then an all-reduce that
    // averaging_timeout bounds unless allreduce_timeout is given.
    o.allreduce_timeout =
        options.allreduce_timeout.value_or(options.averaging_timeout);
    o.part_size_bytes = options.part_size_bytes;
    o.compression = compression;
    o.tensor_compression = std::move(per_tensor);
    o.bandwidth = options.bandwidth;
    o.client_mode = options.client_mode;
    o.auxiliary = options.auxiliary;
    o.allow_state_sharing = share_state;
    o.state_compression = options.load_state_compression;
    o.initial_group_bits = group_bits_of(0);
    config.tensors_lock = std::move(lock);
    config.log = swarm.log;
    config.seed = options.seed == 0 ? 0 : options.seed ^ seed_salt;
    return decentralized_averager::create(*swarm.system, std::move(config));
  }

  caf::error start_grad_averager() {
    if (options.grad_averager == grad_averager_kind::plain) {
      auto ga = make_averager("_grad_averager", grad_buffers,
                              std::make_shared<std::mutex>(),
                              options.grad_compression, false, 0x67);
      if (!ga)
        return ga.error();
      grad_averager = std::make_unique<plain_gradient_averager>(std::move(*ga));
      return {};
    }
    power_sgd_options po;
    po.rank = options.power_sgd_rank;
    auto make = [this](int phase, std::vector<at::Tensor> tensors,
                       std::shared_ptr<std::mutex> lock) {
      return make_averager(
          phase == 1 ? "_grad_averager" : "_grad_averager_phase2",
          std::move(tensors), std::move(lock), options.grad_compression, false,
          phase == 1 ? 0x67 : 0x68);
    };
    auto ga = power_sgd_averager::create(grad_buffers, po, make, swarm.log);
    if (!ga)
      return ga.error();
    grad_averager = std::move(*ga);
    return {};
  }

  caf::error start(std::vector<at::Tensor> extras) {
    if (options.seed != 0)
      drop_draws.seed(options.seed ^ 0xd7);
    if (auto err = initialize_optimizer_state(*opt))
      return err;
    for (const auto& p : optimizer_parameters(*opt))
      params.push_back(p.detach());
    if (params.empty())
      return make_error(errc::invalid_argument,
                        "the optimizer has no parameters");
    for (auto& t : extras)
      extra_tensors.push_back(t.detach());
    // Averaged state: parameters, the chosen statistics, extra tensors,
    // each with the codec of its role.
    using averaging::tensor_role;
    std::vector<at::Tensor> averaged = params;
    std::vector<tensor_role> roles(params.size(), tensor_role::parameter);
    for (const auto& name : options.average_opt_statistics) {
      auto stats = optimizer_statistic(*opt, name);
      if (!stats)
        return stats.error();
      averaged.insert(averaged.end(), stats->begin(), stats->end());
      roles.resize(averaged.size(), tensor_role::optimizer);
    }
    averaged.insert(averaged.end(), extra_tensors.begin(), extra_tensors.end());
    roles.resize(averaged.size(), tensor_role::other);
    // Shared state: parameters, all optimizer state, extra tensors.
    std::vector<at::Tensor> shared = params;
    auto opt_state = optimizer_state_tensors(*opt);
    optimizer_state_count = opt_state.size();
    shared.insert(shared.end(), opt_state.begin(), opt_state.end());
    shared.insert(shared.end(), extra_tensors.begin(), extra_tensors.end());

    progress_tracker_options to;
    to.run_id = options.run_id;
    to.target_batch_size = options.target_batch_size;
    to.client_mode = options.client_mode;
    to.min_refresh_period = options.min_refresh_period;
    to.max_refresh_period = options.max_refresh_period;
    to.default_refresh_period =
        std::clamp(std::chrono::milliseconds{3000}, options.min_refresh_period,
                   options.max_refresh_period);
    auto tr = progress_tracker::create(*swarm.system, swarm.dht, swarm.me,
                                       std::move(to), swarm.log);
    if (!tr)
      return tr.error();
    tracker = std::move(*tr);

    if (!options.use_local_updates) {
      for (const auto& p : params)
        grad_buffers.push_back(at::zeros_like(p, at::MemoryFormat::Contiguous));
      if (auto err = start_grad_averager())
        return err;
      accumulator = std::make_unique<gradient_accumulator>(
          optimizer_parameters(*opt), options.reuse_grad_buffers);
    }
    averaged_live = averaged;
    for (const auto& t : averaged_live) {
      state_buffers.push_back(at::empty_like(t, at::MemoryFormat::Contiguous));
      state_snapshot.push_back(at::empty_like(t, at::MemoryFormat::Contiguous));
    }
    const auto& state_codecs = options.state_averaging_compression;
    auto sa = make_averager(
        "_state_averager", state_buffers, std::make_shared<std::mutex>(),
        state_codecs.fallback, false, 0x5a, state_codecs.for_tensors(roles));
    if (!sa)
      return sa.error();
    state_averager = std::move(*sa);
    auto ss =
        make_averager("_state_sharing", std::move(shared), state_lock,
                      averaging::averaging_compression{}, std::nullopt, 0x55);
    if (!ss)
      return ss.error();
    state_sharing = std::move(*ss);
    publish_state_metadata();
    // Learn where the swarm is before the first step, so that a late
    // joiner loads the state instead of computing a stale step first.
    if (auto g = tracker->refresh(std::chrono::milliseconds{5000}); !g)
      log().debug("no progress of run {} found yet: {}", options.run_id,
                  describe(g.error()));
    tracker->report_local_progress(local_epoch, 0);
    return {};
  }

  // -- the step -----------------------------------------------------------

  caf::expected<step_report> step(std::optional<uint64_t> batch_size) {
    step_report report;
    if (!options.auxiliary && !batch_size)
      batch_size = options.batch_size_per_step;
    if (!options.auxiliary && !batch_size)
      return make_error(errc::invalid_argument,
                        "step() without a batch size needs "
                        "batch_size_per_step");
    auto g = tracker->global();
    if (options.auxiliary) {
      // An auxiliary peer has no state of its own to keep in step: it
      // follows the swarm's epoch and joins its rounds.
      local_epoch = std::max<uint64_t>(local_epoch, g.epoch);
      if (ready(g))
        end_epoch(report, g);
      report.epoch = local_epoch;
      return report;
    }
    if (behind(g)) {
      log().info("local epoch {} is behind the swarm's {}: loading the "
                 "state from peers",
                 local_epoch.load(), g.epoch);
      zero_gradients();
      if (accumulator)
        accumulator->reset();
      local_samples = 0;
      if (auto err = load_state())
        log().warn("could not load the state from peers: {}", describe(err));
      report.loaded_state = true;
      report.epoch = local_epoch;
      return report;
    }
    if (*batch_size > 0) {
      if (options.use_local_updates) {
        std::lock_guard<std::mutex> guard{*state_lock};
        opt->step();
      } else {
        accumulator->accumulate(*batch_size);
      }
      local_samples += *batch_size;
      if (!options.reuse_grad_buffers)
        zero_gradients();
    }
    // After accumulating: a delayed round's optimizer step uses the
    // gradient fields of the parameters.
    apply_finished_grad_round(report);
    apply_finished_state_round();
    tracker->report_local_progress(local_epoch, local_samples);
    g = tracker->global();
    if (ready(g))
      end_epoch(report, g);
    report.epoch = local_epoch;
    return report;
  }

  /// The swarm has finished this peer's epoch.
  bool ready(const global_progress& g) const {
    if (g.epoch > local_epoch)
      return true; // others ended it (a delayed round runs: join it)
    if (g.samples_accumulated >= options.target_batch_size)
      return true;
    return g.eta_next_epoch && g.samples_per_second > 0 &&
           dht::dht_time() >= *g.eta_next_epoch;
  }

  /// This peer must load the state instead of contributing: the swarm is
  /// ahead by more than the round this peer could still join. In the
  /// synchronous mode peers move on only after their round, so any epoch
  /// ahead is one this peer missed; with delayed gradient rounds the swarm
  /// moves on as its round starts, so a peer one behind with gradients of
  /// that epoch joins it.
  bool behind(const global_progress& g) const {
    if (options.delay_grad_averaging)
      return g.epoch > local_epoch + 1 ||
             (g.epoch == local_epoch + 1 && local_samples == 0);
    return g.epoch > local_epoch;
  }

  /// Peers due in this epoch's rounds: those at most one epoch behind
  /// (their record may lag their step; a peer further behind loads the
  /// state instead), at least 2: a lone peer expects none and averages
  /// with whoever comes by its scheduled time.
  size_t expected_group_size(const global_progress& g) const {
    uint64_t epoch = local_epoch;
    auto due = std::count_if(g.peer_epochs.begin(), g.peer_epochs.end(),
                             [&](uint64_t e) { return e + 1 >= epoch; });
    return std::max<size_t>(static_cast<size_t>(due), 2);
  }

  void end_epoch(step_report& report, const global_progress& g) {
    uint64_t epoch = local_epoch;
    report.epoch_changed = true;
    if (options.use_local_updates || options.auxiliary) {
      if (options.auxiliary && grad_averager)
        run_grad_round(epoch, 0, g, report);
      next_epoch(epoch + 1);
      if (g.num_peers > 1 || options.auxiliary)
        maybe_average_state(expected_group_size(g));
      return;
    }
    // The previous delayed round lands first: one round at a time.
    wait_for_grad_round(report);
    {
      auto guard = grad_averager->lock_tensors();
      accumulator->mean_into(grad_buffers);
    }
    auto weight = static_cast<double>(accumulator->samples());
    accumulator->reset();
    local_samples = 0;
    if (options.delay_grad_averaging) {
      pending_grads_epoch = epoch;
      auto request = grad_request(weight, g);
      auto* averager = grad_averager.get();
      if (auto err = averager->set_group_bits(group_bits_of(epoch)))
        log().warn("gradient round of epoch {}: {}", epoch, describe(err));
      pending_grads = std::async(std::launch::async, [averager, request] {
        return averager->step(request);
      });
      next_epoch(epoch + 1);
      return;
    }
    auto averaged = run_grad_round(epoch, weight, g, report);
    if (!averaged && others_moved_on(epoch)) {
      // Gradients of an epoch the swarm ended without this peer would move
      // the parameters the wrong way: take the swarm's state instead.
      log().warn("epoch {} ended without this peer: loading the state", epoch);
      if (auto err = load_state())
        log().warn("could not load the state from peers: {}", describe(err));
      report.loaded_state = true;
      return;
    }
    apply_optimizer_step(epoch);
    next_epoch(epoch + 1);
    if (averaged) {
      tracker->peers_moved_on(round_members, epoch + 1);
      maybe_average_state(report.group_size);
    }
  }

  averaging::step_request grad_request(double weight,
                                       const global_progress& g) const {
    averaging::step_request r;
    r.weight = weight;
    // One search of matchmaking_time: the peers of an epoch arrive
    // together, and one that searches longer only misses the swarm moving
    // on (it then loads the state).
    r.timeout = std::nullopt;
    r.expected_group_size = expected_group_size(g);
    return r;
  }

  /// Averages this epoch's gradients (synchronously); true if averaged.
  bool run_grad_round(uint64_t epoch, double weight, const global_progress& g,
                      step_report& report) {
    if (g.num_peers <= 1 && !options.auxiliary) {
      log().debug("epoch {}: alone in the swarm, local gradients", epoch);
      return false;
    }
    if (options.averaging_drop_rate > 0 &&
        std::bernoulli_distribution{options.averaging_drop_rate}(drop_draws))
      return note_grad_round(epoch,
                             make_error(errc::timeout,
                                        "dropped by fault injection "
                                        "(averaging_drop_rate)"),
                             report);
    if (auto err = grad_averager->set_group_bits(group_bits_of(epoch)))
      log().warn("gradient round of epoch {}: {}", epoch, describe(err));
    auto start = clock_type::now();
    auto result = grad_averager->step(grad_request(weight, g));
    report.averaging_time = since(start);
    add_averaging_time(report.averaging_time);
    return note_grad_round(epoch, result, report);
  }

  bool note_grad_round(uint64_t epoch,
                       const caf::expected<averaging::step_result>& result,
                       step_report& report) {
    std::lock_guard<std::mutex> guard{status_lock};
    if (!result) {
      ++counters.grad_rounds_failed;
      log().warn("epoch {}: gradient averaging failed ({}); the step uses "
                 "local gradients",
                 epoch, describe(result.error()));
      return false;
    }
    ++counters.grad_rounds_averaged;
    counters.grad_bytes_sent += result->bytes_sent;
    report.averaged = true;
    report.group_size = result->group.members.size();
    round_members.clear();
    for (const auto& m : result->group.members)
      if (m.peer.id != swarm.me->peer_id())
        round_members.push_back(m.peer.id);
    report.grad_bytes_sent = result->bytes_sent;
    log().info("epoch {}: gradients averaged with {} peers in {:.3f} s", epoch,
               report.group_size,
               std::chrono::duration<double>(result->matchmaking_time +
                                             result->allreduce_time)
                   .count());
    return true;
  }

  /// Whether some other peer reached a later epoch than `epoch`.
  bool others_moved_on(uint64_t epoch) {
    auto g = tracker->refresh(options.min_refresh_period * 4);
    return g && g->epoch > epoch;
  }

  void apply_finished_grad_round(step_report& report) {
    if (!pending_grads.valid() ||
        pending_grads.wait_for(0s) != std::future_status::ready)
      return;
    finish_grad_round(report);
  }

  void wait_for_grad_round(step_report& report) {
    if (pending_grads.valid())
      finish_grad_round(report);
  }

  /// Takes the delayed round's outcome and applies its optimizer step.
  /// What the trainer pays for a delayed round is the wait for it here
  /// (the rest overlapped its compute): that is its averaging time.
  void finish_grad_round(step_report& report) {
    auto start = clock_type::now();
    auto result = pending_grads.get();
    auto waited = since(start);
    report.averaging_time += waited;
    add_averaging_time(waited);
    note_grad_round(pending_grads_epoch, result, report);
    apply_optimizer_step(pending_grads_epoch);
    if (result)
      maybe_average_state(result->group.members.size());
  }

  /// The optimizer step that ends `epoch`, with the gradients in the
  /// gradient averager's tensors (averaged or local).
  void apply_optimizer_step(uint64_t epoch) {
    at::NoGradGuard no_grad;
    std::lock_guard<std::mutex> guard{*state_lock};
    auto grads_guard = grad_averager->lock_tensors();
    if (options.lr_schedule)
      set_learning_rate(*opt, options.lr_schedule(epoch));
    auto live = optimizer_parameters(*opt);
    for (size_t i = 0; i < live.size(); ++i) {
      auto& grad = live[i].mutable_grad();
      if (grad.defined())
        grad.copy_(grad_buffers[i]);
      else
        grad = grad_buffers[i].clone();
    }
    opt->step();
    for (auto& p : live)
      p.mutable_grad().zero_();
  }

  void next_epoch(uint64_t epoch) {
    local_epoch = epoch;
    {
      std::lock_guard<std::mutex> guard{status_lock};
      ++counters.epochs;
    }
    publish_state_metadata();
    tracker->update_epoch(epoch);
  }

  /// Starts the state round of this epoch, if one is due, right after the
  /// gradient round of `group` peers: they all start theirs now, so the
  /// round assembles as soon as they joined. A peer whose last state round
  /// still runs skips this one (its peers' leader then waits for it until
  /// the scheduled time, in the background).
  void maybe_average_state(size_t group) {
    if (local_epoch % options.average_state_every != 0 || group < 2)
      return;
    if (pending_state.valid() && !finished(pending_state)) {
      log().info("epoch {}: the last state round still runs, skipping one",
                 local_epoch.load());
      return;
    }
    finish_state_round();
    uint64_t epoch = local_epoch;
    {
      std::lock_guard<std::mutex> guard{*state_lock};
      auto buffers_guard = state_averager->lock_tensors();
      for (size_t i = 0; i < averaged_live.size(); ++i) {
        state_buffers[i].copy_(averaged_live[i]);
        state_snapshot[i].copy_(averaged_live[i]);
      }
    }
    auto request = averaging::step_request{};
    request.timeout = std::nullopt; // one search, as the gradient rounds
    request.expected_group_size = group;
    auto round = [this, epoch, request] {
      if (auto err = state_averager->set_group_bits(group_bits_of(epoch)))
        log().warn("state round of epoch {}: {}", epoch, describe(err));
      auto start = clock_type::now();
      auto result = state_averager->step(request);
      std::lock_guard<std::mutex> guard{status_lock};
      if (result) {
        ++counters.state_rounds_averaged;
        log().info("epoch {}: state averaged with {} peers in {:.3f} s", epoch,
                   result->group.members.size(),
                   std::chrono::duration<double>(since(start)).count());
        return true;
      }
      ++counters.state_rounds_failed;
      log().warn("epoch {}: state averaging failed: {}", epoch,
                 describe(result.error()));
      return false;
    };
    if (options.delay_state_averaging) {
      pending_state = std::async(std::launch::async, round);
    } else {
      auto start = clock_type::now();
      pending_state = std::async(std::launch::deferred, round);
      finish_state_round();
      add_averaging_time(since(start));
    }
  }

  /// Applies a state round that has ended, if any (training thread).
  void apply_finished_state_round() {
    if (finished(pending_state))
      finish_state_round();
  }

  /// Waits for the state round and adds its change to the live tensors:
  /// they keep what training did to them since the round began.
  void finish_state_round() {
    if (!pending_state.valid() || !pending_state.get())
      return;
    at::NoGradGuard no_grad;
    std::lock_guard<std::mutex> guard{*state_lock};
    auto buffers_guard = state_averager->lock_tensors();
    for (size_t i = 0; i < averaged_live.size(); ++i)
      averaged_live[i].add_(state_buffers[i] - state_snapshot[i]);
  }

  void add_averaging_time(std::chrono::microseconds t) {
    std::lock_guard<std::mutex> guard{status_lock};
    counters.averaging_seconds += std::chrono::duration<double>(t).count();
  }

  // -- state --------------------------------------------------------------

  void publish_state_metadata() {
    training_state_metadata m;
    m.epoch = local_epoch;
    {
      std::lock_guard<std::mutex> guard{*state_lock};
      m.step_counts = optimizer_step_counts(*opt);
      m.learning_rates = learning_rates(*opt);
    }
    m.parameter_count = static_cast<uint32_t>(params.size());
    m.optimizer_state_count = static_cast<uint32_t>(optimizer_state_count);
    state_sharing->set_state_metadata(encode(m));
    state_sharing->set_state_priority(static_cast<double>(local_epoch));
  }

  void wait_for_background() {
    step_report ignored;
    wait_for_grad_round(ignored);
    // A state loaded next replaces the round's outcome anyway.
    if (pending_state.valid())
      pending_state.get();
  }

  caf::error load_state() {
    wait_for_background();
    auto state =
        state_sharing->load_state_from_peers(options.load_state_timeout);
    if (!state)
      return std::move(state.error());
    auto meta = decode_training_state_metadata(state->metadata);
    if (!meta)
      return std::move(meta.error());
    if (meta->parameter_count != params.size() ||
        meta->optimizer_state_count != optimizer_state_count)
      return make_error(
          errc::invalid_argument,
          "the peer's state has " + std::to_string(meta->parameter_count) +
              " parameters and " + std::to_string(meta->optimizer_state_count) +
              " optimizer tensors, this model " +
              std::to_string(params.size()) + " and " +
              std::to_string(optimizer_state_count));
    if (auto err = state_sharing->apply_state(*state))
      return err;
    {
      std::lock_guard<std::mutex> guard{*state_lock};
      if (auto err = set_optimizer_step_counts(*opt, meta->step_counts))
        return err;
      if (!meta->learning_rates.empty())
        if (auto err = set_learning_rates(*opt, meta->learning_rates))
          return err;
    }
    auto g = tracker->global();
    if (meta->epoch < g.epoch)
      log().warn("the state loaded is of epoch {}, the swarm is at {}",
                 meta->epoch, g.epoch);
    local_epoch = std::max<uint64_t>(meta->epoch, g.epoch);
    {
      std::lock_guard<std::mutex> guard{status_lock};
      ++counters.states_loaded;
    }
    log().info("loaded the state of epoch {} from a peer", meta->epoch);
    publish_state_metadata();
    tracker->update_epoch(local_epoch);
    return {};
  }

  void zero_gradients() {
    for (auto& p : optimizer_parameters(*opt))
      if (p.grad().defined())
        p.mutable_grad().zero_();
  }

  collaborative_status status() const {
    collaborative_status s;
    {
      std::lock_guard<std::mutex> guard{status_lock};
      s = counters;
    }
    auto g = tracker->global();
    s.local_epoch = local_epoch;
    s.local_samples = local_samples;
    s.global_epoch = g.epoch;
    s.global_samples = g.samples_accumulated;
    s.swarm_samples_per_second = g.samples_per_second;
    s.peers = g.num_peers;
    return s;
  }
};

caf::expected<std::unique_ptr<collaborative_optimizer>>
collaborative_optimizer::create(swarm_endpoint swarm,
                                std::shared_ptr<torch::optim::Optimizer> opt,
                                collaborative_options options,
                                std::vector<at::Tensor> extra_tensors) {
  if (auto err = validate(options))
    return err;
  if (!swarm.system || !swarm.transport || !swarm.dht || !swarm.me ||
      !swarm.log)
    return make_error(errc::invalid_argument,
                      "a collaborative optimizer needs a node's system, "
                      "transport, DHT, identity and logger");
  if (!opt)
    return make_error(errc::invalid_argument, "no optimizer given");
  auto self = std::make_unique<impl>();
  self->swarm = std::move(swarm);
  self->opt = std::move(opt);
  self->options = std::move(options);
  if (auto err = self->start(std::move(extra_tensors)))
    return err;
  return std::unique_ptr<collaborative_optimizer>(
      new collaborative_optimizer(std::move(self)));
}

collaborative_optimizer::collaborative_optimizer(std::unique_ptr<impl> self)
    : self_(std::move(self)) {}

collaborative_optimizer::~collaborative_optimizer() {
  if (self_)
    self_->wait_for_background();
}

caf::expected<step_report>
collaborative_optimizer::step(std::optional<uint64_t> batch_size) {
  return self_->step(batch_size);
}

void collaborative_optimizer::finish() {
  step_report ignored;
  self_->wait_for_grad_round(ignored);
  self_->finish_state_round();
}

caf::error collaborative_optimizer::load_state_from_peers() {
  return self_->load_state();
}

uint64_t collaborative_optimizer::local_epoch() const {
  return self_->local_epoch;
}

collaborative_status collaborative_optimizer::status() const {
  return self_->status();
}

std::unique_lock<std::mutex> collaborative_optimizer::lock_parameters() {
  return std::unique_lock<std::mutex>{*self_->state_lock};
}

torch::optim::Optimizer& collaborative_optimizer::optimizer() noexcept {
  return *self_->opt;
}

} // namespace colony::optim
