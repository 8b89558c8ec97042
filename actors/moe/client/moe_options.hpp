#pragma once

// The options of the mixture-of-experts layers in one place, as LevelDB
// keeps its options.h: `MoECallOptions`, what `RemoteMixtureOfExperts` and
// `RemoteSwitchMixtureOfExperts` share about their expert calls (deadlines,
// answers needed, zero outputs, anomaly checks, codec, back-off), and each
// layer's own options, which embed it and take its setters as their own.
// Light: no LibTorch module headers, so configs and unit tests include it
// cheaply.

#include "messages/tensor_codec.hpp"

#include <torch/arg.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace colony::moe {

/// How the MoE layers call their experts; one struct for both layers.
///
/// Defaults are those of hivemind's RemoteMixtureOfExperts, except the
/// timeouts (30 s each; hivemind waits without bound, so one silent expert
/// stalls a step forever) and the back-off for failed experts (1 s to 30 s;
/// hivemind has none and re-picks a dead or poisoned expert every step until
/// its DHT entry expires). `RemoteSwitchMixtureOfExpertsOptions` starts from
/// `RemoteSwitchMixtureOfExpertsOptions::default_calls()` instead.
struct MoECallOptions {
  /// Forward calls that must answer before `timeout_after_k_min` starts;
  /// also the answers each sample needs unless `allow_zero_outputs` (at
  /// most its number of experts). 0: every call gets `forward_timeout`.
  TORCH_ARG(size_t, k_min) = 1;
  /// Deadline of the beam search and of the forward calls, each.
  TORCH_ARG(std::chrono::milliseconds,
            forward_timeout) = std::chrono::seconds(30);
  /// Once `k_min` forward calls answered, how much longer the others may
  /// take; nullopt: until `forward_timeout`.
  TORCH_ARG(std::optional<std::chrono::milliseconds>,
            timeout_after_k_min) = std::nullopt;
  /// `k_min` of the backward calls: the expert gradients each sample needs
  /// unless `allow_zero_outputs` (at most the experts that answered its
  /// forward). 0: backward needs no answer.
  TORCH_ARG(size_t, backward_k_min) = 1;
  /// Deadline of the backward calls.
  TORCH_ARG(std::chrono::milliseconds,
            backward_timeout) = std::chrono::seconds(30);
  /// `timeout_after_k_min` of the backward calls (hivemind uses
  /// `timeout_after_k_min` for both).
  TORCH_ARG(std::optional<std::chrono::milliseconds>,
            backward_timeout_after_k_min) = std::nullopt;
  /// Samples short of `k_min` answers (or `backward_k_min` gradients) are
  /// not an error: without any answer they get zeros (MoE) or their input
  /// (Switch), and zero expert gradients.
  TORCH_ARG(bool, allow_zero_outputs) = false;
  /// Refuse NaN/inf inputs and output gradients (exception); count experts
  /// whose outputs or input gradients hold NaN/inf as failed.
  TORCH_ARG(bool, detect_anomalies) = false;
  /// Codec of the tensors this side sends.
  TORCH_ARG(compression_type, compression) = compression_type::none;
  /// After an expert fails a call (no answer in time, an error, NaN/inf
  /// with `detect_anomalies`, an output of the wrong shape), the layer's
  /// search passes it over for this long, doubling with each further
  /// failure in a row up to `max_failure_backoff` (see `expert_backoff`).
  /// Zero: never (hivemind's behaviour).
  TORCH_ARG(std::chrono::milliseconds,
            failure_backoff) = std::chrono::seconds(1);
  /// Cap of `failure_backoff`'s doubling; a restarted server (same
  /// address) is probed again at least this often.
  TORCH_ARG(std::chrono::milliseconds,
            max_failure_backoff) = std::chrono::seconds(30);
};

// One setter and one getter of an `MoECallOptions` field, on the options
// struct that embeds it: the setter returns the embedding struct, so a
// chain goes on with its own setters.
#define COLONY_MOE_CALL_ARG(T, name)                                           \
  Options& name(T value) {                                                     \
    self().calls().name(std::move(value));                                     \
    return self();                                                             \
  }                                                                            \
  [[nodiscard]] const T& name() const noexcept {                               \
    return self().calls().name();                                              \
  }

