#pragma once

#include "messages/envelope.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/scoped_actor.hpp>

#include <chrono>
#include <cstdint>
#include <string>

namespace colony {

/// What one ping measured.
struct ping_result {
  double rtt_ms = 0;
  std::string peer_id;
  uint64_t received_bytes = 0;
};

/// Builds a PingRequest carrying `payload_bytes` bytes (not echoed back).
envelope make_ping_request(size_t payload_bytes, bool echo = false);

/// Pings through one transport from one blocking actor, reused across
/// calls. Blocking: for CLIs, tests, benchmarks and detached actors only.
class ping_client {
 public:
  ping_client(caf::actor_system& system, caf::actor transport);

  /// Calls the `ping` service at `address` with `request` and waits.
  caf::expected<ping_result> ping(const std::string& address,
                                  const envelope& request,
                                  std::chrono::milliseconds timeout,
                                  const std::string& service = "ping");

 private:
  caf::scoped_actor self_;
  caf::actor transport_;
};

/// Calls the `ping` service at `address` through `transport` and waits for
/// the answer. Blocking: for CLIs, tests and detached actors only.
caf::expected<ping_result> ping_once(caf::actor_system& system,
                                     const caf::actor& transport,
                                     const std::string& address,
                                     size_t payload_bytes,
                                     std::chrono::milliseconds timeout);

/// Same with a prebuilt request (its timestamp is not refreshed).
caf::expected<ping_result> ping_once(caf::actor_system& system,
                                     const caf::actor& transport,
                                     const std::string& address,
                                     const envelope& request,
                                     std::chrono::milliseconds timeout);

} // namespace colony
