#include "apps/bench/raw_tcp_baseline.hpp"

#include <arpa/inet.h>
#include <chrono>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdexcept>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace colony::apps {

namespace {

using clock_type = std::chrono::steady_clock;

void read_all(int fd, char* buf, size_t n) {
  while (n > 0) {
    auto r = ::recv(fd, buf, n, 0);
    if (r <= 0)
      throw std::runtime_error("raw tcp: peer closed");
    buf += r;
    n -= static_cast<size_t>(r);
  }
}

void write_all(int fd, const char* buf, size_t n) {
  while (n > 0) {
    auto w = ::send(fd, buf, n, MSG_NOSIGNAL);
    if (w <= 0)
      throw std::runtime_error("raw tcp: send failed");
    buf += w;
    n -= static_cast<size_t>(w);
  }
}

/// A connected loopback pair: (client fd, server fd).
std::pair<int, int> loopback_pair() {
  int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::listen(lfd, 1);
  int cfd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (::connect(cfd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
    throw std::runtime_error("raw tcp: connect failed");
  int sfd = ::accept(lfd, nullptr, nullptr);
  ::close(lfd);
  int one = 1;
  ::setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  ::setsockopt(sfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return {cfd, sfd};
}

double ms_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0)
      .count();
}

} // namespace

std::vector<double> raw_tcp_ping_pong(size_t message_bytes, size_t count) {
  auto [cfd, sfd] = loopback_pair();
  std::thread echo([sfd = sfd, message_bytes, count] {
    std::vector<char> buf(message_bytes);
    for (size_t i = 0; i < count; ++i) {
      read_all(sfd, buf.data(), buf.size());
      write_all(sfd, buf.data(), buf.size());
    }
  });
  std::vector<char> buf(message_bytes, 'x');
  std::vector<double> rtts;
  for (size_t i = 0; i < count; ++i) {
    auto t0 = clock_type::now();
    write_all(cfd, buf.data(), buf.size());
    read_all(cfd, buf.data(), buf.size());
    rtts.push_back(ms_since(t0));
  }
  echo.join();
  ::close(cfd);
  ::close(sfd);
  return rtts;
}

std::vector<double> raw_tcp_bulk(size_t bytes, size_t count) {
  auto [cfd, sfd] = loopback_pair();
  std::thread sink([sfd = sfd, bytes, count] {
    std::vector<char> buf(bytes);
    char ack = 1;
    for (size_t i = 0; i < count; ++i) {
      read_all(sfd, buf.data(), buf.size());
      write_all(sfd, &ack, 1);
    }
  });
  std::vector<char> buf(bytes, 'x');
  std::vector<double> times;
  char ack = 0;
  for (size_t i = 0; i < count; ++i) {
    auto t0 = clock_type::now();
    write_all(cfd, buf.data(), buf.size());
    read_all(cfd, &ack, 1);
    times.push_back(ms_since(t0));
  }
  sink.join();
  ::close(cfd);
  ::close(sfd);
  return times;
}

} // namespace colony::apps
