#include "actors/optim/progress_model.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace colony::optim {

namespace {

double seconds(std::chrono::milliseconds t) {
  return std::chrono::duration<double>(t).count();
}

} // namespace

progress_model::progress_model(progress_model_options options, double now)
    : options_(options), reported_at_(now) {
  throughput_.restart(now);
}

void progress_model::report(uint64_t epoch, uint64_t samples, double now) {
  if (epoch > epoch_) {
    update_epoch(epoch, now);
  } else if (epoch < epoch_) {
    return; // a report of an epoch this peer left
  }
  if (samples > samples_)
    throughput_.update(samples - samples_, now);
  samples_ = samples;
  reported_at_ = now;
}

void progress_model::update_epoch(uint64_t epoch, double now) {
  if (epoch < epoch_)
    return;
  epoch_ = epoch;
  samples_ = 0;
  reported_at_ = now;
  throughput_.restart(now);
}

void progress_model::set_peers(std::map<std::string, progress_record> peers) {
  peers_ = std::move(peers);
  apply_assumptions();
}

void progress_model::assume_moved_on(const std::vector<std::string>& peers,
                                     uint64_t epoch, double now) {
  for (const auto& key : peers) {
    auto& a = assumed_[key];
    if (epoch >= a.first)
      a = {epoch, now};
  }
  apply_assumptions();
}

void progress_model::apply_assumptions() {
  for (auto i = assumed_.begin(); i != assumed_.end();) {
    auto found = peers_.find(i->first);
    if (found == peers_.end() || found->second.epoch >= i->second.first) {
      i = assumed_.erase(i);
      continue;
    }
    auto& r = found->second;
    r.epoch = i->second.first;
    r.samples_accumulated = 0;
    r.time = i->second.second;
    ++i;
  }
}

progress_record progress_model::local_record() const {
  progress_record r;
  r.epoch = epoch_;
  r.samples_accumulated = samples_;
  r.samples_per_second = throughput_.samples_per_second();
  r.time = std::max(reported_at_, 0.0);
  r.client_mode = options_.client_mode;
  return r;
}

global_progress progress_model::aggregate(double now) const {
  global_progress g;
  g.target_batch_size = options_.target_batch_size;
  auto self = local_record();
  g.epoch = epoch_;
  for (const auto& [id, r] : peers_)
    if (!r.client_mode)
      g.epoch = std::max(g.epoch, r.epoch);
  g.num_peers = 1 + peers_.size();
  g.num_clients = options_.client_mode ? 1 : 0;
  g.num_peers_at_epoch = 0;
  double estimated = 0;
  auto add = [&](const progress_record& r) {
    g.peer_epochs.push_back(r.epoch);
    g.samples_per_second += r.samples_per_second;
    if (r.epoch != g.epoch)
      return; // behind: it syncs and contributes soon, but not to this epoch
    ++g.num_peers_at_epoch;
    g.samples_accumulated += r.samples_accumulated;
    estimated += static_cast<double>(r.samples_accumulated) +
                 std::max(0.0, now - r.time) * r.samples_per_second;
  };
  add(self);
  for (const auto& [id, r] : peers_) {
    if (r.client_mode)
      ++g.num_clients;
    add(r);
  }
  auto remaining = std::max(
      0.0, static_cast<double>(options_.target_batch_size) - estimated);
  double to_next_epoch = std::numeric_limits<double>::infinity();
  if (remaining == 0)
    to_next_epoch = 0;
  else if (g.samples_per_second > 0)
    to_next_epoch = remaining / g.samples_per_second;
  if (std::isfinite(to_next_epoch))
    g.eta_next_epoch = now + to_next_epoch;
  auto peers = static_cast<double>(g.num_peers);
  auto expected_max = std::max(peers + options_.expected_drift_peers,
                               peers * (1 + options_.expected_drift_rate));
  auto to_fetch = std::clamp(to_next_epoch * peers / expected_max,
                             seconds(options_.min_refresh_period),
                             seconds(options_.max_refresh_period));
  g.next_fetch_time = now + to_fetch;
  return g;
}

} // namespace colony::optim
