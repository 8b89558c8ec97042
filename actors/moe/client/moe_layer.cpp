#include "actors/moe/client/moe_layer.hpp"

#include "actors/dht/dht_client.hpp"
#include "actors/moe/client/beam_search.hpp"
#include "actors/moe/client/expert_calls.hpp"
#include "actors/moe/client/moe_routing.hpp"
#include "actors/moe/expert_directory.hpp"
#include "actors/moe/expert_uid.hpp"
#include "messages/error.hpp"

#include <torch/csrc/autograd/custom_function.h>
#include <torch/nn/functional/activation.h>

#include <algorithm>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace colony::moe {

namespace {

std::string join_samples(const std::vector<int64_t>& samples) {
  std::string out;
  for (size_t i = 0; i < samples.size() && i < 8; ++i)
    out += (i ? ", " : "") + std::to_string(samples[i]);
  if (samples.size() > 8)
    out += ", ...";
  return out;
}

/// What the backward of the expert-call step needs besides the saved input.
struct moe_call_record : torch::CustomClassHolder {
  caf::actor_system* system = nullptr;
  caf::actor transport;
  MoECallOptions calls;
  std::vector<expert_batch> batches;
  /// Per batch: answered forward (and so takes part in backward).
  std::vector<bool> answered;
  std::vector<int64_t> answered_forward_per_sample;
  int64_t slots = 0;
  std::shared_ptr<expert_call_stats> stats;
  std::shared_ptr<expert_backoff> backoff;
};

/// The deadlines of one round of forward calls under `o`.
expert_call_deadlines forward_deadlines(const MoECallOptions& o) {
  expert_call_deadlines d;
  d.timeout = o.forward_timeout();
  d.k_min = o.k_min();
  d.timeout_after_k_min = o.timeout_after_k_min();
  return d;
}

/// The deadlines of one round of backward calls under `o`.
expert_call_deadlines backward_deadlines(const MoECallOptions& o) {
  expert_call_deadlines d;
  d.timeout = o.backward_timeout();
  d.k_min = o.backward_k_min();
  d.timeout_after_k_min = o.backward_timeout_after_k_min();
  return d;
}

/// Tells the back-off which of `batches` answered; with `called`, only
/// about the batches called (backward calls those that answered forward).
void record_outcomes(expert_backoff& backoff,
                     const std::vector<expert_batch>& batches,
                     const std::vector<bool>& answered,
                     const std::vector<bool>* called = nullptr) {
  for (size_t b = 0; b < batches.size(); ++b) {
    if (called && !(*called)[b])
      continue;
    if (answered[b])
      backoff.answered(batches[b].expert.uid);
    else
      backoff.failed(batches[b].expert.uid);
  }
}

/// The expert-call step as one autograd node: input (batch, in_features) ->
/// stacked outputs (batch, slots, row_shape...) with zeros where the mask is
/// false, and the mask (batch, slots), which takes no gradient.
class moe_call_function : public torch::autograd::Function<moe_call_function> {
 public:
  static torch::autograd::variable_list
  forward(torch::autograd::AutogradContext* ctx,
          c10::intrusive_ptr<moe_call_record> record, const at::Tensor& input) {
    auto& r = *record;
    auto x = input.detach();
    std::vector<expert_call> calls;
    calls.reserve(r.batches.size());
    for (const auto& b : r.batches)
      calls.push_back(expert_call{b.expert.address,
                                  b.expert.uid,
                                  "forward",
                                  {x.index_select(0, row_index(b))}});
    auto replies =
        call_experts(*r.system, r.transport, std::move(calls),
                     forward_deadlines(r.calls), r.calls.compression());
    std::vector<at::Tensor> outputs(r.batches.size());
    r.answered.assign(r.batches.size(), false);
    // Replies that could be used, and their row shapes.
    std::vector<size_t> usable;
    std::vector<std::vector<int64_t>> shapes;
    for (size_t b = 0; b < replies.size(); ++b) {
      if (!replies[b] || replies[b]->size() != 1)
        continue;
      auto& y = replies[b]->front();
      auto rows = static_cast<int64_t>(r.batches[b].rows.size());
      if (y.dim() < 1 || y.size(0) != rows || !y.is_floating_point())
        continue;
      if (r.calls.detect_anomalies() && !all_finite(y))
        continue;
      usable.push_back(b);
      shapes.push_back(y.sizes().slice(1).vec());
    }
    // Experts of another shape cannot be mixed in: the majority's wins.
    auto input_row_shape = x.sizes().slice(1).vec();
    auto picked = pick_row_shape(shapes, input_row_shape);
    bool have_shape = picked.has_value();
    std::vector<int64_t> row_shape;
    auto dtype = x.scalar_type();
    if (have_shape) {
      row_shape = shapes[*picked];
      dtype = replies[usable[*picked]]->front().scalar_type();
    }
    for (size_t i = 0; i < usable.size(); ++i) {
      auto b = usable[i];
      auto& y = replies[b]->front();
      if (shapes[i] != row_shape || y.scalar_type() != dtype)
        continue;
      outputs[b] = y;
      r.answered[b] = true;
    }
    record_outcomes(*r.backoff, r.batches, r.answered);
    auto answered_calls =
        std::count(r.answered.begin(), r.answered.end(), true);
    r.stats->forward_calls += r.batches.size();
    r.stats->forward_failures +=
        r.batches.size() - static_cast<size_t>(answered_calls);
    if (!have_shape) // nobody answered: zeros as wide as the input
      row_shape = input_row_shape;
    auto samples = x.size(0);
    auto mask = build_mask(samples, r.slots, r.batches, r.answered);
    r.answered_forward_per_sample = answered_per_sample(mask);
    auto stacked =
        scatter_outputs(samples, r.slots, r.batches, outputs, row_shape, dtype);
    ctx->save_for_backward({x});
    ctx->saved_data["record"] = c10::IValue::make_capsule(record);
    ctx->mark_non_differentiable({mask});
    return {stacked, mask};
  }

