// The options of the MoE layers: the call settings both layers share, their
// defaults (hivemind's, except timeouts and back-off), and the setters that
// both options structs take from the one shared struct.

#include "actors/moe/client/moe_options.hpp"

#include <gtest/gtest.h>

#include <type_traits>

using namespace colony::moe;
using colony::compression_type;
using namespace std::chrono_literals;

namespace {

/// Every field of `MoECallOptions`, compared one by one.
void expect_same_calls(const MoECallOptions& got, const MoECallOptions& want) {
  EXPECT_EQ(got.k_min(), want.k_min());
  EXPECT_EQ(got.forward_timeout(), want.forward_timeout());
  EXPECT_EQ(got.timeout_after_k_min(), want.timeout_after_k_min());
  EXPECT_EQ(got.backward_k_min(), want.backward_k_min());
  EXPECT_EQ(got.backward_timeout(), want.backward_timeout());
  EXPECT_EQ(got.backward_timeout_after_k_min(),
            want.backward_timeout_after_k_min());
  EXPECT_EQ(got.allow_zero_outputs(), want.allow_zero_outputs());
  EXPECT_EQ(got.detect_anomalies(), want.detect_anomalies());
  EXPECT_EQ(got.compression(), want.compression());
  EXPECT_EQ(got.failure_backoff(), want.failure_backoff());
  EXPECT_EQ(got.max_failure_backoff(), want.max_failure_backoff());
}

/// Call settings where every field differs from both layers' defaults.
MoECallOptions unusual_calls() {
  return MoECallOptions()
      .k_min(3)
      .forward_timeout(1234ms)
      .timeout_after_k_min(56ms)
      .backward_k_min(2)
      .backward_timeout(789ms)
      .backward_timeout_after_k_min(12ms)
      .allow_zero_outputs(true)
      .detect_anomalies(true)
      .compression(compression_type::uniform_8bit)
      .failure_backoff(2500ms)
      .max_failure_backoff(7s);
}

template <class Options>
class moe_layer_options : public ::testing::Test {};

using both_layers = ::testing::Types<RemoteMixtureOfExpertsOptions,
                                     RemoteSwitchMixtureOfExpertsOptions>;
TYPED_TEST_SUITE(moe_layer_options, both_layers);

} // namespace

TEST(moe_options, call_defaults_are_hiveminds_but_timeouts_and_backoff) {
  MoECallOptions c;
  // hivemind's RemoteMixtureOfExperts.
  EXPECT_EQ(c.k_min(), 1u);
  EXPECT_EQ(c.backward_k_min(), 1u);
  EXPECT_FALSE(c.timeout_after_k_min().has_value());
  EXPECT_FALSE(c.backward_timeout_after_k_min().has_value());
  EXPECT_FALSE(c.allow_zero_outputs());
  EXPECT_FALSE(c.detect_anomalies());
  EXPECT_EQ(c.compression(), compression_type::none);
  // colony's own: bounded calls, failed experts passed over for a while.
  EXPECT_EQ(c.forward_timeout(), 30s);
  EXPECT_EQ(c.backward_timeout(), 30s);
  EXPECT_EQ(c.failure_backoff(), 1s);
  EXPECT_EQ(c.max_failure_backoff(), 30s);
}

TEST(moe_options, moe_layer_starts_from_the_call_defaults) {
  RemoteMixtureOfExpertsOptions o(16, {4, 8}, "ffn.");
  EXPECT_EQ(o.in_features(), 16);
  EXPECT_EQ(o.grid_size(), (std::vector<int>{4, 8}));
  EXPECT_EQ(o.uid_prefix(), "ffn.");
  EXPECT_EQ(o.k_best(), 4u);
  expect_same_calls(o.calls(), MoECallOptions());
}

TEST(moe_options, switch_layer_defaults_are_hivemind_switch_defaults) {
  RemoteSwitchMixtureOfExpertsOptions o(16, {4, 8}, "ffn.");
  // Neither forward nor backward needs an answer: a sample whose expert
  // fails keeps its input.
  EXPECT_EQ(o.k_min(), 0u);
  EXPECT_EQ(o.backward_k_min(), 0u);
  EXPECT_TRUE(o.allow_zero_outputs());
  expect_same_calls(o.calls(),
                    RemoteSwitchMixtureOfExpertsOptions::default_calls());
  // The rest of the call settings as the MoE layer's.
  expect_same_calls(
      o.calls(),
      MoECallOptions().k_min(0).backward_k_min(0).allow_zero_outputs(true));
  EXPECT_DOUBLE_EQ(o.jitter_eps(), 1e-2);
  EXPECT_DOUBLE_EQ(o.grid_dropout(), 1.0);
  EXPECT_DOUBLE_EQ(o.utilization_alpha(), 0.9);
}

TEST(moe_options, calls_replaces_every_call_setting_switch_defaults_too) {
  auto o = RemoteSwitchMixtureOfExpertsOptions(8, {2}, "x.")
               .calls(MoECallOptions().forward_timeout(5s));
  EXPECT_EQ(o.backward_k_min(), 1u);
  EXPECT_FALSE(o.allow_zero_outputs());
  EXPECT_EQ(o.forward_timeout(), 5s);
  // From the Switch defaults, one setting changed.
  auto kept = RemoteSwitchMixtureOfExpertsOptions(8, {2}, "x.")
                  .calls(RemoteSwitchMixtureOfExpertsOptions::default_calls()
                             .forward_timeout(5s));
  EXPECT_EQ(kept.backward_k_min(), 0u);
  EXPECT_TRUE(kept.allow_zero_outputs());
}

TYPED_TEST(moe_layer_options, every_call_setter_sets_the_shared_struct) {
  using options = TypeParam;
  // Each setter keeps the chain on the layer's own options type.
  static_assert(
      std::is_same_v<decltype(std::declval<options&>().k_min(1)), options&>);
  static_assert(
      std::is_same_v<decltype(std::declval<options&>().max_failure_backoff(1s)),
                     options&>);
  auto want = unusual_calls();
  options o =
      options(8, {2, 2}, "ffn.")
          .k_min(want.k_min())
          .forward_timeout(want.forward_timeout())
          .timeout_after_k_min(want.timeout_after_k_min())
          .backward_k_min(want.backward_k_min())
          .backward_timeout(want.backward_timeout())
          .backward_timeout_after_k_min(want.backward_timeout_after_k_min())
          .allow_zero_outputs(want.allow_zero_outputs())
          .detect_anomalies(want.detect_anomalies())
          .compression(want.compression())
          .failure_backoff(want.failure_backoff())
          .max_failure_backoff(want.max_failure_backoff())
          .uid_prefix("other.");
  expect_same_calls(o.calls(), want);
  EXPECT_EQ(o.uid_prefix(), "other.");
  // The getters read the same struct.
  EXPECT_EQ(o.k_min(), 3u);
  EXPECT_EQ(o.timeout_after_k_min(), std::optional{56ms});
  EXPECT_EQ(o.compression(), compression_type::uniform_8bit);
}

TYPED_TEST(moe_layer_options, one_call_struct_serves_both_layers) {
  using options = TypeParam;
  auto o = options(8, {2, 2}, "ffn.").calls(unusual_calls());
  expect_same_calls(o.calls(), unusual_calls());
  // A setter after calls() changes that one field only.
  o.backward_k_min(0);
  expect_same_calls(o.calls(), unusual_calls().backward_k_min(0));
}
