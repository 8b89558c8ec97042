#pragma once

#include "apps/node/averager_group_config.hpp"

#include <ATen/core/Tensor.h>
#include <caf/actor.hpp>
#include <caf/expected.hpp>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace colony {

class node;

/// The averagers a node hosts from its `[[averagers]]` tables: each with
/// its synthetic tensor set, and, with an `average_period`, an actor that
/// steps it that often and logs each outcome.
class averager_hosting {
 public:
  /// One hosted averager.
  struct hosted {
    std::string prefix;
    caf::actor averager;
    /// The averaged tensors (written in place by the averager, under
    /// `tensors_lock`).
    std::vector<at::Tensor> tensors;
    std::shared_ptr<std::mutex> tensors_lock;
    const averager_group_config* config = nullptr;

    /// The sum of every element (float64), read under `tensors_lock`: a
    /// fingerprint of the set that equal copies share.
    [[nodiscard]] double element_sum() const;
  };

  /// Spawns every averager of `n.config().averagers` on `n`'s transport
  /// and DHT. Needs the node's DHT. Blocking.
  static caf::expected<std::unique_ptr<averager_hosting>> start(node& n);

  /// Stops the stepping actors and the averagers.
  ~averager_hosting();

  averager_hosting(const averager_hosting&) = delete;
  averager_hosting& operator=(const averager_hosting&) = delete;

  [[nodiscard]] const std::vector<hosted>& averagers() const noexcept {
    return hosted_;
  }

 private:
  averager_hosting() = default;

  std::vector<hosted> hosted_;
  std::vector<caf::actor> loops_;
};

/// The synthetic tensor set of `config`: `tensors` float32 tensors holding
/// `floats` elements in all, normal noise from `seed`.
[[nodiscard]] std::vector<at::Tensor>
synthetic_tensors(const averager_group_config& config, uint64_t seed);

} // namespace colony