/// The fields of `MoECallOptions` as setters (and getters) of a layer's
/// options `Options`, which keeps them in `calls()`: each `x(value)` sets
/// `calls().x(value)` and returns `Options&`, so that
/// `RemoteMixtureOfExpertsOptions(512, {4, 8}, "ffn.").k_best(4)
/// .forward_timeout(5s)` reads as one chain. Both layers take them from
/// here: a field added to `MoECallOptions` needs one line below to be
/// settable on both.
template <class Options>
class moe_call_setters {
 public:
  COLONY_MOE_CALL_ARG(size_t, k_min)
  COLONY_MOE_CALL_ARG(std::chrono::milliseconds, forward_timeout)
  COLONY_MOE_CALL_ARG(std::optional<std::chrono::milliseconds>,
                      timeout_after_k_min)
  COLONY_MOE_CALL_ARG(size_t, backward_k_min)
  COLONY_MOE_CALL_ARG(std::chrono::milliseconds, backward_timeout)
  COLONY_MOE_CALL_ARG(std::optional<std::chrono::milliseconds>,
                      backward_timeout_after_k_min)
  COLONY_MOE_CALL_ARG(bool, allow_zero_outputs)
  COLONY_MOE_CALL_ARG(bool, detect_anomalies)
  COLONY_MOE_CALL_ARG(compression_type, compression)
  COLONY_MOE_CALL_ARG(std::chrono::milliseconds, failure_backoff)
  COLONY_MOE_CALL_ARG(std::chrono::milliseconds, max_failure_backoff)

 private:
  Options& self() noexcept { return static_cast<Options&>(*this); }
  const Options& self() const noexcept {
    return static_cast<const Options&>(*this);
  }
};

#undef COLONY_MOE_CALL_ARG

/// Settings of a `RemoteMixtureOfExperts`: its grid and `k_best`, and the
/// call settings (`calls()`, also set one by one through the setters of
/// `moe_call_setters`). Defaults: see `MoECallOptions`; `k_best` (which
/// hivemind requires) is 4.
struct RemoteMixtureOfExpertsOptions
    : moe_call_setters<RemoteMixtureOfExpertsOptions> {
  RemoteMixtureOfExpertsOptions(int64_t in_features, std::vector<int> grid_size,
                                std::string uid_prefix)
      : in_features_(in_features), grid_size_(std::move(grid_size)),
        uid_prefix_(std::move(uid_prefix)) {}
  /// Width of the input (and of the experts' inputs).
  TORCH_ARG(int64_t, in_features);
  /// Coordinates per grid dimension, e.g. {4, 8} for `ffn.[0:4].[0:8]`.
  TORCH_ARG(std::vector<int>, grid_size);
  /// The prefix of the grid's uids, e.g. `ffn.`.
  TORCH_ARG(std::string, uid_prefix);
  /// Experts chosen per sample.
  TORCH_ARG(size_t, k_best) = 4;
  /// How the experts are called; `calls(c)` replaces all of it.
  TORCH_ARG(MoECallOptions, calls);
};

/// Settings of a `RemoteSwitchMixtureOfExperts`: its grid, the call
/// settings (as in `RemoteMixtureOfExpertsOptions`, starting from
/// `default_calls()`) and the Switch gating's own. Defaults are hivemind's,
/// except the timeouts and the back-off (see `MoECallOptions`).
struct RemoteSwitchMixtureOfExpertsOptions
    : moe_call_setters<RemoteSwitchMixtureOfExpertsOptions> {
  RemoteSwitchMixtureOfExpertsOptions(int64_t in_features,
                                      std::vector<int> grid_size,
                                      std::string uid_prefix)
      : in_features_(in_features), grid_size_(std::move(grid_size)),
        uid_prefix_(std::move(uid_prefix)) {}

  /// The call settings a Switch layer starts from, hivemind's: `k_min` 0,
  /// `backward_k_min` 0 and `allow_zero_outputs` (a sample whose expert
  /// does not answer keeps its input, so neither forward nor backward needs
  /// an answer); the rest as in `MoECallOptions`.
  [[nodiscard]] static MoECallOptions default_calls() {
    return MoECallOptions().k_min(0).backward_k_min(0).allow_zero_outputs(true);
  }

  /// Width of the input (and of the experts' inputs and outputs).
  TORCH_ARG(int64_t, in_features);
  /// Coordinates per grid dimension.
  TORCH_ARG(std::vector<int>, grid_size);
  /// The prefix of the grid's uids, e.g. `ffn.`.
  TORCH_ARG(std::string, uid_prefix);
  /// How the experts are called; `calls(c)` replaces all of it, the
  /// Switch defaults included (start from `default_calls()` to keep them).
  TORCH_ARG(MoECallOptions, calls) = default_calls();
  /// Training only: the gating sees input * uniform(1 - eps, 1 + eps).
  TORCH_ARG(double, jitter_eps) = 1e-2;
  /// Training only: keep probability of each grid coordinate per forward;
  /// dropped coordinates get -inf gating logits (never chosen).
  TORCH_ARG(double, grid_dropout) = 1.0;
  /// Weight of the old value in the utilization moving average.
  TORCH_ARG(double, utilization_alpha) = 0.9;
};

} // namespace colony::moe
