#include "actors/control/control_client.hpp"

#include "actors/control/control_codec.hpp"
#include "runtime/transport/transport_atoms.hpp"

#include <caf/all.hpp>

namespace colony::control {

namespace {

/// The transport enforces each deadline; the margin only guards against a
/// transport that died without answering.
constexpr auto guard_margin = std::chrono::seconds(5);

} // namespace

control_client::control_client(caf::actor_system& system, caf::actor transport)
    : self_(system), transport_(std::move(transport)) {}

caf::expected<node_status>
control_client::call(const std::string& address, const control_request& request,
                     std::chrono::milliseconds timeout) {
  caf::expected<node_status> result{caf::error{}};
  self_
      ->request(transport_, timeout + guard_margin, call_atom::value, address,
                std::string{control_service_name},
                encode_control_request(request), caf::timespan{timeout})
      .receive([&](envelope& reply) { result = decode_node_status(reply); },
               [&](caf::error& err) { result = std::move(err); });
  return result;
}

caf::expected<node_status>
control_client::status(const std::string& address,
                       std::chrono::milliseconds timeout) {
  return call(address, control_request{}, timeout);
}

std::vector<caf::expected<node_status>>
control_client::status_all(const std::vector<std::string>& addresses,
                           std::chrono::milliseconds timeout) {
  std::vector<caf::expected<node_status>> results;
  auto body = encode_control_request(control_request{});
  using handle_type = decltype(self_->request(
      transport_, timeout, call_atom::value, std::string{}, std::string{}, body,
      caf::timespan{timeout}));
  std::vector<handle_type> pending;
  for (const auto& address : addresses)
    pending.push_back(self_->request(
        transport_, timeout + guard_margin, call_atom::value, address,
        std::string{control_service_name}, body, caf::timespan{timeout}));
  for (auto& p : pending) {
    caf::expected<node_status> result{caf::error{}};
    p.receive([&](envelope& reply) { result = decode_node_status(reply); },
              [&](caf::error& err) { result = std::move(err); });
    results.push_back(std::move(result));
  }
  return results;
}

} // namespace colony::control
