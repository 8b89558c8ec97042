// Half-open connections from one address cannot use up a node's sockets:
// the node bounds the connections still in their handshake per IP address
// and closes them at the handshake deadline.

#include "runtime/ping_client.hpp"
#include "tests/integration/test_nodes.hpp"
#include "tests/support/wait_until.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace colony;
using namespace colony::apps;
using namespace colony::testing;
using namespace std::chrono_literals;

namespace {

/// Open file descriptors of process `pid`.
size_t open_fds(pid_t pid) {
  size_t n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(
           "/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++n;
  return n;
}

/// A socket from `source` (another loopback address) connected to
/// `address`; -1 on failure.
int connect_from(const char* source, const std::string& address) {
  auto colon = address.rfind(':');
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  ::inet_pton(AF_INET, source, &local.sin_addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) {
    ::close(fd);
    return -1;
  }
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port =
      htons(static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
  ::inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

/// Whether the peer closed `fd` (EOF or reset).
bool closed_by_peer(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 0) <= 0)
    return false;
  char buf[256];
  auto n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

} // namespace

TEST(connection_limits, a_thousand_half_open_connections_do_not_stop_others) {
  temp_dir dir;
  auto victim = node_process::start(dir, "victim",
                                    "[node]\nlisten = \"127.0.0.1:0\"\n"
                                    "log_level = \"warn\"\n"
                                    "[transport]\nhandshake_timeout = 2.0\n"
                                    "max_pending_handshakes_per_ip = 32\n");
  ASSERT_TRUE(victim);
  // The attacker's sockets are this process's; the node keeps its own limit.
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = std::min<rlim_t>(lim.rlim_max, 4096);
  ::setrlimit(RLIMIT_NOFILE, &lim);
  auto fds_before = open_fds(victim->proc.pid());
  std::vector<int> attackers;
  for (int i = 0; i < 1000; ++i) {
    int fd = connect_from("127.0.0.2", victim->address);
    if (fd < 0)
      continue;
    // Every other one sends half a frame header and then nothing.
    if (i % 2 == 0)
      (void)::send(fd, "\0\0\0\0", 4, MSG_NOSIGNAL);
    attackers.push_back(fd);
  }
  ASSERT_GE(attackers.size(), 900u);
  // An honest client from another address is served at once.
  auto cfg = test_config("colony");
  cfg.client_mode = true;
  auto honest = start_node(cfg);
  ASSERT_TRUE(honest);
  for (int i = 0; i < 20; ++i) {
    auto r = call(*honest, victim->address, "ping", make_ping_request(16), 3s);
    ASSERT_TRUE(r) << i << ": " << describe(r.error());
  }
  // The node holds at most the bound of half-open sockets (plus its own).
  auto fds_during = open_fds(victim->proc.pid());
  EXPECT_LT(fds_during, fds_before + 32 + 20) << fds_before;
  // Every half-open connection is closed: at once beyond the bound, at the
  // handshake deadline within it.
  EXPECT_TRUE(wait_until(
      15s,
      [&] {
        size_t open = 0;
        for (int fd : attackers)
          open += closed_by_peer(fd) ? 0 : 1;
        return open == 0;
      },
      100ms));
  for (int fd : attackers)
    ::close(fd);
  EXPECT_TRUE(victim->log().find("refused") != std::string::npos)
      << victim->log();
}
