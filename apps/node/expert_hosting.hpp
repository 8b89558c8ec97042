#pragma once

#include "actors/moe/expert_description.hpp"
#include "apps/node/expert_group_config.hpp"

#include <caf/actor.hpp>
#include <caf/expected.hpp>

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace colony {

class node;

/// The experts a node serves: one device actor per device, one expert actor
/// (with its task pools) per uid, the `experts` catalog service, and a
/// thread that declares the uids in the DHT every update period.
class expert_hosting {
 public:
  /// Builds and serves every group of `n.config().experts`: picks uids
  /// (explicit, or sampled from the pattern skipping uids already in the
  /// DHT), builds each expert and restores its checkpoint, registers it with
  /// the transport, logs one line per expert and declares them. Needs a
  /// joined DHT to sample or declare. Blocking.
  static caf::expected<std::unique_ptr<expert_hosting>> start(node& n);

  /// Stops declaring and saves a last checkpoint of every expert that has
  /// a checkpoint dir.
  ~expert_hosting();

  expert_hosting(const expert_hosting&) = delete;
  expert_hosting& operator=(const expert_hosting&) = delete;

  /// Everything served, as clients see it.
  [[nodiscard]] const std::vector<moe::expert_description>&
  experts() const noexcept {
    return descriptions_;
  }

  /// The expert actors, by uid.
  [[nodiscard]] std::vector<std::pair<std::string, caf::actor>>
  expert_actors() const;

 private:
  explicit expert_hosting(node& n) : node_(n) {}

  caf::error start_group(const expert_group_config& group);
  void declare_loop();
  void declare_once();

  node& node_;
  std::map<std::string, caf::actor> devices_;
  /// Expert actors and the uids and lifetimes of their declarations.
  struct hosted {
    caf::actor actor;
    std::string uid;
    const expert_group_config* group;
  };
  std::vector<hosted> experts_;
  std::vector<moe::expert_description> descriptions_;
  caf::actor catalog_;
  std::thread declarer_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
};

} // namespace colony
