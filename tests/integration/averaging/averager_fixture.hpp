#pragma once

// Averager actors on in-process nodes joined through one DHT, for the
// averaging integration tests: a swarm of peers, step requests, and the
// reference values a step must reach (weighted means computed in double
// from copies of the inputs, the parts a round cuts the tensors into).

#include "actors/averaging/averager.hpp"
#include "actors/averaging/averager_status.hpp"
#include "actors/averaging/averaging_atoms.hpp"
#include "actors/averaging/partition.hpp"
#include "actors/averaging/tensor_parts.hpp"
#include "messages/error.hpp"
#include "tests/integration/test_nodes.hpp"
#include "tests/support/wait_until.hpp"

#include <ATen/ATen.h>
#include <caf/all.hpp>
#include <gtest/gtest.h>

#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace colony::testing {

using namespace std::chrono_literals;

/// One peer: a DHT node with an averager over `tensors`.
struct averaging_peer {
  std::unique_ptr<node> n;
  std::vector<at::Tensor> tensors;
  caf::actor averager;

  caf::expected<averaging::step_result> step(averaging::step_request request,
                                             std::chrono::seconds limit = 60s) {
    caf::scoped_actor self{n->system()};
    caf::expected<averaging::step_result> out{caf::error{}};
    self->request(averager, limit, averaging::step_atom::value,
                  std::move(request))
        .receive([&](averaging::step_result& r) { out = std::move(r); },
                 [&](caf::error& err) { out = std::move(err); });
    return out;
  }

  averaging::averager_status status() {
    caf::scoped_actor self{n->system()};
    averaging::averager_status out;
    self->request(averager, 5s, averaging::averager_status_atom::value)
        .receive([&](averaging::averager_status& s) { out = s; },
                 [](caf::error&) {});
    return out;
  }

  ~averaging_peer() {
    if (averager && n)
      caf::anon_send_exit(averager, caf::exit_reason::user_shutdown);
  }
};

inline averaging::averager_options quick_options(std::string prefix = "model") {
  averaging::averager_options o;
  o.prefix = std::move(prefix);
  o.min_matchmaking_time = 1500ms;
  o.request_timeout = 2000ms;
  o.next_chunk_timeout = 2000ms;
  // Small parts: several per span, so streaming and ordering are exercised.
  o.part_size_bytes = 4096;
  return o;
}

/// Tensors of peer `i`: every element of both is `i + 1`.
inline std::vector<at::Tensor> tensors_of(int i, int64_t size = 3000) {
  return {at::full({size}, float(i + 1)), at::full({17, 5}, float(i + 1))};
}

/// `count` peers, the first a DHT bootstrap for the others.
class averaging_swarm {
 public:
  /// The tensors of peer i.
  using tensors_fn = std::function<std::vector<at::Tensor>(size_t)>;
  /// Adjusts the averager config of peer i before it is spawned.
  using config_fn = std::function<void(size_t, averaging::averager_config&)>;

  /// Peers with `tensors_of(i, tensor_size)`, the last in client mode if
  /// `client_last`. (A template, so that a function or lambda given for
  /// the tensors never converts to this bool.)
  template <class Bool = bool,
            class = std::enable_if_t<std::is_same_v<Bool, bool>>>
  averaging_swarm(size_t count, const averaging::averager_options& options,
                  Bool client_last = false, int64_t tensor_size = 3000)
      : averaging_swarm(
            count, options,
            [tensor_size](size_t i) { return tensors_of(int(i), tensor_size); },
            [count, client_last](size_t i, averaging::averager_config& ac) {
              ac.options.client_mode = client_last && i + 1 == count;
            }) {}

  averaging_swarm(size_t count, const averaging::averager_options& options,
                  const tensors_fn& make_tensors, const config_fn& adjust) {
    for (size_t i = 0; i < count; ++i) {
      averaging::averager_config ac;
      ac.options = options;
      // The node follows the averager's mode (a client has no address).
      if (adjust)
        adjust(i, ac);
      auto cfg = test_config();
      cfg.dht_enabled = true;
      cfg.dht.wait_timeout = 3000ms;
      cfg.client_mode = ac.options.client_mode;
      if (i > 0)
        cfg.initial_peers = {peers_.front()->n->address()};
      auto p = std::make_unique<averaging_peer>();
      p->n = start_node(cfg);
      if (!p->n)
        return;
      if (i > 0)
        if (auto joined = p->n->join_dht(); !joined) {
          ADD_FAILURE() << describe(joined.error());
          return;
        }
      p->tensors = make_tensors(i);
      ac.tensors = p->tensors;
      ac.transport = p->n->transport();
      ac.dht = p->n->dht();
      ac.self = averaging::peer_contact{p->n->me().peer_id(), p->n->address()};
      ac.log = p->n->shared_log();
      ac.seed = 1000 + i;
      auto a = spawn_averager(p->n->system(), std::move(ac));
      if (!a) {
        ADD_FAILURE() << describe(a.error());
        return;
      }
      p->averager = *a;
      peers_.push_back(std::move(p));
    }
  }

  [[nodiscard]] bool ok(size_t count) const { return peers_.size() == count; }
  averaging_peer& operator[](size_t i) { return *peers_[i]; }
  size_t size() const { return peers_.size(); }

  /// Runs one step on every peer at once; returns the outcomes in order.
  std::vector<caf::expected<averaging::step_result>>
  step_all(const std::vector<averaging::step_request>& requests) {
    std::vector<std::future<caf::expected<averaging::step_result>>> pending;
    for (size_t i = 0; i < requests.size(); ++i)
      pending.push_back(std::async(std::launch::async, [this, i, &requests] {
        return peers_[i]->step(requests[i]);
      }));
    std::vector<caf::expected<averaging::step_result>> out;
    for (auto& f : pending)
      out.push_back(f.get());
    return out;
  }

