#include "actors/trainer/auxiliary_peer.hpp"

#include "actors/trainer/dmoe_classifier.hpp"
#include "messages/error.hpp"

#include <caf/actor_system.hpp>
#include <caf/atom.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <spdlog/spdlog.h>

namespace colony::trainer {

namespace {

/// Internal: step once, then schedule the next.
using auxiliary_poll_atom = caf::atom_constant<caf::atom("aux_poll")>;

} // namespace

struct auxiliary_peer::impl {
  swarm_access swarm;
  DmoeClassifier model{nullptr};
  std::shared_ptr<torch::optim::Adam> optimizer;
  std::unique_ptr<optim::collaborative_optimizer> collaborative;
  /// Steps the optimizer (a detached actor: a step may block for a round).
  caf::actor poller;
};

auxiliary_peer::auxiliary_peer(std::unique_ptr<impl> self)
    : self_(std::move(self)) {}

caf::expected<std::unique_ptr<auxiliary_peer>>
auxiliary_peer::start(const trainer_options& options, const swarm_access& swarm,
                      std::chrono::milliseconds poll_period) {
  if (!options.collaborative || !options.collaboration.auxiliary)
    return make_error(errc::invalid_argument,
                      "an auxiliary peer needs trainer.collaborative and "
                      "trainer.auxiliary");
  if (swarm.system == nullptr)
    return make_error(errc::invalid_argument, "an auxiliary peer needs a node");
  auto self = std::make_unique<impl>();
  self->swarm = swarm;
  try {
    // The run's trainers' model and optimizer: the averaged tensors must
    // have their shapes.
    auto made = make_trainer_model(options, swarm);
    self->model = made.model;
    self->optimizer = made.optimizer;
  } catch (const std::exception& e) {
    return make_error(errc::invalid_argument, e.what());
  }
  auto opt = optim::collaborative_optimizer::create(swarm, self->optimizer,
                                                    options.collaboration);
  if (!opt)
    return opt.error();
  self->collaborative = std::move(*opt);
  auto* collaborative = self->collaborative.get();
  auto log = swarm.log;
  self->poller = swarm.system->spawn<caf::detached>(
      [collaborative, log, poll_period](caf::event_based_actor* poller) {
        auto epoch = std::make_shared<uint64_t>(collaborative->local_epoch());
        poller->send(poller, auxiliary_poll_atom::value);
        return caf::behavior{[=](auxiliary_poll_atom) {
          auto report = collaborative->step(std::nullopt);
          if (!report)
            log->warn("auxiliary peer: step failed: {}",
                      describe(report.error()));
          else if (report->epoch != *epoch) {
            *epoch = report->epoch;
            auto s = collaborative->status();
            log->info("auxiliary peer: epoch {}, {} gradient rounds joined, "
                      "{} failed",
                      report->epoch, s.grad_rounds_averaged,
                      s.grad_rounds_failed);
          }
          poller->delayed_send(poller, poll_period, auxiliary_poll_atom::value);
        }};
      });
  log->info("auxiliary peer of run {} started ({} tensors)",
            options.collaboration.run_id,
            static_cast<long long>(self->model->parameters().size()));
  return std::unique_ptr<auxiliary_peer>(new auxiliary_peer(std::move(self)));
}

auxiliary_peer::~auxiliary_peer() {
  if (!self_)
    return;
  if (self_->poller) {
    // The poller uses the optimizer: it must be gone first.
    caf::scoped_actor waiter{*self_->swarm.system};
    waiter->send_exit(self_->poller, caf::exit_reason::user_shutdown);
    waiter->wait_for(self_->poller);
  }
  if (self_->collaborative)
    self_->collaborative->finish();
}

optim::collaborative_status auxiliary_peer::status() const {
  return self_->collaborative->status();
}

} // namespace colony::trainer
