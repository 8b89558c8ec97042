#include "apps/node/averager_hosting.hpp"

#include "actors/averaging/averager.hpp"
#include "actors/averaging/averaging_atoms.hpp"
#include "actors/averaging/partition.hpp"
#include "apps/node/averaging_round_log.hpp"
#include "apps/node/node.hpp"
#include "messages/error.hpp"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <functional>

namespace colony {

namespace {

/// (tick_atom): time for the next step.
using tick_atom = caf::atom_constant<caf::atom("avg_tick")>;

struct stepping_state {
  static inline const char* name = "averaging_loop";
  /// Draws the `perturb` noise.
  at::Generator noise;
};

/// The averaged elements as one flat float64 vector (a copy), read under
/// `lock`.
at::Tensor flat_copy(const std::vector<at::Tensor>& tensors, std::mutex& lock) {
  std::lock_guard<std::mutex> guard{lock};
  std::vector<at::Tensor> flat;
  for (const auto& t : tensors)
    flat.push_back(t.reshape({-1}).to(at::kDouble));
  return at::cat(flat);
}

/// Sums of `flat` over each span of `group`, as the all-reduce split it.
std::vector<double> span_sums(const at::Tensor& flat,
                              const averaging::group_info& group,
                              uint64_t min_vector_size) {
  std::vector<double> out;
  auto spans = averaging::partition_vector(static_cast<uint64_t>(flat.numel()),
                                           averaging::capacities_of(group),
                                           min_vector_size);
  if (!spans)
    return out;
  for (const auto& span : *spans)
    out.push_back(flat.slice(0, static_cast<int64_t>(span.begin),
                             static_cast<int64_t>(span.end))
                      .sum()
                      .item<double>());
  return out;
}

double unix_now() {
  return std::chrono::duration<double>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string hex_of(const averaging::group_id& id) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (auto b : id) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

/// Steps `h.averager` every `config.average_period` (a step at a time: the
/// next waits for the previous to end) and logs each outcome; with
/// `perturb`, noise is added first; with `log_rounds`, a round line
/// (averaging_round_log.hpp) follows each step.
caf::behavior stepping_loop(caf::stateful_actor<stepping_state>* self,
                            averager_hosting::hosted h, std::string peer,
                            uint64_t seed,
                            std::shared_ptr<spdlog::logger> log) {
  self->link_to(h.averager);
  self->state.noise = at::detail::createCPUGenerator(seed ^ 0x6e01'5e00ull);
  self->send(self, tick_atom::value);
  const auto* config = h.config;
  auto prefix = config->options.prefix;
  return {
      [=](tick_atom) {
        if (config->perturb > 0) {
          std::lock_guard<std::mutex> guard{*h.tensors_lock};
          for (const auto& t : h.tensors)
            t.add_(at::randn(t.sizes(), self->state.noise, t.options()),
                   config->perturb);
        }
        at::Tensor before;
        if (config->log_rounds)
          before = flat_copy(h.tensors, *h.tensors_lock);
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
        averaging_round_record record;
        record.prefix = prefix;
        record.peer = peer;
        record.weight = config->weight;
        self->request(h.averager, caf::infinite, averaging::step_atom::value,
                      std::move(request))
            .then(
                [=](const averaging::step_result& r) mutable {
                  log->info("averager {}: averaged with {} peers in {:.3f} s "
                            "(matchmaking {:.3f} s), {} parts, {} kept",
                            prefix, r.group.members.size(),
                            r.allreduce_time.count() / 1e6,
                            r.matchmaking_time.count() / 1e6, r.averaged_parts,
                            r.kept_parts);
                  if (config->log_rounds) {
                    record.t = unix_now();
                    record.ok = true;
                    record.group = hex_of(r.group.id);
                    for (const auto& m : r.group.members)
                      record.members.push_back(m.peer.id.to_string());
                    record.index = r.index;
                    auto min_size = config->options.min_vector_size;
                    record.pre = span_sums(before, r.group, min_size);
                    record.post =
                        span_sums(flat_copy(h.tensors, *h.tensors_lock),
                                  r.group, min_size);
                    record.averaged_parts = r.averaged_parts;
                    record.kept_parts = r.kept_parts;
                    log->info("{}", format_round_line(record));
                  }
                  again();
                },
                [=](const caf::error& err) mutable {
                  log->info("averager {}: step failed: {}", prefix,
                            describe(err));
                  if (config->log_rounds) {
                    record.t = unix_now();
                    record.error = describe(err);
                    log->info("{}", format_round_line(record));
                  }
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
      hosting->loops_.push_back(n.system().spawn(
          stepping_loop, h, id.to_string(), seed, n.shared_log()));
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
