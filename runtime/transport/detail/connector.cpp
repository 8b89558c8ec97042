#include "runtime/transport/detail/connector.hpp"

#include "messages/error.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace colony {

namespace {

using clock_type = std::chrono::steady_clock;

caf::expected<int> try_address(const addrinfo& ai, clock_type::time_point end,
                               const std::string& where) {
  int fd = ::socket(ai.ai_family, ai.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai.ai_protocol);
  if (fd < 0)
    return make_error(errc::io_error,
                      std::string("socket(): ") + std::strerror(errno));
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (::connect(fd, ai.ai_addr, ai.ai_addrlen) == 0)
    return fd;
  if (errno != EINPROGRESS) {
    auto err = errno;
    ::close(fd);
    return make_error(errc::unreachable,
                      "connect to " + where + ": " + std::strerror(err));
  }
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - clock_type::now());
    if (left.count() <= 0) {
      ::close(fd);
      return make_error(errc::unreachable,
                        "connect to " + where + " timed out");
    }
    pollfd pfd{fd, POLLOUT, 0};
    auto rc = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (rc < 0 && errno == EINTR)
      continue;
    if (rc <= 0)
      continue; // loop re-checks the deadline
    int so_error = 0;
    socklen_t len = sizeof(so_error);
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
    if (so_error != 0) {
      ::close(fd);
      return make_error(errc::unreachable,
                        "connect to " + where + ": " + std::strerror(so_error));
    }
    return fd;
  }
}

} // namespace

caf::expected<int> connect_with_deadline(const std::string& host, uint16_t port,
                                         std::chrono::milliseconds timeout) {
  auto end = clock_type::now() + timeout;
  auto where = host + ":" + std::to_string(port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  auto port_str = std::to_string(port);
  if (auto rc = ::getaddrinfo(host.c_str(), port_str.c_str(), &hints, &found);
      rc != 0)
    return make_error(errc::unreachable,
                      "cannot resolve " + host + ": " + ::gai_strerror(rc));
  caf::error last = make_error(errc::unreachable, "no address for " + host);
  for (auto* ai = found; ai != nullptr; ai = ai->ai_next) {
    auto fd = try_address(*ai, end, where);
    if (fd) {
      ::freeaddrinfo(found);
      return fd;
    }
    last = std::move(fd.error());
  }
  ::freeaddrinfo(found);
  return last;
}

} // namespace colony