  static torch::autograd::variable_list
  backward(torch::autograd::AutogradContext* ctx,
           torch::autograd::variable_list grad_outputs) {
    auto holder = ctx->saved_data["record"].toCapsule();
    auto& r = static_cast<moe_call_record&>(*holder);
    auto x = ctx->get_saved_variables()[0];
    auto grad_input = torch::zeros_like(x);
    const auto& grad = grad_outputs[0];
    if (!grad.defined())
      return {at::Tensor{}, grad_input};
    if (r.calls.detect_anomalies() && !all_finite(grad))
      throw std::runtime_error(
          "mixture of experts: NaN or inf in the output gradients");
    std::vector<expert_call> calls;
    std::vector<size_t> batch_of_call;
    for (size_t b = 0; b < r.batches.size(); ++b) {
      if (!r.answered[b])
        continue;
      const auto& batch = r.batches[b];
      calls.push_back(expert_call{batch.expert.address,
                                  batch.expert.uid,
                                  "backward",
                                  {x.index_select(0, row_index(batch)),
                                   gather_outputs(grad, batch).contiguous()}});
      batch_of_call.push_back(b);
    }
    auto replies =
        call_experts(*r.system, r.transport, std::move(calls),
                     backward_deadlines(r.calls), r.calls.compression());
    std::vector<bool> answered(r.batches.size(), false);
    for (size_t c = 0; c < replies.size(); ++c) {
      if (!replies[c] || replies[c]->empty())
        continue;
      auto b = batch_of_call[c];
      auto& g = replies[c]->front();
      if (!g.defined() ||
          g.sizes() != x.index_select(0, row_index(r.batches[b])).sizes())
        continue;
      if (r.calls.detect_anomalies() && !all_finite(g))
        continue;
      accumulate_rows(grad_input, r.batches[b], g);
      answered[b] = true;
    }
    record_outcomes(*r.backoff, r.batches, answered, &r.answered);
    auto answered_calls = std::count(answered.begin(), answered.end(), true);
    r.stats->backward_calls += batch_of_call.size();
    r.stats->backward_failures +=
        batch_of_call.size() - static_cast<size_t>(answered_calls);
    if (!r.calls.allow_zero_outputs()) {
      auto mask = build_mask(x.size(0), r.slots, r.batches, answered);
      auto short_of = samples_short_of_answers(answered_per_sample(mask),
                                               r.answered_forward_per_sample,
                                               r.calls.backward_k_min());
      if (!short_of.empty())
        throw std::runtime_error(
            "mixture of experts backward: " + std::to_string(short_of.size()) +
            " samples got fewer than backward_k_min = " +
            std::to_string(r.calls.backward_k_min()) +
            " expert gradients (samples " + join_samples(short_of) + ")");
    }
    return {at::Tensor{}, grad_input};
  }
};

int64_t grid_width(const std::vector<int>& grid_size) {
  return std::accumulate(grid_size.begin(), grid_size.end(), int64_t{0});
}

} // namespace

