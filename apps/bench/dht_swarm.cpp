#include "apps/bench/dht_swarm.hpp"

#include "actors/dht/dht_client.hpp"
#include "actors/dht/dht_node.hpp"
#include "runtime/logging.hpp"

#include <caf/all.hpp>

namespace colony::apps {

dht_swarm::dht_swarm(caf::actor_system& system, dht::dht_options dht_opts,
                     transport_options transport_opts, std::string swarm_id)
    : system_(system), dht_opts_(std::move(dht_opts)),
      transport_opts_(std::move(transport_opts)),
      swarm_id_(std::move(swarm_id)) {
  // nop
}

dht_swarm::~dht_swarm() {
  for (size_t i = 0; i < members_.size(); ++i)
    kill(i);
}

caf::expected<size_t> dht_swarm::add(const std::vector<std::string>& peers,
                                     bool client_mode) {
  auto id = identity::generate();
  if (!id)
    return std::move(id.error());
  member m;
  m.me = std::make_shared<const identity>(std::move(*id));
  auto log = make_node_logger(m.me->peer_id().short_id(), spdlog::level::warn);
  transport_config tcfg;
  tcfg.options = transport_opts_;
  tcfg.listen = client_mode ? std::string{} : std::string{"127.0.0.1:0"};
  tcfg.swarm_id = swarm_id_;
  tcfg.me = m.me;
  tcfg.log = log;
  auto tr = spawn_transport(system_, std::move(tcfg));
  if (!tr)
    return std::move(tr.error());
  m.transport = std::move(*tr);
  dht::dht_node_config dcfg;
  dcfg.options = dht_opts_;
  dcfg.options.client_mode = client_mode;
  dcfg.me = m.me;
  dcfg.address = m.transport.address;
  dcfg.transport = m.transport.actor;
  dcfg.initial_peers = peers;
  dcfg.log = log;
  m.dht = dht::spawn_dht_node(system_, std::move(dcfg));
  members_.push_back(m);
  auto index = members_.size() - 1;
  if (!peers.empty()) {
    dht::dht_client client{system_, m.dht};
    auto joined = client.bootstrap(dht_opts_.wait_timeout * 4);
    if (!joined)
      return std::move(joined.error());
  }
  return index;
}

void dht_swarm::kill(size_t i) {
  auto& m = members_.at(i);
  if (!m.alive)
    return;
  m.alive = false;
  caf::anon_send_exit(m.dht, caf::exit_reason::kill);
  caf::anon_send_exit(m.transport.actor, caf::exit_reason::kill);
}

} // namespace colony::apps
