#pragma once

// The averager's message interface (see averager.hpp for the contract).

#include "actors/averaging/state_copy.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>

namespace colony::averaging {

/// (get_state_copy_atom) -> state_copy: a copy of the averager's metadata
/// and tensors, taken in its own actor (never during an all-reduce round).
using get_state_copy_atom = caf::atom_constant<caf::atom("st_copy")>;

} // namespace colony::averaging

// A state copy travels between local actors by reference only: colony owns
// the wire (state_codec.hpp), CAF never serializes a tensor.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(colony::averaging::state_copy)
