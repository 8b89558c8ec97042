#pragma once

#include "actors/optim/swarm_endpoint.hpp"

namespace colony::trainer {

/// Where a trainer's remote layers and its collaborative optimizer reach
/// the swarm (the node's parts must outlive the trainer).
using swarm_access = optim::swarm_endpoint;

} // namespace colony::trainer
