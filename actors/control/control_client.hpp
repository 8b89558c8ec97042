#pragma once

// Blocking calls to the control services of other nodes (the
// fault-injection harness, tests, scripts). The calling node's peer id must
// be in each target's `node.control_peers`.

#include "actors/control/control_request.hpp"
#include "actors/control/node_status.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/scoped_actor.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace colony::control {

class control_client {
 public:
  control_client(caf::actor_system& system, caf::actor transport);

  /// One request to the node at `address`; its status as the reply.
  caf::expected<node_status> call(const std::string& address,
                                  const control_request& request,
                                  std::chrono::milliseconds timeout);

  caf::expected<node_status> status(const std::string& address,
                                    std::chrono::milliseconds timeout);

  /// The statuses of many nodes, asked all at once: a frozen or dead node
  /// costs one timeout, not one per node.
  std::vector<caf::expected<node_status>>
  status_all(const std::vector<std::string>& addresses,
             std::chrono::milliseconds timeout);

 private:
  caf::scoped_actor self_;
  caf::actor transport_;
};

} // namespace colony::control
