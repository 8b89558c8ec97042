#pragma once

#include <caf/event_based_actor.hpp>

#include <string>

#include "messages/envelope.hpp"

#include <caf/expected.hpp>

namespace colony {

/// Answers one ping: pure logic shared by the transport, which serves `ping`
/// itself (no actor hop, so a ping measures the wire alone), and by
/// `ping_service`, which serves the same protocol as an ordinary actor under
/// the name `echo`.
caf::expected<envelope> answer_ping(const envelope& request,
                                    const std::string& peer_id);

/// The built-in `ping` service every node hosts: answers a PingRequest
/// (messages/ping.capnp) with the caller's timestamp, this node's peer id,
/// the number of payload bytes received and, if asked, the payload itself.
caf::behavior ping_service(caf::event_based_actor* self, std::string peer_id);

} // namespace colony
