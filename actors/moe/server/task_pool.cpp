#include "actors/moe/server/task_pool.hpp"

#include "actors/moe/server/detail/batch_queue.hpp"
#include "messages/error.hpp"

#include <caf/all.hpp>

#include <atomic>
#include <functional>
#include <optional>
#include <unordered_map>
#include <utility>

namespace colony::moe {

namespace {

using clock_type = batch_queue::clock;

/// A request waiting for its batch.
struct waiting_request {
  std::vector<at::Tensor> inputs;
  gpu::request_completion done;
};

/// Makes `done` safe to call more than once (the device and, if the device
/// dies, the pool may both try): only the first call counts.
gpu::request_completion once(gpu::request_completion done) {
  auto fired = std::make_shared<std::atomic<bool>>(false);
  return [fired, done = std::move(done)](
             caf::expected<std::vector<at::Tensor>>&& outcome) {
    if (!fired->exchange(true))
      done(std::move(outcome));
  };
}

class pool_impl;

struct pool_state {
  std::shared_ptr<pool_impl> impl; ///< logic; the handlers call into it
  task_pool_options options;
  std::shared_ptr<const batch_function> compute;
  caf::actor device;
  /// Why the pool cannot serve (the device stopped); empty while it can.
  caf::error broken;
  std::optional<batch_queue> queue;
  std::unordered_map<uint64_t, waiting_request> waiting;
  /// Callers of the batches the device has, by batch id (the device
  /// answers them; the pool does if the device dies first).
  std::unordered_map<uint64_t, std::vector<gpu::request_completion>> in_flight;
  uint64_t next_request = 1;
  uint64_t next_batch = 1;
  /// The device holds a turn of this pool (it will take a batch).
  bool announced = false;
  /// The device was idle when it answered our last batch: the next
  /// announcement carries its batch (see gpu/device.hpp).
  bool credit = false;
  /// When the pending pool_timeout_atom fires, if one is pending.
  std::optional<clock_type::time_point> timer_due;
  task_pool_stats stats;

  pool_state() = default;
  pool_state(const pool_state&) = delete;
  pool_state& operator=(const pool_state&) = delete;

  /// Answers every request still pending with `err`.
  void fail_all(const caf::error& err) {
    for (auto& [id, req] : waiting) {
      req.done(err);
      ++stats.failed;
    }
    waiting.clear();
    if (queue)
      (void)queue->take_all();
    for (auto& [id, completions] : in_flight)
      for (auto& done : completions) {
        done(err);
        ++stats.failed;
      }
    in_flight.clear();
  }

  /// The pool stops: nobody is left without an answer.
  ~pool_state() {
    fail_all(make_error(errc::disconnected,
                        "task pool " + options.name + " stopped"));
  }

  static inline const char* name = "colony.task_pool";
};

using pool_actor = caf::stateful_actor<pool_state>;

class pool_impl {
 public:
  explicit pool_impl(pool_actor* self) : self_(self) {}

  pool_state& st() { return self_->state; }

  caf::behavior make_behavior() {
    self_->set_down_handler([this](caf::down_msg& msg) {
      if (msg.source != st().device.address())
        return;
      st().broken = make_error(errc::disconnected,
                               st().options.name + ": device stopped (" +
                                   caf::to_string(msg.reason) + ")");
      st().fail_all(st().broken);
      st().device = nullptr;
      st().announced = false;
    });
    return {
        [this](submit_atom, std::vector<at::Tensor>& inputs)
            -> caf::result<std::vector<at::Tensor>> {
          auto rp = self_->make_response_promise();
          submit(std::move(inputs),
                 [rp](caf::expected<std::vector<at::Tensor>>&& outcome) {
                   if (outcome)
                     gpu::reply_from_any_thread(
                         rp, caf::make_message(std::move(*outcome)));
                   else
                     gpu::reply_from_any_thread(
                         rp, caf::make_message(std::move(outcome.error())));
                 });
          return rp;
        },
        [this](submit_atom, std::vector<at::Tensor>& inputs,
               gpu::request_completion& done) {
          submit(std::move(inputs), std::move(done));
        },
        [this](submit_atom, std::vector<at::Tensor>& inputs,
               gpu::request_completion& done, const std::string& peer) {
          submit(std::move(inputs), std::move(done),
                 std::hash<std::string>{}(peer));
        },
        [this](gpu::take_batch_atom) {
          st().credit = false; // the device is busy with us
          return form_batch(clock_type::now());
        },
        [this](gpu::batch_done_atom, uint64_t id, bool failed,
               bool device_idle) {
          st().credit = device_idle;
          auto i = st().in_flight.find(id);
          if (i == st().in_flight.end())
            return;
          if (failed)
            st().stats.failed += i->second.size();
          st().in_flight.erase(i);
        },
        [this](pool_timeout_atom) {
          auto now = clock_type::now();
          if (st().timer_due && now >= *st().timer_due)
            st().timer_due.reset();
          announce_if_ready(now);
        },
        [this](stats_atom) { return st().stats; },
    };
  }