struct RemoteMixtureOfExpertsImpl::search_state {
  std::unique_ptr<dht::dht_client> client;
  std::chrono::steady_clock::time_point deadline;
  std::unique_ptr<beam_searcher> searcher;
};

RemoteMixtureOfExpertsImpl::RemoteMixtureOfExpertsImpl(
    caf::actor_system& system, caf::actor transport, caf::actor dht,
    RemoteMixtureOfExpertsOptions options)
    : system_(&system), transport_(std::move(transport)), dht_(std::move(dht)),
      options_(std::move(options)) {
  reset();
}

void RemoteMixtureOfExpertsImpl::reset() {
  if (options_.grid_size().empty())
    throw std::invalid_argument("mixture of experts: empty grid");
  for (int n : options_.grid_size())
    if (n <= 0)
      throw std::invalid_argument(
          "mixture of experts: grid sizes must be positive");
  proj = register_module("proj",
                         torch::nn::Linear(options_.in_features(),
                                           grid_width(options_.grid_size())));
  search_.reset(); // a clone searches with a cache of its own
  expert_backoff_options backoff;
  backoff.initial_s =
      std::chrono::duration<double>(options_.failure_backoff()).count();
  backoff.max_s =
      std::chrono::duration<double>(options_.max_failure_backoff()).count();
  backoff_ = std::make_shared<expert_backoff>(std::move(backoff));
  last_chosen_experts.clear();
  last_expert_scores = at::Tensor{};
  last_mask = at::Tensor{};
}

std::vector<at::Tensor>
RemoteMixtureOfExpertsImpl::grid_logits(const at::Tensor& input) {
  auto logits = proj->forward(input);
  std::vector<int64_t> sizes(options_.grid_size().begin(),
                             options_.grid_size().end());
  return logits.split_with_sizes(sizes, 1);
}

