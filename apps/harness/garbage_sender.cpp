#include "apps/harness/garbage_sender.hpp"

#include "messages/error.hpp"
#include "messages/wire.capnp.h"
#include "runtime/identity.hpp"
#include "runtime/peer_address.hpp"
#include "runtime/transport/frame_writer.hpp"
#include "runtime/transport/handshake.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <random>
#include <sys/socket.h>
#include <unistd.h>

namespace colony::apps {

namespace {

constexpr garbage_kind all_kinds[] = {
    garbage_kind::random_bytes, garbage_kind::truncated_frame,
    garbage_kind::oversized_length, garbage_kind::wrong_handshake};

std::vector<uint8_t> frame_bytes(capnp::MessageBuilder& message) {
  std::vector<uint8_t> out;
  write_frame(message, [&](const void* p, size_t n) {
    auto* b = static_cast<const uint8_t*>(p);
    out.insert(out.end(), b, b + n);
  });
  return out;
}

/// A Hello as a real node sends it, from a fresh identity.
void fill_hello(wire::Hello::Builder hello, const std::string& swarm) {
  static const identity me = *identity::generate();
  handshake hs{me, swarm, 0, std::nullopt};
  hs.write_hello(hello);
}

std::vector<uint8_t> wrong_handshake(uint64_t seed) {
  capnp::MallocMessageBuilder message;
  auto frame = message.initRoot<wire::Frame>();
  switch (seed % 4) {
  case 0: // a future protocol
    fill_hello(frame.initHello(), "colony");
    frame.getHello().setProtocolVersion(wire::PROTOCOL_VERSION + 1000);
    break;
  case 1: // another swarm
    fill_hello(frame.initHello(), "not-this-swarm");
    break;
  case 2: { // a key of the wrong size
    fill_hello(frame.initHello(), "colony");
    auto key = frame.getHello().initPublicKey(5);
    std::memset(key.begin(), 0xab, key.size());
    break;
  }
  default: { // a proof before any hello
    auto sig = frame.initProof().initSignature(64);
    std::memset(sig.begin(), 0x5a, sig.size());
    break;
  }
  }
  return frame_bytes(message);
}

/// Sets `fd` non-blocking and connects within `timeout`.
caf::error connect_within(int fd, const sockaddr_in& sa,
                          std::chrono::milliseconds timeout,
                          const std::string& address) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof(sa)) == 0)
    return caf::none;
  if (errno != EINPROGRESS)
    return make_error(errc::unreachable, "cannot connect to " + address + ": " +
                                             std::strerror(errno));
  pollfd p{fd, POLLOUT, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0)
    return make_error(errc::unreachable,
                      "connecting to " + address + " timed out");
  int err = 0;
  socklen_t len = sizeof(err);
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0)
    return make_error(errc::unreachable, "cannot connect to " + address + ": " +
                                             std::strerror(err));
  return caf::none;
}

} // namespace

const char* to_string(garbage_kind kind) noexcept {
  switch (kind) {
  case garbage_kind::random_bytes:
    return "random_bytes";
  case garbage_kind::truncated_frame:
    return "truncated_frame";
  case garbage_kind::oversized_length:
    return "oversized_length";
  case garbage_kind::wrong_handshake:
    return "wrong_handshake";
  }
  return "?";
}

caf::expected<garbage_kind> parse_garbage_kind(std::string_view name) {
  for (auto kind : all_kinds)
    if (name == to_string(kind))
      return kind;
  return make_error(errc::bad_config, "unknown garbage kind '" +
                                          std::string{name} +
                                          "' (random_bytes, truncated_frame, "
                                          "oversized_length, wrong_handshake)");
}

std::vector<uint8_t> garbage_payload(garbage_kind kind, uint64_t seed) {
  switch (kind) {
  case garbage_kind::random_bytes: {
    std::mt19937_64 rng{seed};
    std::vector<uint8_t> out(4096);
    for (auto& b : out)
      b = static_cast<uint8_t>(rng());
    return out;
  }
  case garbage_kind::truncated_frame: {
    capnp::MallocMessageBuilder message;
    fill_hello(message.initRoot<wire::Frame>().initHello(), "colony");
    auto full = frame_bytes(message);
    full.resize(full.size() / 2);
    return full;
  }
  case garbage_kind::oversized_length: {
    // One segment of 2^29 words (4 GiB); the body never follows.
    uint32_t table[2] = {0, 0x20000000u};
    std::vector<uint8_t> out(sizeof(table));
    std::memcpy(out.data(), table, sizeof(table));
    return out;
  }
  case garbage_kind::wrong_handshake:
    return wrong_handshake(seed);
  }
  return {};
}

caf::expected<garbage_outcome> send_garbage(const std::string& address,
                                            garbage_kind kind, uint64_t seed,
                                            std::chrono::milliseconds timeout) {
  auto addr = peer_address::parse(address);
  if (!addr)
    return std::move(addr.error());
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(addr->port);
  if (::inet_pton(AF_INET, addr->host.c_str(), &sa.sin_addr) != 1)
    return make_error(errc::invalid_argument,
                      "garbage goes to IPv4 addresses only, not " + address);
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return make_error(errc::io_error,
                      std::string{"socket: "} + std::strerror(errno));
  auto deadline = std::chrono::steady_clock::now() + timeout;
  garbage_outcome outcome;
  if (auto err = connect_within(fd, sa, timeout, address)) {
    ::close(fd);
    return err;
  }
  auto payload = garbage_payload(kind, seed);
  while (outcome.bytes_sent < payload.size()) {
    auto n = ::send(fd, payload.data() + outcome.bytes_sent,
                    payload.size() - outcome.bytes_sent, MSG_NOSIGNAL);
    if (n > 0) {
      outcome.bytes_sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, 50) >= 0 && std::chrono::steady_clock::now() < deadline)
        continue;
    }
    // The node closed the connection while we were still sending.
    outcome.closed_by_peer = true;
    ::close(fd);
    return outcome;
  }
  // Whatever the node answers (its Hello, an error frame) is read and
  // dropped; end of stream means it closed the connection.
  char buf[4096];
  while (!outcome.closed_by_peer) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
      continue;
    auto n = ::recv(fd, buf, sizeof(buf), 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
      outcome.closed_by_peer = true;
  }
  ::close(fd);
  return outcome;
}

} // namespace colony::apps
