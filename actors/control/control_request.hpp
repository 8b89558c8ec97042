#pragma once

#include "actors/moe/server/expert_poison.hpp"
#include "runtime/transport/fault_settings.hpp"

#include <string>
#include <vector>

namespace colony::control {

/// One call to a node's control service (messages/control.capnp).
struct control_request {
  enum class kind_type { status, set_faults, poison };
  kind_type kind = kind_type::status;
  /// set_faults: the node's new fault settings (replacing the old ones).
  fault_settings faults;
  /// poison: the mode, and the experts it applies to (empty: all).
  moe::poison_mode poison = moe::poison_mode::off;
  std::vector<std::string> uids;
};

} // namespace colony::control
