#include "actors/optim/progress_tracker.hpp"

#include "actors/dht/dht_messages.hpp"
#include "actors/optim/progress_tracker_actor.hpp"
#include "messages/error.hpp"

#include <caf/all.hpp>

namespace colony::optim {

namespace {

caf::error check(const progress_tracker_options& o) {
  std::string problems;
  auto problem = [&](const std::string& text) {
    problems += (problems.empty() ? "" : "\n") + text;
  };
  if (o.run_id.empty())
    problem("a progress tracker needs a run id");
  if (o.target_batch_size == 0)
    problem("target_batch_size must be positive");
  if (o.min_refresh_period.count() <= 0 ||
      o.max_refresh_period < o.min_refresh_period)
    problem("refresh periods must satisfy 0 < min <= max");
  if (o.default_refresh_period.count() <= 0)
    problem("default_refresh_period must be positive");
  if (o.metadata_expiration.count() < 3)
    problem("metadata_expiration must be at least 3 ms");
  if (o.report_period.count() < 0 || o.dht_timeout.count() <= 0)
    problem("report_period must not be negative, dht_timeout positive");
  if (problems.empty())
    return {};
  return make_error(errc::invalid_argument, problems);
}

} // namespace

caf::expected<std::unique_ptr<progress_tracker>>
progress_tracker::create(caf::actor_system& system, caf::actor dht,
                         std::shared_ptr<const identity> me,
                         progress_tracker_options options,
                         std::shared_ptr<spdlog::logger> log) {
  if (auto err = check(options))
    return err;
  if (!dht || !me || !log)
    return make_error(errc::invalid_argument,
                      "a progress tracker needs a DHT node, its identity "
                      "and a logger");
  progress_model_options mo;
  mo.target_batch_size = options.target_batch_size;
  mo.client_mode = options.client_mode;
  mo.min_refresh_period = options.min_refresh_period;
  mo.max_refresh_period = options.max_refresh_period;
  auto shared = std::make_shared<progress_tracker_shared>(mo, dht::dht_time());
  auto timeout = options.dht_timeout;
  progress_tracker_actor_config config;
  config.options = std::move(options);
  config.dht = std::move(dht);
  config.self = me->peer_id();
  config.shared = shared;
  config.log = std::move(log);
  auto actor = spawn_progress_tracker_actor(system, std::move(config));
  return std::unique_ptr<progress_tracker>(new progress_tracker(
      system, std::move(actor), std::move(shared), timeout));
}

progress_tracker::progress_tracker(
    caf::actor_system& system, caf::actor actor,
    std::shared_ptr<progress_tracker_shared> shared,
    std::chrono::milliseconds dht_timeout)
    : system_(system), actor_(std::move(actor)), shared_(std::move(shared)),
      dht_timeout_(dht_timeout) {}

progress_tracker::~progress_tracker() {
  caf::scoped_actor self{system_};
  self->request(actor_, dht_timeout_ + std::chrono::seconds(1),
                progress_leave_atom::value)
      .receive([](bool) {}, [](const caf::error&) {});
  self->send_exit(actor_, caf::exit_reason::user_shutdown);
}

void progress_tracker::report_local_progress(uint64_t epoch, uint64_t samples) {
  {
    std::lock_guard<std::mutex> guard{shared_->lock};
    shared_->model.report(epoch, samples, dht::dht_time());
  }
  caf::anon_send(actor_, progress_changed_atom::value);
}

void progress_tracker::update_epoch(uint64_t epoch) {
  {
    std::lock_guard<std::mutex> guard{shared_->lock};
    shared_->model.update_epoch(epoch, dht::dht_time());
  }
  caf::anon_send(actor_, progress_epoch_atom::value);
}

void progress_tracker::peers_moved_on(const std::vector<peer_id>& peers,
                                      uint64_t epoch) {
  std::vector<std::string> keys;
  keys.reserve(peers.size());
  for (const auto& p : peers)
    keys.push_back(p.to_string());
  std::lock_guard<std::mutex> guard{shared_->lock};
  shared_->model.assume_moved_on(keys, epoch, dht::dht_time());
}

global_progress progress_tracker::global() const {
  std::lock_guard<std::mutex> guard{shared_->lock};
  return shared_->model.aggregate(dht::dht_time());
}

caf::expected<global_progress>
progress_tracker::refresh(std::chrono::milliseconds timeout) {
  caf::scoped_actor self{system_};
  caf::error failure;
  self->request(actor_, timeout, progress_refresh_atom::value)
      .receive([](bool) {}, [&](caf::error& err) { failure = std::move(err); });
  if (failure)
    return failure;
  return global();
}

} // namespace colony::optim
