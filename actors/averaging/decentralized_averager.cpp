#include "actors/averaging/decentralized_averager.hpp"

#include "actors/averaging/averaging_atoms.hpp"
#include "messages/error.hpp"

#include <ATen/ATen.h>
#include <caf/all.hpp>

namespace colony::averaging {

namespace {

/// Sends `args` to `actor` and waits for a `T` or an error.
template <class T, class... Ts>
caf::expected<T> ask(caf::actor_system& system, const caf::actor& actor,
                     Ts&&... args) {
  caf::scoped_actor self{system};
  caf::expected<T> result{caf::error{}};
  self->request(actor, caf::infinite, std::forward<Ts>(args)...)
      .receive([&](T& value) { result = std::move(value); },
               [&](caf::error& err) { result = std::move(err); });
  return result;
}

/// Sends `args` to `actor` and waits for its empty answer or an error.
template <class... Ts>
caf::error tell_and_wait(caf::actor_system& system, const caf::actor& actor,
                         Ts&&... args) {
  caf::scoped_actor self{system};
  caf::error result;
  self->request(actor, caf::infinite, std::forward<Ts>(args)...)
      .receive([] {}, [&](caf::error& err) { result = std::move(err); });
  return result;
}

} // namespace

caf::expected<std::unique_ptr<decentralized_averager>>
decentralized_averager::create(caf::actor_system& system,
                               averager_config config) {
  if (!config.tensors_lock)
    config.tensors_lock = std::make_shared<std::mutex>();
  auto tensors = config.tensors;
  auto lock = config.tensors_lock;
  auto actor = spawn_averager(system, std::move(config));
  if (!actor)
    return std::move(actor.error());
  return std::unique_ptr<decentralized_averager>{new decentralized_averager(
      system, std::move(*actor), std::move(tensors), std::move(lock))};
}

decentralized_averager::decentralized_averager(caf::actor_system& system,
                                               caf::actor actor,
                                               std::vector<at::Tensor> tensors,
                                               std::shared_ptr<std::mutex> lock)
    : system_(system), actor_(std::move(actor)), tensors_(std::move(tensors)),
      lock_(std::move(lock)) {
  // nop
}

decentralized_averager::~decentralized_averager() {
  caf::anon_send_exit(actor_, caf::exit_reason::user_shutdown);
}

caf::expected<step_result>
decentralized_averager::step(double weight, std::string gathered,
                             std::optional<std::chrono::milliseconds> timeout) {
  step_request request;
  request.weight = weight;
  request.gathered = std::move(gathered);
  request.timeout = timeout;
  return step(std::move(request));
}

caf::expected<step_result> decentralized_averager::step(step_request request) {
  return ask<step_result>(system_, actor_, step_atom::value,
                          std::move(request));
}

caf::expected<downloaded_state> decentralized_averager::load_state_from_peers(
    std::chrono::milliseconds timeout) {
  return ask<downloaded_state>(system_, actor_, load_state_atom::value,
                               caf::timespan{timeout});
}

caf::error decentralized_averager::apply_state(const downloaded_state& state) {
  if (state.tensors.size() != tensors_.size())
    return make_error(errc::invalid_argument,
                      "the state has " + std::to_string(state.tensors.size()) +
                          " tensors, the averager " +
                          std::to_string(tensors_.size()));
  for (size_t i = 0; i < tensors_.size(); ++i)
    if (!state.tensors[i].defined() ||
        state.tensors[i].sizes() != tensors_[i].sizes() ||
        state.tensors[i].scalar_type() != tensors_[i].scalar_type())
      return make_error(errc::invalid_argument,
                        "state tensor " + std::to_string(i) +
                            " differs in shape or dtype from the averager's");
  auto guard = lock_tensors();
  at::NoGradGuard no_grad; // the tensors may be parameters
  for (size_t i = 0; i < tensors_.size(); ++i)
    tensors_[i].detach().copy_(state.tensors[i]);
  return {};
}

void decentralized_averager::set_state_metadata(std::string metadata) {
  tell_and_wait(system_, actor_, set_state_metadata_atom::value,
                std::move(metadata));
}

void decentralized_averager::set_state_priority(double priority) {
  tell_and_wait(system_, actor_, set_state_priority_atom::value, priority);
}

std::string decentralized_averager::group_bits() {
  auto bits = ask<std::string>(system_, actor_, get_group_bits_atom::value);
  return bits ? *bits : std::string{};
}

caf::error decentralized_averager::set_group_bits(std::string bits) {
  return tell_and_wait(system_, actor_, set_group_bits_atom::value,
                       std::move(bits));
}

averager_status decentralized_averager::status() {
  auto st = ask<averager_status>(system_, actor_, averager_status_atom::value);
  return st ? *st : averager_status{};
}

} // namespace colony::averaging