at::Tensor RemoteMixtureOfExpertsImpl::expert_scores(
    const std::vector<at::Tensor>& grid_logits,
    const std::vector<std::vector<expert_info>>& experts) const {
  const auto& grid = options_.grid_size();
  if (grid_logits.size() != grid.size())
    throw std::invalid_argument(
        "mixture of experts: " + std::to_string(grid_logits.size()) +
        " grid logits for a grid of " + std::to_string(grid.size()) +
        " dimensions");
  auto samples = static_cast<int64_t>(experts.size());
  auto slots = slot_count(experts);
  // Per dimension, the coordinate of each (sample, slot); 0 for empty slots.
  std::vector<at::Tensor> index;
  for (size_t d = 0; d < grid.size(); ++d)
    index.push_back(torch::zeros({samples, slots}, torch::kLong));
  for (int64_t s = 0; s < samples; ++s) {
    for (int64_t k = 0; k < static_cast<int64_t>(experts[s].size()); ++k) {
      const auto& uid = experts[s][k].uid;
      auto parsed = parse_uid(uid);
      if (!parsed || uid.rfind(options_.uid_prefix(), 0) != 0 ||
          parsed->coordinates.size() != grid.size())
        throw std::invalid_argument("mixture of experts: expert " + uid +
                                    " is not on the grid of " +
                                    options_.uid_prefix());
      for (size_t d = 0; d < grid.size(); ++d) {
        auto c = parsed->coordinates[d];
        if (c >= grid[d])
          throw std::invalid_argument("mixture of experts: expert " + uid +
                                      " is outside the grid");
        index[d].accessor<int64_t, 2>()[s][k] = c;
      }
    }
  }
  auto scores = torch::zeros({samples, slots}, grid_logits[0].options());
  for (size_t d = 0; d < grid.size(); ++d)
    scores = scores + grid_logits[d].gather(1, index[d]);
  auto filled = torch::zeros({samples, slots}, torch::kBool);
  for (int64_t s = 0; s < samples; ++s)
    for (size_t k = 0; k < experts[s].size(); ++k)
      filled.accessor<bool, 2>()[s][static_cast<int64_t>(k)] = true;
  return scores * filled.to(scores.scalar_type());
}

at::Tensor RemoteMixtureOfExpertsImpl::forward_with_experts(
    const at::Tensor& input,
    const std::vector<std::vector<expert_info>>& experts) {
  return forward_with_experts(input, grid_logits(input), experts);
}

at::Tensor RemoteMixtureOfExpertsImpl::forward_with_experts(
    const at::Tensor& input, const std::vector<at::Tensor>& logits,
    const std::vector<std::vector<expert_info>>& experts) {
  if (input.dim() != 2 || input.size(1) != options_.in_features())
    throw std::invalid_argument(
        "mixture of experts: expected input of shape (batch, " +
        std::to_string(options_.in_features()) + ")");
  if (static_cast<int64_t>(experts.size()) != input.size(0))
    throw std::invalid_argument(
        "mixture of experts: " + std::to_string(experts.size()) +
        " expert lists for a batch of " + std::to_string(input.size(0)));
  if (options_.detect_anomalies() && !all_finite(input))
    throw std::runtime_error("mixture of experts: NaN or inf in the input");
  auto scores = expert_scores(logits, experts);
  auto record = c10::make_intrusive<moe_call_record>();
  record->system = system_;
  record->transport = transport_;
  record->calls = options_.calls();
  record->batches = group_by_expert(experts);
  record->slots = slot_count(experts);
  record->stats = call_stats_;
  record->backoff = backoff_;
  auto outs = moe_call_function::apply(record, input);
  auto stacked = outs[0];
  auto mask = outs[1];
  last_chosen_experts = experts;
  last_expert_scores = scores;
  last_mask = mask;
  if (!options_.allow_zero_outputs()) {
    auto short_of =
        samples_short_of_answers(answered_per_sample(mask),
                                 chosen_per_sample(experts), options_.k_min());
    if (!short_of.empty())
      throw std::runtime_error(
          "mixture of experts: " + std::to_string(short_of.size()) +
          " samples got fewer than k_min = " +
          std::to_string(options_.k_min()) + " expert answers (samples " +
          join_samples(short_of) + ")");
  }
  // Softmax over the answering experts; samples without any get weight 0
  // everywhere (softmax over finite scores, then masked: no NaN).
  auto any_alive = mask.any(1, /*keepdim=*/true);
  auto masked = scores.masked_fill(mask.logical_not().logical_and(any_alive),
                                   -std::numeric_limits<double>::infinity());
  auto weights = torch::softmax(masked, 1) * mask.to(scores.scalar_type());
  auto flat = stacked.flatten(2);
  auto mixed = (weights.unsqueeze(-1).to(flat.scalar_type()) * flat).sum(1);
  std::vector<int64_t> shape{input.size(0)};
  for (int64_t d = 2; d < stacked.dim(); ++d)
    shape.push_back(stacked.size(d));
  return mixed.view(shape);
}

