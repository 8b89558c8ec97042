#include "apps/node/node.hpp"

#include "actors/trainer/auxiliary_peer.hpp"
#include "apps/node/averager_hosting.hpp"
#include "apps/node/expert_hosting.hpp"

#include "actors/control/control_codec.hpp"
#include "actors/control/control_service.hpp"
#include "actors/dht/dht_client.hpp"
#include "actors/dht/dht_node.hpp"
#include "messages/error.hpp"
#include "runtime/compute_threads.hpp"
#include "runtime/logging.hpp"
#include "runtime/ping_client.hpp"
#include "runtime/tensor_allocator.hpp"
#include "runtime/transport/transport_atoms.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <spdlog/spdlog.h>

namespace colony {

std::unique_ptr<caf::actor_system_config> make_system_config() {
  auto cfg = std::make_unique<caf::actor_system_config>();
  cfg->load<caf::io::middleman>();
  cfg->set("scheduler.max-threads", scheduler_threads);
  // colony logs through spdlog; CAF's own console output stays quiet.
  cfg->set("logger.console", caf::atom("none"));
  // CAF's idle workers otherwise poll in 50 us sleeps before they block,
  // adding up to that much latency to every message that wakes them.
  cfg->set("work-stealing.moderate-sleep-duration", caf::timespan{0});
  return cfg;
}

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
  tune_tensor_allocator(); // for programs that embed nodes without main.cpp
  auto threads = set_compute_threads(config.compute_threads);
  n.log_->debug("compute threads: {}", threads);
  n.system_config_ = make_system_config();
  n.system_ = std::make_unique<caf::actor_system>(*n.system_config_);
  transport_config tcfg;
  tcfg.options = config.transport;
  tcfg.listen = config.client_mode ? std::string{} : config.listen;
  tcfg.swarm_id = config.swarm_id;
  if (!config.swarm_authority.empty()) {
    auto authority = peer_id::parse(config.swarm_authority);
    if (!authority)
      return std::move(authority.error());
    tcfg.authority = *authority;
  }
  tcfg.access_token_path = config.access_token;
  tcfg.me = n.me_;
  tcfg.log = n.log_;
  auto tr = spawn_transport(*n.system_, std::move(tcfg));
  if (!tr)
    return std::move(tr.error());
  n.transport_ = std::move(*tr);
  if (config.dht_enabled) {
    dht::dht_node_config dcfg;
    dcfg.options = config.dht;
    dcfg.options.client_mode = config.dht.client_mode || config.client_mode;
    dcfg.me = n.me_;
    dcfg.address = n.transport_.address;
    dcfg.transport = n.transport_.actor;
    dcfg.initial_peers = config.initial_peers;
    dcfg.log = n.log_;
    n.dht_ = dht::spawn_dht_node(*n.system_, std::move(dcfg));
  }
  if (!config.control_peers.empty()) {
    control::control_service_config ccfg;
    ccfg.allowed_peers = config.control_peers;
    ccfg.transport = n.transport_.actor;
    ccfg.dht = n.dht_;
    ccfg.peer_id = n.me_->peer_id().to_string();
    ccfg.address = n.transport_.address;
    ccfg.log = n.log_;
    n.control_ = control::spawn_control_service(*n.system_, std::move(ccfg));
    caf::anon_send(n.transport_.actor, register_service_atom::value,
                   std::string{control::control_service_name}, n.control_);
  }
  n.log_->info("node {} up{}{}", n.me_->peer_id().to_string(),
               n.transport_.address.empty() ? " in client mode"
                                            : ", listening on ",
               n.transport_.address);
  return result;
}

node::~node() {
  auxiliary_.reset(); // leaves its run while the averagers' actors run
  averagers_.reset();
  experts_.reset(); // flushes checkpoints while the device still runs
  if (system_) {
    if (control_)
      caf::anon_send_exit(control_, caf::exit_reason::user_shutdown);
    if (dht_)
      caf::anon_send_exit(dht_, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(transport_.actor, caf::exit_reason::user_shutdown);
    transport_.actor = nullptr;
    system_.reset(); // waits for all actors
  }
}

caf::expected<size_t> node::join_dht() {
  if (!dht_)
    return make_error(errc::invalid_argument, "this node hosts no DHT");
  dht::dht_client client{*system_, dht_};
  auto wait = config_.dht.wait_timeout * 4 + config_.transport.connect_timeout;
  return client.bootstrap(wait);
}

caf::error node::host_experts() {
  if (config_.experts.empty() || experts_)
    return caf::none;
  auto hosting = expert_hosting::start(*this);
  if (!hosting)
    return std::move(hosting.error());
  experts_ = std::move(*hosting);
  if (control_)
    caf::anon_send(control_, control::attach_experts_atom::value,
                   control::hosted_experts{experts_->expert_actors()});
  return caf::none;
}

caf::error node::host_averagers() {
  if (config_.averagers.empty() || averagers_)
    return caf::none;
  auto hosting = averager_hosting::start(*this);
  if (!hosting)
    return std::move(hosting.error());
  averagers_ = std::move(*hosting);
  return caf::none;
}

caf::error node::host_auxiliary_peer() {
  const auto& t = config_.trainer;
  if (!config_.has_trainer || !t.collaborative || !t.collaboration.auxiliary ||
      auxiliary_)
    return caf::none;
  trainer::swarm_access swarm{system_.get(), transport_.actor,   dht_,
                              me_,           transport_.address, log_};
  auto peer = trainer::auxiliary_peer::start(t, swarm);
  if (!peer)
    return std::move(peer.error());
  auxiliary_ = std::move(*peer);
  return caf::none;
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
