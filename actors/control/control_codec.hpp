#pragma once

// Control requests and node status on the wire (messages/control.capnp).
// Pure: encode, decode and validate, no actors.

#include "actors/control/control_request.hpp"
#include "actors/control/node_status.hpp"
#include "messages/envelope.hpp"

#include <caf/expected.hpp>

namespace colony::control {

/// The service name a node's control service is registered under.
constexpr const char* control_service_name = "control";

[[nodiscard]] envelope encode_control_request(const control_request& request);

/// Errors: errc::malformed (undecodable bytes), errc::invalid_argument (a
/// drop rate outside [0, 1], an unknown poison mode).
[[nodiscard]] caf::expected<control_request>
decode_control_request(const envelope& message);

[[nodiscard]] envelope encode_node_status(const node_status& status);

/// Errors: errc::malformed.
[[nodiscard]] caf::expected<node_status>
decode_node_status(const envelope& message);

} // namespace colony::control
