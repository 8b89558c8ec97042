#pragma once

// The averager's message interface (see averager.hpp for the contract).

#include "actors/averaging/averaging_step.hpp"
#include "actors/averaging/state_copy.hpp"
#include "actors/averaging/state_transfer.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>

namespace colony::averaging {

/// (get_state_copy_atom, uint64_t id, part_options) -> state_copy: the
/// averager's metadata and tensors as snapshot `id`, its parts encoded from
/// the tensors in one pass, in its own actor (never during an all-reduce
/// round).
using get_state_copy_atom = caf::atom_constant<caf::atom("st_copy")>;

/// (step_atom, step_request) -> step_result | error.
using step_atom = caf::atom_constant<caf::atom("avg_step")>;
/// (get_group_bits_atom) -> std::string.
using get_group_bits_atom = caf::atom_constant<caf::atom("get_gbits")>;
/// (set_group_bits_atom, std::string) -> unit | error.
using set_group_bits_atom = caf::atom_constant<caf::atom("set_gbits")>;
/// (set_state_metadata_atom, std::string) -> unit: the metadata later state
/// copies carry (e.g. the training step).
using set_state_metadata_atom = caf::atom_constant<caf::atom("st_meta")>;
/// (set_state_priority_atom, double) -> unit: the priority later state
/// copies carry.
using set_state_priority_atom = caf::atom_constant<caf::atom("st_prio")>;
/// (get_state_priority_atom) -> double: the priority set last (what the
/// state server declares).
using get_state_priority_atom = caf::atom_constant<caf::atom("st_gprio")>;
/// To an averager: (load_state_atom, caf::timespan timeout) ->
/// downloaded_state | error, hivemind's `load_state_from_peers`; to a state
/// loader (state_loader.hpp): (load_state_atom) -> downloaded_state | error.
using load_state_atom = caf::atom_constant<caf::atom("st_load")>;

} // namespace colony::averaging

// These travel between local actors by reference only: colony owns the
// wire (state_codec.hpp, allreduce_codec.hpp), CAF never serializes a
// tensor.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(colony::averaging::state_copy)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(colony::averaging::part_options)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(colony::averaging::downloaded_state)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(colony::averaging::step_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(colony::averaging::step_result)
