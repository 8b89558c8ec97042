// What a step leaves in the tensors, checked against means computed in
// float64 from copies of the inputs: several tensors of different shapes
// and dtypes cut into many parts, distinct weights, the float16 codec,
// `averaging_alpha`, an auxiliary member, and dtypes the averager refuses.

#include "tests/integration/averaging/averager_fixture.hpp"

#include <set>
#include <vector>

using namespace colony;
using namespace colony::averaging;
using namespace colony::testing;
using namespace std::chrono_literals;

namespace {

/// Part size of these tests (bytes): 128 float32, 64 float64 or 256
/// float16 elements, so that every span has many parts.
constexpr uint64_t small_part_bytes = 512;

averager_options values_options() {
  auto o = quick_options();
  o.part_size_bytes = small_part_bytes;
  o.target_group_size = 4;
  return o;
}

/// Peer i's tensors: float32, float64 and float16 tensors of several
/// shapes, 4126 elements in all (not a multiple of any part's size),
/// distinct normal noise per peer around an offset of its own.
std::vector<at::Tensor> mixed_tensors(size_t i) {
  auto gen = at::detail::createCPUGenerator(77 + i);
  auto noise = [&](std::vector<int64_t> shape, at::ScalarType dtype) {
    auto t = at::randn(shape, gen, at::TensorOptions(at::kDouble));
    return (t * double(i + 1) + double(i)).to(dtype).contiguous();
  };
  return {noise({37, 53}, at::kFloat), noise({1001}, at::kDouble),
          noise({3, 129}, at::kHalf), noise({777}, at::kFloat)};
}

constexpr int64_t mixed_numel = 37 * 53 + 1001 + 3 * 129 + 777;

/// Checks peer tensors `got` against `want`: float32 and float64 within
/// `fp32_tolerance` and float16 within `fp16_tolerance` (absolute).
void expect_close(const std::vector<at::Tensor>& got,
                  const std::vector<at::Tensor>& want, double fp32_tolerance,
                  double fp16_tolerance, const std::string& who) {
  ASSERT_EQ(got.size(), want.size());
  EXPECT_LE(max_error(got, want, at::kFloat), fp32_tolerance) << who;
  EXPECT_LE(max_error(got, want, at::kDouble), fp32_tolerance) << who;
  EXPECT_LE(max_error(got, want, at::kHalf), fp16_tolerance) << who;
}

/// Runs one step of four peers with `weights` and checks they all hold
/// the weighted mean within the tolerances (relative to the largest
/// magnitude of the inputs).
void four_peers_hold_the_weighted_mean(const averager_options& options,
                                       double fp32_relative,
                                       double fp16_relative) {
  const std::vector<double> weights{1, 2, 0.5, 3.5};
  averaging_swarm swarm(4, options, mixed_tensors, {});
  ASSERT_TRUE(swarm.ok(4));
  std::vector<std::vector<at::Tensor>> inputs;
  for (size_t i = 0; i < 4; ++i)
    inputs.push_back(clones(swarm[i].tensors));
  auto want = weighted_mean(inputs, weights);
  auto largest = largest_magnitude(inputs);
  std::vector<step_request> requests;
  for (size_t i = 0; i < 4; ++i)
    requests.push_back(
        request(weights[i], std::string("g\0", 2) + std::to_string(i * 7)));
  auto results = swarm.step_all(requests);
  for (size_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(results[i]) << i << ": " << describe(results[i].error());
    const auto& r = *results[i];
    ASSERT_EQ(r.group.members.size(), 4u);
    EXPECT_EQ(r.kept_parts, 0u) << i;
    EXPECT_GT(r.averaged_parts, 0u) << i;
    // Every member's gathered bytes, in group order, for every member.
    ASSERT_EQ(r.gathered.size(), 4u);
    std::set<std::string> gathered(r.gathered.begin(), r.gathered.end());
    std::set<std::string> sent;
    for (size_t k = 0; k < 4; ++k)
      sent.insert(requests[k].gathered);
    EXPECT_EQ(gathered, sent) << i;
    EXPECT_EQ(r.gathered[r.index], requests[i].gathered) << i;
    for (size_t k = 0; k < 4; ++k)
      EXPECT_EQ(r.gathered[k], results[0]->gathered[k]) << i;
    expect_close(swarm[i].tensors, want, fp32_relative * largest,
                 fp16_relative * largest, "peer " + std::to_string(i));
  }
}

} // namespace

TEST(averager_values,
     mixed_dtypes_in_many_parts_reach_the_exact_weighted_mean) {
  auto o = values_options();
  // Many parts per span, and a total no part size divides.
  auto probe = tensor_parts::make(clones(mixed_tensors(0)), {mixed_numel},
                                  part_options{o.part_size_bytes, {}});
  ASSERT_TRUE(probe) << describe(probe.error());
  EXPECT_GT(probe->parts(0).size(), 30u);
  for (int64_t elements : {128, 64, 256})
    EXPECT_NE(mixed_numel % elements, 0) << elements;
  // float16 tensors hold the mean to their own precision (an ulp or two).
  four_peers_hold_the_weighted_mean(o, 1e-6, 2e-3);
}