 private:
  /// Queues a request of `peer` whose outcome goes to `done`, or fails it
  /// at once.
  void submit(std::vector<at::Tensor> inputs, gpu::request_completion done,
              uint64_t peer = 0) {
    ++st().stats.requests;
    done = once(std::move(done));
    auto rows = check(inputs);
    if (!rows) {
      ++st().stats.failed;
      done(std::move(rows.error()));
      return;
    }
    auto now = clock_type::now();
    auto id = st().next_request++;
    (void)st().queue->push(id, *rows, now, peer); // check() ensured it fits
    st().waiting.emplace(id,
                         waiting_request{std::move(inputs), std::move(done)});
    announce_if_ready(now);
  }

  /// Rows of a request, or why it cannot be served.
  caf::expected<size_t> check(const std::vector<at::Tensor>& inputs) {
    auto& name = st().options.name;
    if (st().broken)
      return st().broken;
    if (inputs.empty())
      return make_error(errc::invalid_argument, name + ": a request without "
                                                       "inputs");
    for (auto& t : inputs)
      if (!t.defined() || t.dim() == 0)
        return make_error(errc::bad_shape,
                          name + ": an input without a batch dimension");
    auto rows = inputs.front().size(0);
    for (auto& t : inputs)
      if (t.size(0) != rows)
        return make_error(errc::bad_shape,
                          name + ": inputs differ in their batch dimension (" +
                              std::to_string(rows) + " and " +
                              std::to_string(t.size(0)) + " rows)");
    if (rows == 0)
      return make_error(errc::invalid_argument, name + ": a request of 0 rows");
    auto max = st().queue->max_batch_size();
    if (static_cast<size_t>(rows) > max)
      return make_error(errc::too_large, name + ": a request of " +
                                             std::to_string(rows) +
                                             " rows exceeds max_batch_size " +
                                             std::to_string(max));
    return static_cast<size_t>(rows);
  }

  /// Tells the device once that a batch is ready, or sets the timer for
  /// when the oldest request will have waited long enough.
  void announce_if_ready(clock_type::time_point now) {
    auto& q = *st().queue;
    if (st().announced || q.empty() || !st().device)
      return;
    if (q.ready(now)) {
      auto oldest = q.oldest()->time_since_epoch();
      if (st().credit) {
        st().credit = false;
        auto batch = form_batch(now);
        self_->send(st().device, gpu::work_ready_atom::value,
                    caf::actor_cast<caf::actor>(self_), oldest,
                    std::move(batch));
      } else {
        st().announced = true;
        self_->send(st().device, gpu::work_ready_atom::value,
                    caf::actor_cast<caf::actor>(self_), oldest);
      }
      return;
    }
    arm_timer(*q.deadline(), now);
  }

  /// Makes sure a timer fires at `due` at the latest. One is enough: the
  /// deadline only moves later (it follows the oldest request).
  void arm_timer(clock_type::time_point due, clock_type::time_point now) {
    if (st().timer_due && *st().timer_due <= due)
      return;
    st().timer_due = due;
    self_->delayed_send(self_, due - now, pool_timeout_atom::value);
  }

  /// Forms a batch now: requests round-robin over peers, each peer's oldest
  /// first, up to max_batch_size rows.
  /// Afterwards the pool's turn stays open only if it is still ready.
  gpu::device_batch form_batch(clock_type::time_point now) {
    gpu::device_batch batch;
    batch.id = st().next_batch++;
    batch.pool_name = st().options.name;
    batch.compute = st().compute;
    auto& q = *st().queue;
    auto taken = q.take_batch();
    if (!taken.empty()) {
      batch.requests.reserve(taken.size());
      batch.rows.reserve(taken.size());
      batch.completions.reserve(taken.size());
      for (auto& e : taken) {
        auto i = st().waiting.find(e.id);
        batch.requests.push_back(std::move(i->second.inputs));
        batch.rows.push_back(e.rows);
        batch.completions.push_back(std::move(i->second.done));
        st().waiting.erase(i);
        st().stats.rows += e.rows;
      }
      ++st().stats.batches;
      st().in_flight.emplace(batch.id, batch.completions);
    }
    st().announced = q.ready(now);
    if (st().announced)
      batch.still_ready = q.oldest()->time_since_epoch();
    else if (!q.empty())
      arm_timer(*q.deadline(), now);
    return batch;
  }

  pool_actor* self_;
};

caf::behavior pool_main(pool_actor* self, task_pool_options options,
                        batch_function compute, caf::actor device) {
  auto& st = self->state;
  st.queue.emplace(options.min_batch_size, options.max_batch_size,
                   options.batch_timeout);
  st.options = std::move(options);
  st.compute = std::make_shared<const batch_function>(std::move(compute));
  st.device = std::move(device);
  if (st.device)
    self->monitor(st.device);
  else
    st.broken =
        make_error(errc::invalid_argument, st.options.name + ": no device");
  st.impl = std::make_shared<pool_impl>(self);
  return st.impl->make_behavior();
}

} // namespace

caf::actor spawn_task_pool(caf::actor_system& system, task_pool_options options,
                           batch_function compute, caf::actor device) {
  return system.spawn(pool_main, std::move(options), std::move(compute),
                      std::move(device));
}

} // namespace colony::moe
