#pragma once

#include "apps/node/node_config.hpp"
#include "runtime/identity.hpp"
#include "runtime/transport/transport.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/expected.hpp>

#include <memory>
#include <string>

namespace spdlog {
class logger;
}

namespace colony {

class averager_hosting;
class expert_hosting;
namespace trainer {
class auxiliary_peer;
}

/// A running node: one CAF actor system with the io middleman, the node's
/// identity, logger and transport, plus the actors its config asks for.
/// Destroying it stops every actor and waits for them.
class node {
 public:
  /// Starts a node from `config`. Errors: identity file, listen address.
  static caf::expected<std::unique_ptr<node>> start(const node_config& config);

  ~node();

  node(const node&) = delete;
  node& operator=(const node&) = delete;

  [[nodiscard]] caf::actor_system& system() noexcept { return *system_; }
  [[nodiscard]] const caf::actor& transport() const noexcept {
    return transport_.actor;
  }
  /// "HOST:PORT" the node accepts connections on (empty in client mode).
  [[nodiscard]] const std::string& address() const noexcept {
    return transport_.address;
  }
  [[nodiscard]] const identity& me() const noexcept { return *me_; }
  [[nodiscard]] const std::shared_ptr<const identity>&
  shared_me() const noexcept {
    return me_;
  }
  [[nodiscard]] spdlog::logger& log() const noexcept { return *log_; }
  [[nodiscard]] const std::shared_ptr<spdlog::logger>&
  shared_log() const noexcept {
    return log_;
  }
  [[nodiscard]] const node_config& config() const noexcept { return config_; }

  /// The node's DHT actor (null unless `[dht] enabled`).
  [[nodiscard]] const caf::actor& dht() const noexcept { return dht_; }

  /// The node's control service (null unless `[node] control_peers` lists
  /// someone); see actors/control/control_service.hpp.
  [[nodiscard]] const caf::actor& control() const noexcept { return control_; }

  /// Bootstraps the DHT through the initial peers; returns the routing
  /// table size. Blocking.
  caf::expected<size_t> join_dht();

  /// Starts serving the experts of the config's `[[experts]]` groups
  /// (after `join_dht`, so that uids can be sampled and declared). Blocking.
  caf::error host_experts();

  /// The experts this node serves (null before `host_experts`).
  [[nodiscard]] const expert_hosting* experts() const noexcept {
    return experts_.get();
  }

  /// Starts the averagers of the config's `[[averagers]]` tables (after
  /// `join_dht`). Blocking.
  caf::error host_averagers();

  /// The averagers this node hosts (null before `host_averagers`).
  [[nodiscard]] const averager_hosting* averagers() const noexcept {
    return averagers_.get();
  }

  /// Starts the auxiliary peer of the config's collaborative run if its
  /// [trainer] is `collaborative` and `auxiliary` (after `join_dht`);
  /// otherwise does nothing. Blocking.
  caf::error host_auxiliary_peer();

  /// The auxiliary peer this node runs (null before
  /// `host_auxiliary_peer`, or without one).
  [[nodiscard]] const trainer::auxiliary_peer* auxiliary_peer() const noexcept {
    return auxiliary_.get();
  }

  /// Pings every initial peer once and logs who answered. Returns how many.
  size_t greet_initial_peers();

 private:
  node() = default;

  node_config config_;
  std::unique_ptr<caf::actor_system_config> system_config_;
  std::unique_ptr<caf::actor_system> system_;
  std::shared_ptr<const identity> me_;
  std::shared_ptr<spdlog::logger> log_;
  transport_handle transport_;
  caf::actor dht_;
  caf::actor control_;
  std::unique_ptr<expert_hosting> experts_;
  std::unique_ptr<averager_hosting> averagers_;
  std::unique_ptr<trainer::auxiliary_peer> auxiliary_;
};

/// The actor system settings every colony process uses (io middleman, few
/// scheduler threads, no CAF console log).
std::unique_ptr<caf::actor_system_config> make_system_config();

/// Threads of CAF's scheduler: few, so they leave the cores to LibTorch's
/// compute threads (see DESIGN.md, section 6).
constexpr size_t scheduler_threads = 2;

} // namespace colony