at::Tensor RemoteMixtureOfExpertsImpl::forward(const at::Tensor& input) {
  if (input.dim() != 2 || input.size(1) != options_.in_features())
    throw std::invalid_argument(
        "mixture of experts: expected input of shape (batch, " +
        std::to_string(options_.in_features()) + ")");
  if (options_.detect_anomalies() && !all_finite(input))
    throw std::runtime_error("mixture of experts: NaN or inf in the input");
  auto logits = grid_logits(input);
  return forward_with_experts(input, logits,
                              find_experts(logits, options_.k_best()));
}

std::vector<std::vector<expert_info>>
RemoteMixtureOfExpertsImpl::find_experts(const std::vector<at::Tensor>& logits,
                                         size_t k) {
  if (!dht_)
    throw std::runtime_error("mixture of experts: no DHT to search experts in");
  auto samples = logits.empty() ? 0 : logits.front().size(0);
  // Scores per sample, dimension, coordinate, for the search.
  std::vector<std::vector<std::vector<float>>> grid_scores(samples);
  std::vector<at::Tensor> detached;
  for (auto& l : logits)
    detached.push_back(l.detach().to(torch::kFloat).cpu().contiguous());
  for (int64_t s = 0; s < samples; ++s)
    for (auto& l : detached) {
      const float* row = l.data_ptr<float>() + s * l.size(1);
      grid_scores[s].emplace_back(row, row + l.size(1));
    }
  if (!search_) {
    search_ = std::make_shared<search_state>();
    search_->client = std::make_unique<dht::dht_client>(*system_, dht_);
    auto* state = search_.get();
    successor_lookup lookup = [state](const std::vector<std::string>& keys) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          state->deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        throw std::runtime_error("beam search: forward_timeout passed");
      return dht_successor_lookup(*state->client, left)(keys);
    };
    search_->searcher = std::make_unique<beam_searcher>(
        options_.uid_prefix(), options_.grid_size(), std::move(lookup));
  }
  search_->deadline =
      std::chrono::steady_clock::now() + options_.forward_timeout();
  auto search = [&](const std::vector<std::vector<std::vector<float>>>& scores,
                    const expert_filter& skip) {
    auto found = search_->searcher->batch_find_best_experts(scores, k, skip);
    if (!found)
      throw std::runtime_error("mixture of experts: beam search failed: " +
                               error_reason(found.error()));
    return std::move(*found);
  };
  auto held = backoff_->skipped_uids();
  expert_filter skip;
  if (!held.empty())
    skip = [&held](const std::string& uid) {
      return held.count(uid) > 0;
    };
  auto found = search(grid_scores, skip);
  if (skip) {
    // Held-back experts are better than none: samples the skip left empty
    // search again without it.
    std::vector<std::vector<std::vector<float>>> again;
    std::vector<size_t> which;
    for (size_t s = 0; s < found.size(); ++s)
      if (found[s].empty()) {
        again.push_back(grid_scores[s]);
        which.push_back(s);
      }
    if (!again.empty()) {
      auto more = search(again, {});
      for (size_t i = 0; i < which.size(); ++i)
        found[which[i]] = std::move(more[i]);
    }
  }
  bool any = false;
  for (const auto& experts : found)
    any = any || !experts.empty();
  if (!any)
    throw std::runtime_error(
        "mixture of experts: no experts found for prefix " +
        options_.uid_prefix() + " (grid of " +
        std::to_string(options_.grid_size().size()) + " dimensions)");
  return found;
}

} // namespace colony::moe
