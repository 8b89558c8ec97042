#pragma once

#include <ATen/core/Tensor.h>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>

#include <vector>

namespace colony::moe {

// The task pool's message interface (see task_pool.hpp for the contract).

/// (submit_atom, std::vector<at::Tensor> inputs) -> std::vector<at::Tensor>
/// outputs | caf::error.
using submit_atom = caf::atom_constant<caf::atom("moe_submit")>;
/// (stats_atom) -> task_pool_stats.
using stats_atom = caf::atom_constant<caf::atom("moe_stats")>;

// Internal to the task pool.

/// The pool's single timer: its oldest request may have waited long enough.
using pool_timeout_atom = caf::atom_constant<caf::atom("pool_tout")>;

} // namespace colony::moe

// Tensors travel between local actors by reference only: colony owns the
// wire (messages/tensor_codec.hpp), CAF never serializes a tensor.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<at::Tensor>)
