#include "gpu/device.hpp"

#include "messages/error.hpp"

#include <ATen/Context.h>
#include <ATen/ops/cat.h>
#include <c10/core/DeviceGuard.h>
#include <c10/util/Exception.h>

#include <caf/all.hpp>

#include <spdlog/spdlog.h>

#include <charconv>
#include <chrono>
#include <map>
#include <optional>
#include <utility>

namespace colony::gpu {

namespace {

using clock_type = std::chrono::steady_clock;

/// Place of a job in the device's queue: (enqueue time of its oldest
/// request, arrival number). Earliest first; arrival breaks ties.
using job_key = std::pair<caf::timespan, uint64_t>;

/// A pool's turn to hand over a batch, a batch a pool sent along with its
/// announcement, or a one-off task.
struct job {
  caf::actor pool;                  ///< set for a pool's turn or batch
  std::optional<device_batch> held; ///< the batch, if the pool sent it
  device_task task;                 ///< set for a task
  caf::response_promise promise;    ///< the task's caller
};

/// The text of the exception being handled (no backtrace for c10 errors).
std::string current_exception_text() {
  try {
    throw;
  } catch (const c10::Error& e) {
    return e.what_without_backtrace();
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

class device_impl;

struct device_state {
  std::shared_ptr<device_impl> impl; ///< logic; the handlers call into it
  std::string device_name;
  std::optional<c10::Device> cuda; ///< set for a CUDA device
  std::shared_ptr<spdlog::logger> log;
  /// Ready jobs, oldest first. A pool has at most one turn.
  std::map<job_key, job> queue;
  /// Pools with a turn in `queue`, and its key.
  std::map<caf::actor_addr, job_key> queued_pools;
  /// Pools monitored (they announced work at least once).
  std::map<caf::actor_addr, caf::actor> pools;
  uint64_t next_seq = 0;
  /// Waiting for a pool's batch (a take request is out).
  bool busy = false;
  /// A dispatch_atom to self is in the mailbox.
  bool dispatch_pending = false;

  device_state() = default;
  device_state(const device_state&) = delete;
  device_state& operator=(const device_state&) = delete;

  /// Answers the tasks still queued: the device stops.
  ~device_state() {
    for (auto& [key, j] : queue)
      if (j.task)
        j.promise.deliver(make_error(errc::disconnected,
                                     "device " + device_name + " stopped"));
  }

  static inline const char* name = "colony.device";
};

using device_actor = caf::stateful_actor<device_state>;

class device_impl {
 public:
  explicit device_impl(device_actor* self) : self_(self) {}

  device_state& st() { return self_->state; }
  spdlog::logger& log() { return *st().log; }

  caf::behavior make_behavior() {
    self_->set_down_handler([this](caf::down_msg& msg) { pool_down(msg); });
    return {
        [this](work_ready_atom, caf::actor& pool, caf::timespan oldest) {
          if (!pool)
            return;
          watch(pool);
          enqueue_turn(std::move(pool), oldest);
          if (!st().dispatch_pending) // else older work may be queued behind
            dispatch();
        },
        [this](work_ready_atom, caf::actor& pool, caf::timespan oldest,
               device_batch& batch) {
          if (!pool)
            return;
          watch(pool);
          if (batch.still_ready)
            enqueue_turn(pool, *batch.still_ready);
          // An idle device runs it at once (it is the oldest job then).
          st().queue.emplace(job_key{oldest, st().next_seq++},
                             job{std::move(pool), std::move(batch), {}, {}});
          if (!st().dispatch_pending)
            dispatch();
        },
        [this](run_task_atom, device_task& task) {
          auto rp = self_->make_response_promise();
          if (!task) {
            rp.deliver(make_error(errc::invalid_argument, "empty task"));
            return rp;
          }
          auto now = clock_type::now().time_since_epoch();
          st().queue.emplace(job_key{now, st().next_seq++},
                             job{nullptr, std::nullopt, std::move(task), rp});
          if (!st().dispatch_pending)
            dispatch();
          return rp;
        },
        [this](dispatch_atom) {
          st().dispatch_pending = false;
          dispatch();
        },
    };
  }

 private:
  /// Monitors `pool` once, so a pool that dies leaves the queue.
  void watch(const caf::actor& pool) {
    auto [it, added] = st().pools.emplace(pool.address(), pool);
    if (added)
      self_->monitor(pool);
  }

  void enqueue_turn(caf::actor pool, caf::timespan oldest) {
    auto addr = pool.address();
    if (st().queued_pools.count(addr) != 0)
      return; // already has its turn (the earlier one)
    job_key key{oldest, st().next_seq++};
    st().queue.emplace(key, job{std::move(pool), std::nullopt, {}, {}});
    st().queued_pools.emplace(std::move(addr), key);
  }

  /// Forgets a dead pool's turn and batches; its callers hear from the pool.
  void pool_down(const caf::down_msg& msg) {
    st().queued_pools.erase(msg.source);
    for (auto i = st().queue.begin(); i != st().queue.end();) {
      if (i->second.pool && i->second.pool.address() == msg.source)
        i = st().queue.erase(i);
      else
        ++i;
    }
    st().pools.erase(msg.source);
  }

  /// Lets the messages that arrived meanwhile (older work) in first.
  void schedule_dispatch() {
    if (st().dispatch_pending)
      return;
    st().dispatch_pending = true;
    self_->send(self_, dispatch_atom::value);
  }

  /// Starts the oldest job unless a batch is being taken.
  void dispatch() {
    if (st().busy || st().queue.empty())
      return;
    auto node = st().queue.extract(st().queue.begin());
    auto& j = node.mapped();
    if (j.task) {
      run_task(j);
      schedule_dispatch();
      return;
    }
    if (j.held) {
      run_batch(j.pool, *j.held);
      schedule_dispatch();
      return;
    }
    st().queued_pools.erase(j.pool.address());
    st().busy = true;
    auto pool = j.pool;
    self_->request(pool, caf::infinite, take_batch_atom::value)
        .then(
            [this, pool](device_batch& batch) {
              st().busy = false;
              if (batch.still_ready)
                enqueue_turn(pool, *batch.still_ready);
              if (batch.requests.empty()) {
                dispatch();
                return;
              }
              run_batch(pool, batch);
              schedule_dispatch();
            },
            [this](caf::error& err) {
              // The pool died; its callers hear from it or from CAF.
              st().busy = false;
              log().debug("device {}: taking a batch failed: {}",
                          st().device_name, describe(err));
              dispatch();
            });
  }

  void run_task(job& j) {
    try {
      std::optional<c10::DeviceGuard> guard;
      if (st().cuda)
        guard.emplace(*st().cuda);
      j.task();
      j.promise.deliver(caf::unit);
    } catch (...) {
      auto text = current_exception_text();
      log().warn("device {}: task failed: {}", st().device_name, text);
      j.promise.deliver(make_error(errc::remote_error, std::move(text)));
    }
  }

  /// Runs one batch and sends its outcome to `pool`.
  void run_batch(const caf::actor& pool, device_batch& batch) {
    size_t total = 0;
    for (auto n : batch.rows)
      total += n;
    auto fail = [&](errc code, const std::string& text) {
      log().warn("{}: batch of {} requests ({} rows) failed: {}",
                 batch.pool_name, batch.rows.size(), total, text);
      auto err = make_error(code, batch.pool_name + ": " + text);
      for (auto& done : batch.completions)
        done(err);
      self_->send(pool, batch_done_atom::value, batch.id, true, idle());
    };
    if (!batch.compute || batch.rows.size() != batch.requests.size() ||
        batch.completions.size() != batch.requests.size()) {
      fail(errc::invalid_argument, "malformed batch");
      return;
    }
    std::vector<std::vector<at::Tensor>> per_request;
    try {
      std::optional<c10::DeviceGuard> guard;
      if (st().cuda)
        guard.emplace(*st().cuda);
      auto count = batch.requests.size();
      std::vector<at::Tensor> inputs;
      if (count == 1) {
        inputs = std::move(batch.requests.front());
      } else {
        auto arity = batch.requests.front().size();
        for (auto& r : batch.requests)
          if (r.size() != arity) {
            fail(errc::bad_shape, "requests of one batch differ in their "
                                  "number of inputs");
            return;
          }
        inputs.reserve(arity);
        std::vector<at::Tensor> parts(count);
        for (size_t i = 0; i < arity; ++i) {
          for (size_t r = 0; r < count; ++r)
            parts[r] = std::move(batch.requests[r][i]);
          inputs.push_back(at::cat(parts, 0));
        }
      }
      batch.requests.clear(); // the inputs live on in `inputs` only
      auto outputs = (*batch.compute)(inputs);
      inputs.clear();
      for (auto& o : outputs) {
        if (!o.defined() || o.dim() == 0) {
          fail(errc::bad_shape, "expert returned an output without a batch "
                                "dimension");
          return;
        }
        if (static_cast<size_t>(o.size(0)) != total) {
          fail(errc::bad_shape, "expert returned " + std::to_string(o.size(0)) +
                                    " rows for a batch of " +
                                    std::to_string(total));
          return;
        }
      }
      if (count == 1) {
        per_request.push_back(std::move(outputs));
      } else {
        per_request.resize(count);
        int64_t at_row = 0;
        for (size_t r = 0; r < count; ++r) {
          auto rows = static_cast<int64_t>(batch.rows[r]);
          auto& mine = per_request[r];
          mine.reserve(outputs.size());
          for (auto& o : outputs)
            mine.push_back(o.narrow(0, at_row, rows));
          at_row += rows;
        }
      }
    } catch (...) {
      fail(errc::remote_error, current_exception_text());
      return;
    }
    // Replies first: they leave from this thread (see request_completion).
    for (size_t r = 0; r < per_request.size(); ++r)
      batch.completions[r](std::move(per_request[r]));
    self_->send(pool, batch_done_atom::value, batch.id, false, idle());
  }

  /// True if nothing waits for the device: the pool that gets this batch's
  /// outputs may send its next batch along with its announcement.
  bool idle() { return st().queue.empty() && self_->mailbox().empty(); }

  device_actor* self_;
};

struct device_init {
  std::string device_name;
  std::optional<c10::Device> cuda;
  std::shared_ptr<spdlog::logger> log;
};

caf::behavior device_main(device_actor* self, device_init init) {
  auto& st = self->state;
  st.device_name = std::move(init.device_name);
  st.cuda = init.cuda;
  st.log = std::move(init.log);
  st.impl = std::make_shared<device_impl>(self);
  st.log->debug("device {} up", st.device_name);
  return st.impl->make_behavior();
}

/// Parses "cuda:N" into N; none if `name` is not of that form.
std::optional<int> parse_cuda_index(const std::string& name) {
  constexpr std::string_view prefix = "cuda:";
  if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix))
    return std::nullopt;
  int index = -1;
  auto first = name.data() + prefix.size();
  auto last = name.data() + name.size();
  auto [ptr, ec] = std::from_chars(first, last, index);
  if (ec != std::errc{} || ptr != last || index < 0)
    return std::nullopt;
  return index;
}

} // namespace

caf::expected<caf::actor> spawn_device(caf::actor_system& system,
                                       const std::string& device_name,
                                       std::shared_ptr<spdlog::logger> log) {
  device_init init{device_name, std::nullopt, std::move(log)};
  if (!init.log)
    init.log = spdlog::default_logger();
  if (device_name != "cpu") {
    auto index = parse_cuda_index(device_name);
    if (!index)
      return make_error(errc::invalid_argument,
                        "unknown device '" + device_name +
                            "': expected \"cpu\" or \"cuda:N\"");
    if (!at::hasCUDA())
      return make_error(errc::invalid_argument,
                        "device " + device_name +
                            ": LibTorch was built without CUDA");
    auto gpus = at::detail::getCUDAHooks().getNumGPUs();
    if (*index >= gpus)
      return make_error(errc::invalid_argument,
                        "device " + device_name + ": only " +
                            std::to_string(gpus) + " CUDA devices present");
    init.cuda = c10::Device(c10::DeviceType::CUDA,
                            static_cast<c10::DeviceIndex>(*index));
  }
  return system.spawn<caf::detached>(device_main, std::move(init));
}

void reply_from_any_thread(const caf::response_promise& promise,
                           caf::message reply) {
  // colony's promises answer plain requests: no forwarding stages.
  const auto& source = promise.source();
  if (!source || !promise.stages().empty())
    return;
  // No execution context: the receiver is scheduled through the global
  // queue, which any thread may use.
  source->enqueue(caf::make_mailbox_element(nullptr, promise.id().response_id(),
                                            {}, std::move(reply)),
                  nullptr);
}

} // namespace colony::gpu
