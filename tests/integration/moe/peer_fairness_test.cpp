// Per-peer limits at an expert server: a peer that floods a server with
// calls gets `overloaded` ("busy") answers once over its quota, while
// another peer's calls are all served.

#include "actors/moe/client/expert_client.hpp"
#include "actors/moe/expert_description.hpp"
#include "messages/tensor_codec.hpp"
#include "tests/integration/test_nodes.hpp"
#include "tests/support/wait_until.hpp"

#include <ATen/ATen.h>

using namespace colony;
using namespace colony::apps;
using namespace colony::testing;
using namespace std::chrono_literals;

namespace {

/// Outcomes of calls started at once through one node's transport.
struct burst_outcome {
  size_t served = 0;
  size_t busy = 0;  ///< overloaded, naming the per-peer bound
  size_t other = 0; ///< any other error
  std::string first_busy_reason;
  std::string first_other_reason;
};

/// Starts `n` calls of `service` at `address` with `body` from `from` at
/// once and collects their outcomes (each within `timeout`).
burst_outcome burst(node& from, const std::string& address,
                    const std::string& service, const envelope& body, size_t n,
                    std::chrono::milliseconds timeout) {
  caf::scoped_actor self{from.system()};
  for (size_t i = 0; i < n; ++i)
    self->send(from.transport(), start_call_atom::value, address, service, body,
               caf::timespan{timeout});
  // The transport answers each start with the call id, then the outcome.
  burst_outcome out;
  size_t outcomes = 0;
  size_t ids = 0;
  bool timed_out = false;
  while (outcomes < n && !timed_out)
    self->receive([&](uint64_t) { ++ids; },
                  [&](call_result_atom, uint64_t, envelope&) {
                    ++outcomes;
                    ++out.served;
                  },
                  [&](call_result_atom, uint64_t, caf::error& err) {
                    ++outcomes;
                    if (is_error(err, errc::overloaded)) {
                      ++out.busy;
                      if (out.first_busy_reason.empty())
                        out.first_busy_reason = error_reason(err);
                    } else {
                      ++out.other;
                      if (out.first_other_reason.empty())
                        out.first_other_reason = describe(err);
                    }
                  },
                  caf::after(timeout + 5s) >> [&] { timed_out = true; });
  EXPECT_FALSE(timed_out) << "outcomes of " << outcomes << " of " << n
                          << " calls (" << ids << " started)";
  return out;
}

} // namespace

TEST(peer_fairness, a_flooding_peer_is_refused_while_an_honest_one_is_served) {
  // A slow expert (each batch sleeps 500 ms), and a quota of 4 calls per
  // peer: of a burst of 32 calls from one peer, those beyond 4 in progress
  // are refused (and the server reads no more of the burst until one of
  // the 4 is answered).
  auto cfg = test_config();
  cfg.transport.max_calls_per_peer = 4;
  cfg.experts = {expert_group({"slow.0"}, "nop_delay", 8, "none")};
  auto server = start_node(cfg);
  ASSERT_TRUE(server);
  ASSERT_FALSE(server->host_experts());
  auto ccfg = test_config();
  ccfg.client_mode = true;
  auto flooder = start_node(ccfg);
  auto honest = start_node(ccfg); // its own identity: another peer
  ASSERT_TRUE(flooder && honest);

  auto body = encode_tensors({at::randn({1, 8})}, compression_type::none);
  ASSERT_TRUE(body) << describe(body.error());
  auto service = moe::expert_service("slow.0", "forward");
  std::optional<burst_outcome> flood;
  std::thread flooding([&] {
    flood = burst(*flooder, server->address(), service, *body, 32, 20s);
  });
  // The honest peer calls while the flood is queued at the server: every
  // call is served (slowly: behind the flooder's admitted calls).
  moe::expert_client client{honest->system(), honest->transport()};
  for (int i = 0; i < 3; ++i) {
    auto x = at::randn({2, 8});
    auto out = client.forward(server->address(), "slow.0", {x}, 20s);
    ASSERT_TRUE(out) << "call " << i << ": " << describe(out.error());
    EXPECT_TRUE(at::equal((*out)[0], x));
  }
  flooding.join();
  ASSERT_TRUE(flood);
  // The flooder's calls beyond its quota were refused, naming the bound;
  // those admitted were served.
  EXPECT_GE(flood->busy, 1u) << "served " << flood->served;
  EXPECT_GE(flood->served, 4u);
  EXPECT_EQ(flood->served + flood->busy, 32u);
  EXPECT_EQ(flood->other, 0u) << flood->first_other_reason;
  EXPECT_NE(flood->first_busy_reason.find("transport.max_calls_per_peer 4"),
            std::string::npos)
      << flood->first_busy_reason;
  // Once the flooder's calls are answered, its quota is free again.
  ASSERT_TRUE(eventually("the flooder is served again", 20s, [&] {
    auto again = burst(*flooder, server->address(), service, *body, 1, 10s);
    return again.served == 1;
  }));
}

TEST(peer_fairness, request_bytes_in_progress_are_bounded_per_peer) {
  auto cfg = test_config();
  cfg.transport.max_request_bytes_per_peer = 64 * 1024;
  cfg.experts = {expert_group({"slow.0"}, "nop_delay", 1024, "none")};
  auto server = start_node(cfg);
  ASSERT_TRUE(server);
  ASSERT_FALSE(server->host_experts());
  auto ccfg = test_config();
  ccfg.client_mode = true;
  auto peer = start_node(ccfg);
  ASSERT_TRUE(peer);
  // 8 rows of 1024 floats: 32 KiB and a header per call, so at most one
  // call of a burst is in progress at once; the others are refused or wait
  // in the socket while the server pauses reading.
  auto body = encode_tensors({at::randn({8, 1024})}, compression_type::none);
  ASSERT_TRUE(body);
  auto out = burst(*peer, server->address(),
                   moe::expert_service("slow.0", "forward"), *body, 6, 20s);
  EXPECT_GE(out.served, 1u);
  EXPECT_GE(out.busy, 1u) << "served " << out.served;
  EXPECT_EQ(out.served + out.busy, 6u);
  EXPECT_EQ(out.other, 0u) << out.first_other_reason;
  EXPECT_NE(
      out.first_busy_reason.find("transport.max_request_bytes_per_peer 65536"),
      std::string::npos)
      << out.first_busy_reason;
  // A body larger than the whole bound is refused at once, never served.
  auto big = encode_tensors({at::randn({32, 1024})}, compression_type::none);
  ASSERT_TRUE(big);
  auto refused = burst(*peer, server->address(),
                       moe::expert_service("slow.0", "forward"), *big, 1, 5s);
  EXPECT_EQ(refused.busy, 1u);
}
