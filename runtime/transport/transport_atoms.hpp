#pragma once

#include <caf/atom.hpp>

namespace colony {

// The transport's message interface (see transport.hpp for the contract).

/// (register_service_atom, name, actor) -> unit. A name ending in '/' is a
/// prefix: "expert/" serves "expert/ffn.0.1".
using register_service_atom = caf::atom_constant<caf::atom("reg_svc")>;
/// Sent by the transport to a service: (serve_atom, service, caller peer id,
/// envelope body) -> envelope | error.
using serve_atom = caf::atom_constant<caf::atom("serve")>;
/// (call_atom, address, service, envelope, timespan timeout) -> envelope.
using call_atom = caf::atom_constant<caf::atom("call")>;
/// (start_call_atom, address, service, envelope, timespan) -> uint64 call id;
/// the outcome arrives later as (call_result_atom, id, envelope) or
/// (call_result_atom, id, error).
using start_call_atom = caf::atom_constant<caf::atom("start_call")>;
using call_result_atom = caf::atom_constant<caf::atom("call_res")>;
/// (cancel_atom, uint64 call id) -> unit; the call fails with `cancelled`.
using cancel_atom = caf::atom_constant<caf::atom("cancel")>;
/// (get_address_atom) -> std::string "HOST:PORT" the node listens on.
using get_address_atom = caf::atom_constant<caf::atom("get_addr")>;
/// (peers_atom) -> std::vector<std::string> ids of connected peers.
using peers_atom = caf::atom_constant<caf::atom("peers")>;
/// (connections_atom) -> size_t open connections (any state).
using connections_atom = caf::atom_constant<caf::atom("conns")>;

/// (set_faults_atom, fault_settings) -> unit: replaces the faults the
/// transport injects into its own traffic (fault_settings.hpp).
using set_faults_atom = caf::atom_constant<caf::atom("set_faults")>;
/// (fault_counters_atom) -> fault_counters.
using fault_counters_atom = caf::atom_constant<caf::atom("fault_cnt")>;

// Internal to the transport.
using connected_atom = caf::atom_constant<caf::atom("connected")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using call_timeout_atom = caf::atom_constant<caf::atom("call_to")>;
using resume_reads_atom = caf::atom_constant<caf::atom("resume_rd")>;
using handshake_timeout_atom = caf::atom_constant<caf::atom("hs_to")>;

} // namespace colony
