#include "apps/node.hpp"

#include "messages/error.hpp"
#include "runtime/compute_threads.hpp"
#include "runtime/logging.hpp"
#include "runtime/ping_client.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <spdlog/spdlog.h>

namespace colony {

caf::expected<std::unique_ptr<node>> node::start(const node_config& config) {
  std::unique_ptr<node> result{new node};
  auto& n = *result;
  n.config_ = config;
  auto level = parse_log_level(config.log_level);
  if (!level)
    return std::move(level.error());
  if (config.identity_path.empty()) {
    auto id = identity::generate();
    if (!id)
      return std::move(id.error());
    n.me_ = std::make_shared<const identity>(std::move(*id));
  } else {
    auto id = identity::load_or_create(config.identity_path);
    if (!id)
      return std::move(id.error());
    n.me_ = std::make_shared<const identity>(std::move(*id));
  }
  n.log_ = make_node_logger(n.me_->peer_id().short_id(), *level);
  auto threads = set_compute_threads(config.compute_threads);
  n.log_->debug("compute threads: {}", threads);
  n.system_config_ = std::make_unique<caf::actor_system_config>();
  n.system_config_->load<caf::io::middleman>();
  n.system_config_->set("scheduler.max-threads", scheduler_threads);
  // colony logs through spdlog; CAF's own console output stays quiet.
  n.system_config_->set("logger.console", caf::atom("none"));
  // CAF's idle workers otherwise poll in 50 us sleeps before they block,
  // adding up to that much latency to every message that wakes them.
  n.system_config_->set("work-stealing.moderate-sleep-duration",
                        caf::timespan{0});
  n.system_ = std::make_unique<caf::actor_system>(*n.system_config_);
  transport_config tcfg;
  tcfg.options = config.transport;
  tcfg.listen = config.client_mode ? std::string{} : config.listen;
  tcfg.swarm_id = config.swarm_id;
  tcfg.me = n.me_;
  tcfg.log = n.log_;
  auto tr = spawn_transport(*n.system_, std::move(tcfg));
  if (!tr)
    return std::move(tr.error());
  n.transport_ = std::move(*tr);
  n.log_->info("node {} up{}{}", n.me_->peer_id().to_string(),
               n.transport_.address.empty() ? " in client mode"
                                            : ", listening on ",
               n.transport_.address);
  return result;
}

node::~node() {
  if (system_) {
    caf::anon_send_exit(transport_.actor, caf::exit_reason::user_shutdown);
    transport_.actor = nullptr;
    system_.reset(); // waits for all actors
  }
}

size_t node::greet_initial_peers() {
  size_t answered = 0;
  for (auto& peer : config_.initial_peers) {
    auto rtt = ping_once(*system_, transport_.actor, peer, 0,
                         config_.transport.connect_timeout +
                             config_.transport.handshake_timeout);
    if (rtt) {
      ++answered;
      log_->info("initial peer {} ({}) answered in {:.3f} ms", peer,
                 rtt->peer_id, rtt->rtt_ms);
    } else {
      log_->warn("initial peer {} did not answer: {}", peer,
                 describe(rtt.error()));
    }
  }
  return answered;
}

} // namespace colony
