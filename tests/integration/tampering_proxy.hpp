#pragma once

// An attacker on the path for encrypted-stream tests: a loopback TCP proxy
// that forwards one connection to a node, and changes, drops, replays or
// reorders one of the dialer's sealed records on the way.

#include "runtime/transport/frame_reader.hpp"
#include "runtime/transport/sealed_stream.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace colony::testing {

class tampering_proxy {
 public:
  enum class attack { none, flip, drop, replay, reorder };

  /// Proxies to `target` ("HOST:PORT"), applying `how` to the dialer's
  /// sealed record number `victim` (0 = the first after its Proof).
  tampering_proxy(const std::string& target, attack how, size_t victim = 0)
      : how_(how), victim_(victim) {
    auto colon = target.rfind(':');
    target_port_ = static_cast<uint16_t>(std::stoi(target.substr(colon + 1)));
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = 0;
    ::inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
    ::listen(listen_fd_, 4);
    socklen_t len = sizeof(sa);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&sa), &len);
    port_ = ntohs(sa.sin_port);
    thread_ = std::thread([this] { run(); });
  }

  ~tampering_proxy() {
    stop_ = true;
    thread_.join();
    for (int fd : {listen_fd_, client_fd_, server_fd_})
      if (fd >= 0)
        ::close(fd);
  }

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  /// Sealed records of the dialer forwarded (or dropped) so far.
  size_t records_seen() const { return records_; }

 private:
  void run() {
    pollfd lp{listen_fd_, POLLIN, 0};
    while (!stop_ && ::poll(&lp, 1, 20) <= 0) {
    }
    if (stop_)
      return;
    client_fd_ = ::accept(listen_fd_, nullptr, nullptr);
    server_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(target_port_);
    ::inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (::connect(server_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) !=
        0)
      return;
    char buf[65536];
    while (!stop_) {
      pollfd p[2] = {{client_fd_, POLLIN, 0}, {server_fd_, POLLIN, 0}};
      if (::poll(p, 2, 20) <= 0)
        continue;
      if (p[1].revents != 0) {
        auto n = ::recv(server_fd_, buf, sizeof(buf), 0);
        if (n <= 0) {
          ::shutdown(client_fd_, SHUT_RDWR);
          return;
        }
        send_all(client_fd_, buf, static_cast<size_t>(n));
      }
      if (p[0].revents != 0) {
        auto n = ::recv(client_fd_, buf, sizeof(buf), 0);
        if (n <= 0) {
          ::shutdown(server_fd_, SHUT_RDWR);
          return;
        }
        upstream(buf, static_cast<size_t>(n));
      }
    }
  }

  static void send_all(int fd, const char* data, size_t n) {
    while (n > 0) {
      auto sent = ::send(fd, data, n, MSG_NOSIGNAL);
      if (sent <= 0)
        return;
      data += sent;
      n -= static_cast<size_t>(sent);
    }
  }

  /// Dialer to node: the two plain handshake frames pass as they are, then
  /// each sealed record is cut out and judged.
  void upstream(const char* data, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      if (plain_frames_ < 2) {
        auto frames = plain_.feed(data + i, 1);
        send_all(server_fd_, data + i, 1);
        if (frames)
          plain_frames_ += frames->size();
        continue;
      }
      record_.push_back(data[i]);
      if (record_.size() == sealed_stream::header_bytes) {
        uint32_t len = 0;
        std::memcpy(&len, record_.data(), 4);
        record_want_ = sealed_stream::header_bytes + len + 16;
      }
      if (record_.size() == record_want_ && record_want_ > 0) {
        judge(std::move(record_));
        record_.clear();
        record_want_ = 0;
      }
    }
  }

  void judge(std::vector<char> record) {
    auto index = records_++;
    if (index == victim_) {
      switch (how_) {
      case attack::flip:
        record[record.size() / 2] ^= 0x20;
        break;
      case attack::drop:
        return;
      case attack::replay:
        send_all(server_fd_, record.data(), record.size());
        break;
      case attack::reorder:
        held_ = std::move(record);
        return;
      case attack::none:
        break;
      }
    }
    send_all(server_fd_, record.data(), record.size());
    if (!held_.empty()) {
      send_all(server_fd_, held_.data(), held_.size());
      held_.clear();
    }
  }

  attack how_;
  size_t victim_;
  uint16_t target_port_ = 0;
  uint16_t port_ = 0;
  int listen_fd_ = -1;
  int client_fd_ = -1;
  int server_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> records_{0};
  std::thread thread_;
  frame_reader plain_{1 << 20};
  size_t plain_frames_ = 0;
  std::vector<char> record_;
  size_t record_want_ = 0;
  std::vector<char> held_;
};

} // namespace colony::testing
