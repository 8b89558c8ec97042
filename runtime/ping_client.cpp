#include "runtime/ping_client.hpp"

#include "messages/error.hpp"
#include "messages/ping.capnp.h"
#include "runtime/transport/transport_atoms.hpp"

#include <caf/all.hpp>

#include <kj/exception.h>

namespace colony {

namespace {

uint64_t now_ns() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(
          std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

} // namespace

envelope make_ping_request(size_t payload_bytes, bool echo) {
  capnp::MallocMessageBuilder msg(payload_bytes / sizeof(capnp::word) + 64);
  auto req = msg.initRoot<wire::PingRequest>();
  req.setSentAtNs(now_ns());
  req.setEchoPayload(echo);
  if (payload_bytes > 0)
    req.initPayload(payload_bytes);
  return to_envelope(msg);
}

ping_client::ping_client(caf::actor_system& system, caf::actor transport)
    : self_(system), transport_(std::move(transport)) {
  // nop
}

caf::expected<ping_result> ping_client::ping(const std::string& address,
                                             const envelope& request,
                                             std::chrono::milliseconds timeout,
                                             const std::string& service) {
  caf::expected<ping_result> result{caf::error{}};
  auto start = std::chrono::steady_clock::now();
  self_
      ->request(transport_, caf::infinite, call_atom::value, address, service,
                request, caf::timespan{timeout})
      .receive(
          [&](envelope& reply) {
            auto rtt = std::chrono::steady_clock::now() - start;
            try {
              capnp::FlatArrayMessageReader reader(reply.words(),
                                                   reader_limits{}.options());
              auto resp = reader.getRoot<wire::PingResponse>();
              result = ping_result{
                  std::chrono::duration<double, std::milli>(rtt).count(),
                  resp.getPeerId(), resp.getReceivedBytes()};
            } catch (const kj::Exception& ex) {
              result =
                  make_error(errc::malformed, std::string("ping reply: ") +
                                                  ex.getDescription().cStr());
            }
          },
          [&](caf::error& err) { result = std::move(err); });
  return result;
}

caf::expected<ping_result> ping_once(caf::actor_system& system,
                                     const caf::actor& transport,
                                     const std::string& address,
                                     const envelope& request,
                                     std::chrono::milliseconds timeout) {
  return ping_client{system, transport}.ping(address, request, timeout);
}

caf::expected<ping_result> ping_once(caf::actor_system& system,
                                     const caf::actor& transport,
                                     const std::string& address,
                                     size_t payload_bytes,
                                     std::chrono::milliseconds timeout) {
  return ping_once(system, transport, address, make_ping_request(payload_bytes),
                   timeout);
}

} // namespace colony