  /// Stops peer i's averager and node.
  void remove(size_t i) {
    if (peers_[i]->averager)
      caf::anon_send_exit(peers_[i]->averager, caf::exit_reason::user_shutdown);
    peers_[i]->averager = nullptr;
    peers_[i]->n.reset();
  }

  /// Whether peer i is still there.
  [[nodiscard]] bool alive(size_t i) const { return peers_[i]->n != nullptr; }

 private:
  std::vector<std::unique_ptr<averaging_peer>> peers_;
};

inline averaging::step_request
request(double weight = 1, std::string gathered = "",
        std::optional<std::chrono::milliseconds> timeout = 20s) {
  averaging::step_request r;
  r.weight = weight;
  r.gathered = std::move(gathered);
  r.timeout = timeout;
  return r;
}

inline double max_distance(const std::vector<at::Tensor>& tensors,
                           double value) {
  double worst = 0;
  for (const auto& t : tensors)
    worst = std::max(worst, (t - value).abs().max().item<double>());
  return worst;
}

/// Copies of `tensors`, for the reference values.
inline std::vector<at::Tensor> clones(const std::vector<at::Tensor>& tensors) {
  std::vector<at::Tensor> out;
  for (const auto& t : tensors)
    out.push_back(t.detach().clone());
  return out;
}

/// The weighted mean of the inputs `inputs[m]` of the members with
/// `weights[m]` (members of weight 0 or left out by `counted` do not
/// count), tensor by tensor, in float64.
inline std::vector<at::Tensor>
weighted_mean(const std::vector<std::vector<at::Tensor>>& inputs,
              const std::vector<double>& weights,
              const std::vector<bool>& counted = {}) {
  std::vector<at::Tensor> out;
  for (size_t t = 0; t < inputs.front().size(); ++t) {
    auto sum = at::zeros(inputs.front()[t].sizes(), at::kDouble);
    double total = 0;
    for (size_t m = 0; m < inputs.size(); ++m) {
      if (!counted.empty() && !counted[m])
        continue;
      sum += inputs[m][t].to(at::kDouble) * weights[m];
      total += weights[m];
    }
    out.push_back(sum / total);
  }
  return out;
}

/// Largest |element| over every tensor of every input.
inline double
largest_magnitude(const std::vector<std::vector<at::Tensor>>& inputs) {
  double m = 0;
  for (const auto& ts : inputs)
    for (const auto& t : ts)
      m = std::max(m, t.abs().max().item<double>());
  return m;
}

/// Largest |a - b| over tensors of one dtype (any dtype if nullopt).
inline double max_error(const std::vector<at::Tensor>& got,
                        const std::vector<at::Tensor>& want,
                        std::optional<at::ScalarType> only = {}) {
  double worst = 0;
  for (size_t t = 0; t < got.size(); ++t) {
    if (only && got[t].scalar_type() != *only)
      continue;
    auto d = (got[t].to(at::kDouble) - want[t].to(at::kDouble)).abs();
    worst = std::max(worst, d.max().item<double>());
  }
  return worst;
}

/// The tensors as one flat float64 vector, in the averager's order.
inline at::Tensor flat(const std::vector<at::Tensor>& tensors) {
  std::vector<at::Tensor> pieces;
  for (const auto& t : tensors)
    pieces.push_back(t.reshape({-1}).to(at::kDouble));
  return at::cat(pieces);
}

/// A part of a round as the test sees it: elements [begin, end) of the
/// flat vector and the member whose span it lies in.
struct round_part {
  size_t reducer = 0;
  size_t index = 0;
  int64_t begin = 0;
  int64_t end = 0;
};

/// The parts the round of `group` cut `tensors` into (as every member
/// derives them: spans by the members' capacities, parts by `options`).
inline std::vector<round_part>
parts_of_round(const averaging::group_info& group,
               const std::vector<at::Tensor>& tensors,
               const averaging::averager_options& options) {
  int64_t total = 0;
  for (const auto& t : tensors)
    total += t.numel();
  auto spans = averaging::partition_vector(static_cast<uint64_t>(total),
                                           averaging::capacities_of(group),
                                           options.min_vector_size);
  if (!spans) {
    ADD_FAILURE() << describe(spans.error());
    return {};
  }
  std::vector<int64_t> sizes;
  for (const auto& s : *spans)
    sizes.push_back(static_cast<int64_t>(s.size()));
  // Parts are cut from copies: the test never writes through them.
  auto parts = averaging::tensor_parts::make(
      clones(tensors), sizes,
      averaging::part_options{options.part_size_bytes, options.compression});
  if (!parts) {
    ADD_FAILURE() << describe(parts.error());
    return {};
  }
  std::vector<round_part> out;
  for (size_t r = 0; r < parts->num_spans(); ++r)
    for (size_t i = 0; i < parts->parts(r).size(); ++i) {
      const auto& p = parts->parts(r)[i];
      out.push_back(round_part{r, i, p.begin, p.end});
    }
  return out;
}

/// What a part of a member holds after a round, among the candidates
/// `candidates` (flat float64 vectors): the index of the first candidate
/// every element of the part is within `tolerance` of, or nullopt.
inline std::optional<size_t>
part_matches(const at::Tensor& got_flat, const round_part& part,
             const std::vector<at::Tensor>& candidates, double tolerance) {
  auto got = got_flat.slice(0, part.begin, part.end);
  for (size_t c = 0; c < candidates.size(); ++c) {
    auto want = candidates[c].slice(0, part.begin, part.end);
    if ((got - want).abs().max().item<double>() <= tolerance)
      return c;
  }
  return std::nullopt;
}

} // namespace colony::testing
