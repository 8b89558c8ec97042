#pragma once

#include <ATen/core/Tensor.h>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/expected.hpp>
#include <caf/message.hpp>
#include <caf/response_promise.hpp>
#include <caf/timespan.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace spdlog {
class logger;
}

namespace colony::gpu {

/// Computes one batch on the device thread: each input is the concatenation
/// (dim 0) of the requests' tensors; returns outputs whose dim 0 is the
/// batch's total rows. May throw (std::exception, c10::Error): the batch
/// fails. The same type as `moe::batch_function`.
using batch_function =
    std::function<std::vector<at::Tensor>(const std::vector<at::Tensor>&)>;

/// A one-off task run on the device thread in priority order (e.g. saving a
/// checkpoint). May throw: the caller gets the exception text.
using device_task = std::function<void()>;

/// Where one request's outcome goes: its outputs (views into the batch's
/// outputs) or the batch's error. The device calls it once, on its own
/// thread, as soon as the batch ran, so a reply leaves from there instead
/// of hopping back through the pool and the expert (each hop a thread
/// wake-up). It must be callable from any thread: answer callers with
/// `reply_from_any_thread`, not `response_promise::deliver`.
using request_completion =
    std::function<void(caf::expected<std::vector<at::Tensor>>&&)>;

/// Answers the request behind `promise` with `reply` from any thread.
/// (`response_promise::deliver` uses its actor's execution context, which
/// belongs to the thread running that actor.)
void reply_from_any_thread(const caf::response_promise& promise,
                           caf::message reply);

/// A batch a task pool hands to the device: the inputs of its requests, not
/// yet concatenated (concatenating is compute, done on the device thread).
struct device_batch {
  /// The pool's id of the batch; echoed in `batch_done_atom`.
  uint64_t id = 0;
  /// The pool's name, for logs and errors.
  std::string pool_name;
  /// What to run; shared by every batch of the pool.
  std::shared_ptr<const batch_function> compute;
  /// Each request's inputs, oldest request first. Every request has the
  /// same number of inputs; the tensors of request i have `rows[i]` rows.
  std::vector<std::vector<at::Tensor>> requests;
  /// Rows of each request.
  std::vector<size_t> rows;
  /// Where each request's outcome goes (one per request).
  std::vector<request_completion> completions;
  /// Set if the pool still has a ready batch after this one: the enqueue
  /// time of its oldest request (steady clock, since its epoch). The device
  /// then keeps the pool in its queue; otherwise the pool announces itself
  /// again with `work_ready_atom` when it is ready.
  std::optional<caf::timespan> still_ready;
};

// The device actor's message interface. The pool <-> device protocol is a
// pull: a pool with a ready batch announces itself once; the device keeps
// the announced pools ordered by their oldest request and, when it is free,
// takes the oldest pool's batch, formed at that moment, so requests keep
// joining while the device is busy. Shortcut: when the device answers a
// batch with nothing else queued it grants the pool a credit (`device_idle`);
// the pool's next announcement then carries its batch, which an idle device
// runs at once (no take round trip). A device that became busy meanwhile
// keeps such a batch in its queue in oldest-first order.

/// (run_task_atom, device_task) -> unit (an empty reply: receive it with
/// `[]() {}`) | error (errc::remote_error with the exception text). Runs in
/// priority order: its arrival time competes with the pools' oldest
/// requests.
using run_task_atom = caf::atom_constant<caf::atom("dev_task")>;
/// Pool -> device: (work_ready_atom, caf::actor pool, caf::timespan oldest)
/// announces a ready batch whose oldest request was enqueued at `oldest`
/// (steady clock, since its epoch). The device then holds the pool's turn
/// until it takes a batch without `still_ready`; the pool does not announce
/// again meanwhile.
/// (work_ready_atom, caf::actor pool, caf::timespan oldest, device_batch)
/// is an announcement with the batch itself (the pool had a credit); its
/// `still_ready` opens a turn as above.
using work_ready_atom = caf::atom_constant<caf::atom("dev_ready")>;
/// Device -> pool: (take_batch_atom) -> device_batch. The pool forms the
/// batch now (up to max_batch_size rows, oldest requests first); it may be
/// empty.
using take_batch_atom = caf::atom_constant<caf::atom("dev_take")>;
/// Device -> pool: (batch_done_atom, uint64 id, bool failed, bool
/// device_idle) after the device called every completion of the batch
/// (with outputs, or with the error if `failed`); the pool forgets it.
/// `device_idle` grants the credit described above.
using batch_done_atom = caf::atom_constant<caf::atom("dev_done")>;
/// Internal: the device looks for its next job.
using dispatch_atom = caf::atom_constant<caf::atom("dev_next")>;

/// Spawns the device actor for `device_name`: "cpu" or "cuda:N" (CUDA only
/// if LibTorch was built with it; Debian's is CPU only). The actor is
/// detached (a thread of its own) because compute blocks; it runs one batch
/// or task at a time, always the one whose oldest request is oldest across
/// every pool, so no pool starves. An exception inside a batch fails exactly
/// that batch; the device keeps serving. No other actor computes.
///
/// Errors: errc::invalid_argument for an unknown name, for CUDA without
/// CUDA support ("LibTorch was built without CUDA") and for a CUDA index
/// beyond the devices present.
caf::expected<caf::actor> spawn_device(caf::actor_system& system,
                                       const std::string& device_name,
                                       std::shared_ptr<spdlog::logger> log);

} // namespace colony::gpu

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(colony::gpu::device_task)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(colony::gpu::device_batch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(colony::gpu::request_completion)
