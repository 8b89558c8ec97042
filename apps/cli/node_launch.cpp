#include "apps/cli/node_launch.hpp"

#include "messages/error.hpp"
#include "runtime/signals.hpp"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <fstream>
#include <iostream>

namespace colony::apps {

int join_swarm(node& n) {
  if (!n.dht() || n.config().initial_peers.empty()) {
    n.greet_initial_peers();
    return 0;
  }
  auto joined = n.join_dht();
  if (!joined) {
    n.log().error("cannot join the DHT: {}", describe(joined.error()));
    return 1;
  }
  return 0;
}

int announce_address(const node& n, const std::string& address_file) {
  std::cout << "listening on " << n.address() << std::endl;
  if (address_file.empty())
    return 0;
  auto tmp = address_file + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (out)
      out << n.address() << '\n';
    if (!out || !out.flush()) {
      std::cerr << "colony: cannot write address file " << address_file
                << std::endl;
      return 1;
    }
  }
  if (std::rename(tmp.c_str(), address_file.c_str()) != 0) {
    std::cerr << "colony: cannot write address file " << address_file
              << std::endl;
    return 1;
  }
  return 0;
}

int serve_until_signal(node& n, const std::string& address_file) {
  if (auto rc = join_swarm(n))
    return rc;
  if (auto err = n.host_experts()) {
    n.log().error("cannot start experts: {}", error_reason(err));
    return 1;
  }
  if (auto err = n.host_averagers()) {
    n.log().error("cannot start averagers: {}", error_reason(err));
    return 1;
  }
  if (auto err = n.host_auxiliary_peer()) {
    n.log().error("cannot start the auxiliary peer: {}", error_reason(err));
    return 1;
  }
  if (auto rc = announce_address(n, address_file))
    return rc;
  auto sig = wait_for_shutdown_signal();
  n.log().info("received signal {}, shutting down", sig);
  return 0;
}

} // namespace colony::apps
