#include "apps/node/averager_hosting.hpp"

#include "actors/averaging/averager.hpp"
#include "actors/averaging/averaging_atoms.hpp"
#include "apps/node/node.hpp"
#include "messages/error.hpp"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <functional>

namespace colony {

namespace {

/// (tick_atom): time for the next step.
using tick_atom = caf::atom_constant<caf::atom("avg_tick")>;

struct stepping_state {
  static inline const char* name = "averaging_loop";
};

/// Steps `averager` every `config.average_period` (a step at a time: the
/// next waits for the previous to end) and logs each outcome.
caf::behavior stepping_loop(caf::stateful_actor<stepping_state>* self,
                            caf::actor averager,
                            const averager_group_config* config,
                            std::shared_ptr<spdlog::logger> log) {
  self->link_to(averager);
  self->send(self, tick_atom::value);
  auto prefix = config->options.prefix;
  return {
      [=](tick_atom) {
        averaging::step_request request;
        request.weight = config->weight;
        request.timeout = config->step_timeout;
        auto started = std::chrono::steady_clock::now();
        auto again = [=] {
          auto spent = std::chrono::steady_clock::now() - started;
          auto wait = config->average_period - spent;
          self->delayed_send(
              self, std::max<caf::timespan>(std::chrono::milliseconds(1), wait),
              tick_atom::value);
        };
        self->request(averager, caf::infinite, averaging::step_atom::value,
                      std::move(request))
            .then(
                [=](const averaging::step_result& r) {
                  log->info("averager {}: averaged with {} peers in {:.3f} s "
                            "(matchmaking {:.3f} s), {} parts, {} kept",
                            prefix, r.group.members.size(),
                            r.allreduce_time.count() / 1e6,
                            r.matchmaking_time.count() / 1e6, r.averaged_parts,
                            r.kept_parts);
                  again();
                },
                [=](const caf::error& err) {
                  log->info("averager {}: step failed: {}", prefix,
                            describe(err));
                  again();
                });
      },
  };
}

} // namespace

std::vector<at::Tensor> synthetic_tensors(const averager_group_config& config,
                                          uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  std::vector<at::Tensor> out;
  auto count = static_cast<int64_t>(config.tensors);
  auto total = static_cast<int64_t>(config.floats);
  auto each = total / count;
  for (int64_t i = 0; i < count; ++i) {
    auto n = i + 1 == count ? total - each * (count - 1) : each;
    out.push_back(at::randn({n}, gen, at::TensorOptions(at::kFloat)));
  }
  return out;
}

double averager_hosting::hosted::element_sum() const {
  std::lock_guard<std::mutex> guard{*tensors_lock};
  // A plain loop: at::sum with a float64 result type takes ~0.8 s for 25M
  // floats here. Eight partial sums keep the adds independent.
  double sum = 0;
  for (const auto& t : tensors) {
    auto flat = t.contiguous().to(at::kFloat);
    const float* p = flat.data_ptr<float>();
    int64_t n = flat.numel(), i = 0;
    double part[8] = {};
    for (; i + 8 <= n; i += 8)
      for (int k = 0; k < 8; ++k)
        part[k] += p[i + k];
    for (; i < n; ++i)
      sum += p[i];
    for (double x : part)
      sum += x;
  }
  return sum;
}

caf::expected<std::unique_ptr<averager_hosting>>
averager_hosting::start(node& n) {
  std::unique_ptr<averager_hosting> hosting{new averager_hosting};
  if (!n.dht())
    return make_error(errc::invalid_argument,
                      "averagers need the node's DHT ([dht] enabled = true)");
  auto id = n.me().peer_id();
  for (const auto& group : n.config().averagers) {
    auto seed = group.seed != 0 ? group.seed
                                : std::hash<std::string>{}(id.to_string()) | 1;
    hosted h;
    h.prefix = group.options.prefix;
    h.tensors = synthetic_tensors(group, seed);
    h.tensors_lock = std::make_shared<std::mutex>();
    h.config = &group;
    averaging::averager_config ac;
    ac.tensors = h.tensors;
    ac.transport = n.transport();
    ac.dht = n.dht();
    ac.self = averaging::peer_contact{id, n.address()};
    ac.options = group.options;
    ac.options.client_mode = n.config().client_mode;
    ac.tensors_lock = h.tensors_lock;
    ac.log = n.shared_log();
    ac.dht_timeout = n.config().dht.wait_timeout * 2;
    auto averager = averaging::spawn_averager(n.system(), std::move(ac));
    if (!averager)
      return make_error(errc::invalid_argument,
                        "averager '" + h.prefix +
                            "': " + describe(averager.error()));
    h.averager = *averager;
    n.log().info("averaging '{}': {} floats in {} tensors", h.prefix,
                 group.floats, group.tensors);
    if (group.average_period.count() > 0)
      hosting->loops_.push_back(
          n.system().spawn(stepping_loop, h.averager, &group, n.shared_log()));
    hosting->hosted_.push_back(std::move(h));
  }
  return hosting;
}

averager_hosting::~averager_hosting() {
  for (auto& loop : loops_)
    caf::anon_send_exit(loop, caf::exit_reason::user_shutdown);
  for (auto& h : hosted_)
    caf::anon_send_exit(h.averager, caf::exit_reason::user_shutdown);
}

} // namespace colony
