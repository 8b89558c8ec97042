#include "actors/moe/client/expert_client.hpp"

#include "runtime/transport/transport_atoms.hpp"

#include <caf/all.hpp>

namespace colony::moe {

expert_client::expert_client(caf::actor_system& system, caf::actor transport)
    : self_(system), transport_(std::move(transport)) {}

caf::expected<envelope> expert_client::call(const std::string& address,
                                            const std::string& service,
                                            envelope body,
                                            std::chrono::milliseconds timeout) {
  caf::expected<envelope> result{caf::error{}};
  // The transport enforces the deadline; the margin only guards against a
  // transport that died without answering.
  auto guard = timeout + std::chrono::seconds(5);
  self_
      ->request(transport_, guard, call_atom::value, address, service,
                std::move(body), caf::timespan{timeout})
      .receive([&](envelope& reply) { result = std::move(reply); },
               [&](caf::error& err) { result = std::move(err); });
  return result;
}

caf::expected<std::vector<at::Tensor>> expert_client::call_tensors(
    const std::string& address, const std::string& service,
    const std::vector<at::Tensor>& tensors, std::chrono::milliseconds timeout,
    compression_type codec) {
  auto body = encode_tensors(tensors, codec);
  if (!body)
    return std::move(body.error());
  auto reply = call(address, service, std::move(*body), timeout);
  if (!reply)
    return std::move(reply.error());
  return decode_tensors(*reply, tensor_limits{});
}

caf::expected<std::vector<at::Tensor>>
expert_client::forward(const std::string& address, const std::string& uid,
                       const std::vector<at::Tensor>& inputs,
                       std::chrono::milliseconds timeout,
                       compression_type codec) {
  return call_tensors(address, expert_service(uid, "forward"), inputs, timeout,
                      codec);
}

caf::expected<std::vector<at::Tensor>>
expert_client::backward(const std::string& address, const std::string& uid,
                        const std::vector<at::Tensor>& inputs,
                        const std::vector<at::Tensor>& grad_outputs,
                        std::chrono::milliseconds timeout,
                        compression_type codec) {
  auto all = inputs;
  all.insert(all.end(), grad_outputs.begin(), grad_outputs.end());
  return call_tensors(address, expert_service(uid, "backward"), all, timeout,
                      codec);
}

caf::expected<expert_description>
expert_client::info(const std::string& address, const std::string& uid,
                    std::chrono::milliseconds timeout) {
  auto reply = call(address, expert_service(uid, "info"), envelope{}, timeout);
  if (!reply)
    return std::move(reply.error());
  return decode_expert_info(*reply);
}

caf::expected<std::vector<expert_description>>
expert_client::list(const std::string& address,
                    std::chrono::milliseconds timeout) {
  auto reply = call(address, expert_catalog_service, envelope{}, timeout);
  if (!reply)
    return std::move(reply.error());
  return decode_expert_catalog(*reply);
}

} // namespace colony::moe
