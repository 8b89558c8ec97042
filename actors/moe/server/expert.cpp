#include "actors/moe/server/expert.hpp"

#include "actors/moe/server/expert_poison.hpp"
#include "actors/moe/server/moe_atoms.hpp"
#include "gpu/device.hpp"
#include "messages/error.hpp"
#include "runtime/transport/transport.hpp"
#include "runtime/transport/transport_atoms.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>
#include <random>

namespace colony::moe {

namespace {

// Fault injection (drop_rate): a dropped request is answered at once with
// the transport's `dropped_call_reason` marker, which the transport never
// forwards: the caller hears silence until its own deadline, as with a lost
// message, while nothing is held here and the peer's quota is freed.

struct expert_state {
  static inline const char* name = "expert";
  expert_actor_config config;
  std::minstd_rand drop_rng;
  /// Requests dropped since the start (for the log; not on the wire).
  uint64_t dropped_total = 0;
  expert_description description;
  caf::actor forward_pool;
  caf::actor backward_pool;
  /// Update count at the last saved checkpoint (-1: none saved yet).
  int64_t saved_updates = -1;
  /// Fault injection: what this expert does to its outputs.
  poison_mode poison = poison_mode::off;
};

using expert_actor = caf::stateful_actor<expert_state>;

/// Splits the method off a service name `expert/<uid>/<method>`.
std::string method_of(const std::string& service) {
  auto slash = service.rfind('/');
  return slash == std::string::npos ? std::string{} : service.substr(slash + 1);
}

/// Sends `inputs` of caller `peer` through `pool`; the device encodes the
/// outcome and answers `rp` from its own thread (see
/// gpu::request_completion).
void run_through_pool(expert_actor* self, const caf::actor& pool,
                      std::vector<at::Tensor> inputs,
                      const caf::response_promise& rp,
                      const std::string& peer) {
  auto codec = self->state.config.compression;
  auto poison = self->state.poison;
  gpu::request_completion done =
      [rp, codec, poison](caf::expected<std::vector<at::Tensor>>&& outcome) {
        if (!outcome) {
          gpu::reply_from_any_thread(
              rp, caf::make_message(std::move(outcome.error())));
          return;
        }
        if (poison != poison_mode::off)
          *outcome = poison_outputs(std::move(*outcome), poison);
        auto reply = encode_tensors(*outcome, codec);
        if (reply)
          gpu::reply_from_any_thread(rp, caf::make_message(std::move(*reply)));
        else
          gpu::reply_from_any_thread(
              rp, caf::make_message(std::move(reply.error())));
      };
  self->send(pool, submit_atom::value, std::move(inputs), std::move(done),
             peer);
}

/// Drops a request (fault injection): its caller hears nothing.
caf::error drop_request(expert_actor* self, const std::string& method) {
  auto& st = self->state;
  ++st.dropped_total;
  if (st.config.log)
    st.config.log->debug("expert {}: dropped a {} request ({} so far)",
                         st.description.uid, method, st.dropped_total);
  return make_error(errc::cancelled, std::string{dropped_call_reason});
}

caf::result<envelope> serve(expert_actor* self, const std::string& service,
                            const std::string& peer, const envelope& body) {
  auto& st = self->state;
  auto method = method_of(service);
  const auto& schema = st.description.schema;
  if (method == "info")
    return encode_expert_info(st.description);
  if (method != "forward" && method != "backward")
    return make_error(errc::unknown_service, "expert " + st.description.uid +
                                                 " has no method '" + method +
                                                 "' (forward, backward, info)");
  if (st.config.drop_rate > 0 && std::uniform_real_distribution<double>{0, 1}(
                                     st.drop_rng) < st.config.drop_rate)
    return drop_request(self, method);
  auto tensors = decode_tensors(body, st.config.limits);
  if (!tensors)
    return std::move(tensors.error());
  int64_t rows = 0;
  if (method == "forward") {
    if (auto err = check_tensors(schema.inputs, *tensors, "inputs", rows))
      return err;
  } else {
    auto n = schema.inputs.size();
    if (tensors->size() != n + schema.outputs.size())
      return make_error(errc::bad_shape,
                        "backward takes " + std::to_string(n) + " inputs " +
                            to_string(schema.inputs) + " and " +
                            std::to_string(schema.outputs.size()) +
                            " grad_outputs " + to_string(schema.outputs) +
                            ", got " + std::to_string(tensors->size()) +
                            " tensors");
    std::vector<at::Tensor> inputs(tensors->begin(), tensors->begin() + n);
    std::vector<at::Tensor> grads(tensors->begin() + n, tensors->end());
    int64_t grad_rows = 0;
    if (auto err = check_tensors(schema.inputs, inputs, "inputs", rows))
      return err;
    if (auto err =
            check_tensors(schema.outputs, grads, "grad_outputs", grad_rows))
      return err;
    if (grad_rows != rows)
      return make_error(errc::bad_shape,
                        "grad_outputs have " + std::to_string(grad_rows) +
                            " rows, inputs " + std::to_string(rows));
  }
  if (rows < 1)
    return make_error(errc::bad_shape, "a call needs at least one row");
  auto rp = self->make_response_promise();
  const auto& pool = method == "forward" ? st.forward_pool : st.backward_pool;
  run_through_pool(self, pool, std::move(*tensors), rp, peer);
  return rp;
}

/// Saves a checkpoint on the device thread and answers `rp`, if any, when
/// written. Unless `force`, an expert not updated since its last save is
/// skipped. The periodic save has nobody to answer: a promise made for the
/// timer's message would send the outcome to the expert itself.
void save_checkpoint(expert_actor* self,
                     std::optional<caf::response_promise> rp, bool force) {
  auto& st = self->state;
  auto backend = st.config.backend;
  auto dir = st.config.checkpoint_dir;
  // Read and written on the device thread only (it owns the backend).
  auto saved = std::make_shared<int64_t>(st.saved_updates);
  gpu::device_task task = [backend, dir, saved, force] {
    auto updates = backend->update_count();
    if (!force && updates == *saved)
      return;
    if (auto err = backend->save_checkpoint(dir))
      throw std::runtime_error(error_reason(err));
    *saved = updates;
  };
  self->request(st.config.device, caf::infinite, gpu::run_task_atom::value,
                std::move(task))
      .then(
          [self, rp, saved]() mutable {
            self->state.saved_updates = *saved;
            if (rp)
              rp->deliver(caf::unit);
          },
          [self, rp](caf::error& err) mutable {
            self->state.config.log->warn("{}: checkpoint failed: {}",
                                         self->state.description.uid,
                                         describe(err));
            if (rp)
              rp->deliver(std::move(err));
          });
}

caf::behavior expert_main(expert_actor* self, expert_actor_config config) {
  auto& st = self->state;
  st.description = describe_expert(config);
  // No batch has run yet, so reading the backend here races with nothing.
  st.saved_updates = config.backend->update_count();
  auto make_pool = [&](const char* method) {
    task_pool_options opts;
    opts.name = st.description.uid + "/" + method;
    opts.min_batch_size = config.min_batch_size;
    opts.max_batch_size = config.max_batch_size;
    auto backend = config.backend;
    batch_function fn;
    if (std::string{method} == "forward")
      fn = [backend](const std::vector<at::Tensor>& in) {
        return backend->forward(in);
      };
    else
      fn = [backend](const std::vector<at::Tensor>& in) {
        return backend->backward(in);
      };
    auto pool =
        spawn_task_pool(self->system(), std::move(opts), fn, config.device);
    self->link_to(pool); // pools live and die with their expert
    return pool;
  };
  st.forward_pool = make_pool("forward");
  st.backward_pool = make_pool("backward");
  st.config = std::move(config);
  st.drop_rng.seed(st.config.drop_seed != 0
                       ? st.config.drop_seed
                       : static_cast<uint64_t>(std::random_device{}()));
  if (!st.config.checkpoint_dir.empty())
    self->delayed_send(self, st.config.checkpoint_period,
                       checkpoint_tick_atom::value);
  return {
      [self](serve_atom, const std::string& service, const std::string& peer,
             const envelope& body) -> caf::result<envelope> {
        return serve(self, service, peer, body);
      },
      [self](save_checkpoint_atom) {
        auto rp = self->make_response_promise();
        if (self->state.config.checkpoint_dir.empty())
          rp.deliver(make_error(errc::invalid_argument,
                                "expert " + self->state.description.uid +
                                    " has no checkpoint dir"));
        else
          save_checkpoint(self, rp, true);
      },
      [self](checkpoint_tick_atom) {
        self->delayed_send(self, self->state.config.checkpoint_period,
                           checkpoint_tick_atom::value);
        save_checkpoint(self, std::nullopt, false);
      },
      [self](poison_atom, poison_mode mode) {
        auto& st = self->state;
        if (mode != st.poison && st.config.log)
          st.config.log->warn("expert {}: poison {} (fault injection)",
                              st.description.uid, to_string(mode));
        st.poison = mode;
      },
  };
}

} // namespace

expert_description describe_expert(const expert_actor_config& config) {
  expert_description d;
  d.uid = config.backend->uid();
  d.expert_class = config.backend->expert_class();
  d.parameter_count = static_cast<uint64_t>(config.backend->parameter_count());
  d.schema = config.backend->schema();
  d.max_batch_size = config.max_batch_size;
  d.compression = config.compression;
  return d;
}

caf::actor spawn_expert(caf::actor_system& system, expert_actor_config config) {
  return system.spawn(expert_main, std::move(config));
}

} // namespace colony::moe
