#include "actors/moe/client/expert_calls.hpp"

#include "actors/moe/expert_description.hpp"
#include "messages/error.hpp"
#include "runtime/transport/transport_atoms.hpp"

#include <caf/all.hpp>

#include <map>

namespace colony::moe {

std::vector<caf::expected<std::vector<at::Tensor>>>
call_experts(caf::actor_system& system, const caf::actor& transport,
             std::vector<expert_call> calls,
             const expert_call_deadlines& deadlines, compression_type codec) {
  using clock_type = std::chrono::steady_clock;
  std::vector<caf::expected<std::vector<at::Tensor>>> results(
      calls.size(), caf::expected<std::vector<at::Tensor>>{
                        make_error(errc::timeout, "no answer in time")});
  caf::scoped_actor self{system};
  auto start = clock_type::now();
  auto deadline = start + deadlines.timeout;
  // The transport answers each start at once with the call's id; the
  // outcomes then arrive as ordinary messages, in the order they finish.
  std::map<uint64_t, size_t> pending;
  for (size_t i = 0; i < calls.size(); ++i) {
    auto body = encode_tensors(calls[i].tensors, codec);
    if (!body) {
      results[i] = std::move(body.error());
      continue;
    }
    auto service = expert_service(calls[i].uid, calls[i].method.c_str());
    self->request(transport, caf::infinite, start_call_atom::value,
                  calls[i].address, service, std::move(*body),
                  caf::timespan{deadlines.timeout})
        .receive([&](uint64_t id) { pending.emplace(id, i); },
                 [&](caf::error& err) { results[i] = std::move(err); });
  }
  size_t answered = 0;
  bool k_min_deadline_set = false;
  auto finish = [&](uint64_t id, caf::expected<std::vector<at::Tensor>> r) {
    auto it = pending.find(id);
    if (it == pending.end())
      return; // a call of an earlier batch of this actor
    results[it->second] = std::move(r);
    if (results[it->second])
      ++answered;
    pending.erase(it);
    if (!k_min_deadline_set && deadlines.k_min > 0 &&
        answered >= deadlines.k_min && deadlines.timeout_after_k_min) {
      k_min_deadline_set = true;
      deadline = std::min(deadline,
                          clock_type::now() + *deadlines.timeout_after_k_min);
    }
  };
  while (!pending.empty()) {
    auto now = clock_type::now();
    if (now >= deadline)
      break;
    auto left =
        std::chrono::duration_cast<std::chrono::microseconds>(deadline - now);
    bool timed_out = false;
    self->receive(
        [&](call_result_atom, uint64_t id, envelope& reply) {
          finish(id, decode_tensors(reply, tensor_limits{}));
        },
        [&](call_result_atom, uint64_t id, caf::error& err) {
          finish(id, std::move(err));
        },
        caf::after(left) >> [&] { timed_out = true; });
    if (timed_out)
      break;
  }
  for (auto& [id, index] : pending) {
    self->send(transport, cancel_atom::value, id);
    results[index] = make_error(
        errc::timeout, "expert " + calls[index].uid + " at " +
                           calls[index].address + " did not answer in time");
  }
  return results;
}

} // namespace colony::moe
