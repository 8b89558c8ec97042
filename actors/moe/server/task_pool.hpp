#pragma once

#include "actors/moe/server/moe_atoms.hpp"
#include "gpu/device.hpp"

#include <ATen/core/Tensor.h>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/timespan.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace colony::moe {

/// Computes one batch: each input is the concatenation (dim 0) of the
/// requests' tensors; returns outputs whose dim 0 is the batch's total rows.
/// Runs on the device thread. May throw (std::exception / c10::Error): the
/// batch fails. The same type as `gpu::batch_function`.
using batch_function =
    std::function<std::vector<at::Tensor>(const std::vector<at::Tensor>&)>;

/// Settings of one task pool.
struct task_pool_options {
  /// For logs and errors, e.g. "ffn.0.1/forward".
  std::string name;
  /// Rows to gather before a batch is ready...
  size_t min_batch_size = 1;
  /// Rows per batch at most; a request above it fails at once.
  size_t max_batch_size = 16384;
  /// ...or when the oldest request waited this long.
  caf::timespan batch_timeout = std::chrono::milliseconds(10);
};

/// Counters of a task pool since it started.
struct task_pool_stats {
  size_t requests = 0; ///< submits received (accepted or not)
  size_t batches = 0;  ///< batches handed to the device
  size_t rows = 0;     ///< rows in those batches
  size_t failed = 0;   ///< requests answered with an error
};

/// Spawns a task pool feeding `device` (see gpu/device.hpp). It collects
/// requests into batches of at most `max_batch_size` rows, round-robin over
/// the callers and oldest first per caller, never splitting a request, and
/// announces itself to the device once a batch is ready; the device takes the
/// batch when it is its turn, so requests keep joining while the device is
/// busy. Message interface:
///
/// (submit_atom, std::vector<at::Tensor> inputs) -> std::vector<at::Tensor>
/// outputs | caf::error
///   The inputs share dim 0 (rows >= 1); the caller (the expert actor)
///   checked the shapes beyond that. Outputs are the caller's rows of each
///   batch output (views into it). Errors: errc::too_large at once if rows
///   exceed `max_batch_size`; errc::bad_shape / invalid_argument for inputs
///   without a common dim 0; errc::remote_error with the exception text if
///   the batch function threw; errc::bad_shape if it returned the wrong rows;
///   errc::disconnected if the device or the pool stopped first.
///
/// (submit_atom, std::vector<at::Tensor> inputs, gpu::request_completion)
///   The same request, answered by calling the completion (on the device
///   thread once the batch ran, or at once for the errors above): the
///   expert actor's replies leave from the device this way.
///
/// (submit_atom, std::vector<at::Tensor> inputs, gpu::request_completion,
///  std::string peer)
///   The same, from caller `peer`: batches take requests round-robin over
///   peers (detail/batch_queue.hpp), so one peer's queued requests do not
///   keep another's out of the next batch. Requests without a peer share
///   one FIFO.
///
/// (stats_atom) -> task_pool_stats
///
/// If the device dies, every pending request fails and the pool answers
/// later submits with that error until it is stopped. If the pool stops,
/// its pending requests fail.
caf::actor spawn_task_pool(caf::actor_system& system, task_pool_options options,
                           batch_function compute, caf::actor device);

} // namespace colony::moe

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(colony::moe::task_pool_stats)