TEST(averager_values, the_float16_codec_stays_within_its_precision) {
  auto o = values_options();
  o.compression.codec = compression_type::float16;
  // Every tensor large enough to travel compressed.
  o.compression.min_compressed_numel = 1;
  auto probe =
      tensor_parts::make(clones(mixed_tensors(0)), {mixed_numel},
                         part_options{o.part_size_bytes, o.compression});
  ASSERT_TRUE(probe) << describe(probe.error());
  size_t compressed = 0;
  for (const auto& p : probe->parts(0))
    compressed += p.codec == compression_type::float16;
  EXPECT_GT(compressed, 0u) << "the float32 and float64 parts are compressed";
  four_peers_hold_the_weighted_mean(o, 2e-3, 2e-3);
}

TEST(averager_values, averaging_alpha_half_lands_halfway_to_the_mean) {
  auto o = values_options();
  o.averaging_alpha = 0.5;
  averaging_swarm swarm(4, o, mixed_tensors, {});
  ASSERT_TRUE(swarm.ok(4));
  std::vector<std::vector<at::Tensor>> inputs;
  for (size_t i = 0; i < 4; ++i)
    inputs.push_back(clones(swarm[i].tensors));
  auto mean = weighted_mean(inputs, {1, 1, 1, 1});
  auto largest = largest_magnitude(inputs);
  auto results = swarm.step_all({request(), request(), request(), request()});
  for (size_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(results[i]) << i << ": " << describe(results[i].error());
    EXPECT_EQ(results[i]->kept_parts, 0u);
    std::vector<at::Tensor> halfway;
    for (size_t t = 0; t < mean.size(); ++t)
      halfway.push_back((inputs[i][t].to(at::kDouble) + mean[t]) / 2);
    expect_close(swarm[i].tensors, halfway, 1e-6 * largest, 2e-3 * largest,
                 "peer " + std::to_string(i));
    // Not the mean itself: it moved only half the way.
    EXPECT_GT(max_error(swarm[i].tensors, mean, at::kDouble), 0.1) << i;
  }
}

TEST(averager_values, an_auxiliary_member_reduces_but_contributes_nothing) {
  // Peer 3 is auxiliary: it reduces a span for the others, its own tensors
  // (far from the others) count for nothing and stay as they are.
  auto o = values_options();
  averaging_swarm swarm(
      4, o,
      [](size_t i) {
        auto t = mixed_tensors(i);
        if (i == 3)
          for (auto& x : t)
            x.fill_(1000);
        return t;
      },
      [](size_t i, averager_config& ac) { ac.options.auxiliary = i == 3; });
  ASSERT_TRUE(swarm.ok(4));
  std::vector<std::vector<at::Tensor>> inputs;
  for (size_t i = 0; i < 4; ++i)
    inputs.push_back(clones(swarm[i].tensors));
  const std::vector<double> weights{1, 2, 3, 5};
  auto want = weighted_mean(inputs, weights, {true, true, true, false});
  auto largest = largest_magnitude({inputs[0], inputs[1], inputs[2]});
  auto results = swarm.step_all(
      {request(1, "a"), request(2, "b"), request(3, "c"), request(5, "aux")});
  for (size_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(results[i]) << i << ": " << describe(results[i].error());
    const auto& r = *results[i];
    ASSERT_EQ(r.group.members.size(), 4u);
    EXPECT_EQ(r.gathered.size(), 4u);
    if (i == 3) {
      EXPECT_EQ(r.averaged_parts, 0u);
      EXPECT_EQ(r.kept_parts, 0u);
      continue;
    }
    EXPECT_EQ(r.kept_parts, 0u) << i;
    expect_close(swarm[i].tensors, want, 1e-6 * largest, 2e-3 * largest,
                 "peer " + std::to_string(i));
  }
  // It reduced a span (parts came to it) and kept its own tensors.
  EXPECT_GT(swarm[3].status().parts_received, 0u);
  EXPECT_EQ(max_error(swarm[3].tensors, inputs[3]), 0);
}

TEST(averager_values, tensors_that_are_not_floating_are_refused_clearly) {
  auto cfg = test_config();
  cfg.dht_enabled = true;
  auto n = start_node(cfg);
  ASSERT_TRUE(n);
  for (auto dtype : {at::kLong, at::kInt, at::kBool}) {
    averager_config ac;
    ac.options = values_options();
    ac.tensors = {at::zeros({10}), at::zeros({4}, at::TensorOptions(dtype))};
    ac.transport = n->transport();
    ac.dht = n->dht();
    ac.self = peer_contact{n->me().peer_id(), n->address()};
    ac.log = n->shared_log();
    auto a = spawn_averager(n->system(), std::move(ac));
    ASSERT_FALSE(a) << c10::toString(dtype);
    EXPECT_TRUE(is_error(a.error(), errc::invalid_argument));
    auto text = describe(a.error());
    EXPECT_NE(text.find(c10::toString(dtype)), std::string::npos) << text;
    EXPECT_NE(text.find("only floating tensors"), std::string::npos) << text;
  }
  // bfloat16 is floating: accepted.
  averager_config ac;
  ac.options = values_options();
  ac.tensors = {at::zeros({10}, at::TensorOptions(at::kBFloat16))};
  ac.transport = n->transport();
  ac.dht = n->dht();
  ac.self = peer_contact{n->me().peer_id(), n->address()};
  ac.log = n->shared_log();
  auto a = spawn_averager(n->system(), std::move(ac));
  ASSERT_TRUE(a) << describe(a.error());
  caf::anon_send_exit(*a, caf::exit_reason::user_shutdown);
}
