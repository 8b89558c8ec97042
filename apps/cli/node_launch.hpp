#pragma once

#include "apps/node/node.hpp"

#include <string>
#include <vector>

namespace colony::apps {

// Steps every node-running command (`colony run`, `colony dht`, ...) shares.
// Each returns a process exit status: 0 to go on.

/// Joins the DHT through the initial peers if the node hosts one, else
/// greets them with a ping.
int join_swarm(node& n);

/// Prints `listening on ADDR` and writes ADDR to `address_file` (if named)
/// atomically, so a reader never sees half of it.
int announce_address(const node& n, const std::string& address_file);

/// Joins the swarm, starts the node's experts, announces the address, then
/// serves until SIGINT or SIGTERM. Shutdown signals must be blocked
/// (`block_shutdown_signals`) before the node started.
int serve_until_signal(node& n, const std::string& address_file);

} // namespace colony::apps
