// State sharing between averagers on in-process nodes joined through one
// DHT: a new peer downloads a sharing peer's state (hivemind's
// `load_state_from_peers`), the peer of highest priority serves it, peers
// that do not share are never asked, a download falls over to the next peer
// when the first is gone, and bad requests get errors while the server
// keeps serving; 100 MB of state arrives bit-exact, and a peer killed in
// the middle of a download hands over to the next.

#include "actors/averaging/averager.hpp"
#include "actors/averaging/averaging_atoms.hpp"
#include "actors/averaging/state_codec.hpp"
#include "actors/averaging/state_declaration.hpp"
#include "actors/averaging/state_loader.hpp"
#include "actors/averaging/state_transfer.hpp"
#include "actors/dht/dht_client.hpp"
#include "actors/dht/dht_messages.hpp"
#include "messages/error.hpp"
#include "runtime/transport/fault_settings.hpp"
#include "runtime/transport/transport_atoms.hpp"
#include "tests/integration/test_nodes.hpp"
#include "tests/support/wait_until.hpp"

#include <ATen/ATen.h>
#include <caf/all.hpp>
#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <future>
#include <memory>
#include <optional>
#include <random>
#include <vector>

using namespace colony;
using namespace colony::averaging;
using namespace colony::testing;
using namespace std::chrono_literals;

namespace {

/// How often a test asks the DHT whether a declaration is visible.
constexpr auto dht_poll = 100ms;

/// A node of the swarm, with an averager unless it only downloads.
struct state_peer {
  std::unique_ptr<node> n;
  std::vector<at::Tensor> tensors;
  caf::actor averager;

  peer_id id() const { return n->me().peer_id(); }

  void send(caf::message msg) { caf::anon_send(averager, std::move(msg)); }

  /// The averager's (load_state_atom, timeout).
  caf::expected<downloaded_state> load(std::chrono::milliseconds timeout) {
    caf::scoped_actor self{n->system()};
    caf::expected<downloaded_state> out{caf::error{}};
    self->request(averager, timeout + 10s, load_state_atom::value,
                  caf::timespan{timeout})
        .receive([&](downloaded_state& s) { out = std::move(s); },
                 [&](caf::error& err) { out = std::move(err); });
    return out;
  }

  /// The blocking helper, as a C++ user outside actors calls it.
  caf::expected<downloaded_state>
  load_blocking(const std::string& prefix, std::chrono::milliseconds timeout,
                std::optional<std::vector<state_tensor_info>> expected = {}) {
    state_loader_config c;
    c.transport = n->transport();
    c.dht = n->dht();
    c.self = id();
    c.prefix = prefix;
    c.timeout = timeout;
    c.request_timeout = 3s;
    c.expected = std::move(expected);
    c.log = n->shared_log();
    return load_state_from_peers(n->system(), std::move(c));
  }

  /// Stops the averager (and with it its state server), not the node.
  void stop_averager() {
    if (averager)
      caf::anon_send_exit(averager, caf::exit_reason::user_shutdown);
    averager = nullptr;
  }

  /// Stops the node (after its averager).
  void stop() {
    stop_averager();
    n.reset();
  }

  ~state_peer() { stop(); }
};

averager_options sharing_options(std::optional<bool> share = true) {
  averager_options o;
  o.prefix = "model";
  o.request_timeout = 2000ms;
  o.next_chunk_timeout = 3000ms;
  o.part_size_bytes = 4096;
  o.allow_state_sharing = share;
  o.declare_state_period = 1000ms;
  return o;
}

/// Distinct tensors per peer: 3000 floats, 17x5 doubles.
std::vector<at::Tensor> state_tensors_of(int i) {
  return {
      at::arange(3000, at::TensorOptions{}.dtype(at::kFloat)) + 1000 * i,
      at::arange(85, at::TensorOptions{}.dtype(at::kDouble)).reshape({17, 5}) *
          (i + 1)};
}

/// The peers that share the state of `prefix` as `from` sees them in the
/// DHT now.
std::vector<state_source> declared(node& from,
                                   const std::string& prefix = "model") {
  dht::dht_client client{from.system(), from.dht()};
  auto found = client.get(state_declaration_key(prefix), true, 3s);
  if (!found)
    return {};
  std::mt19937_64 rng{1};
  return sharing_peers(*found, peer_id{}, rng);
}

bool declares(node& from, const peer_id& who, double priority) {
  for (const auto& s : declared(from))
    if (s.peer.id == who)
      return s.priority == priority;
  return false;
}

/// A swarm of DHT nodes joined through the first.
class state_swarm {
 public:
  /// Adds a node; with `options`, an averager over `tensors` on it.
  state_peer& add(std::optional<averager_options> options = {},
                  std::vector<at::Tensor> tensors = {}) {
    auto cfg = test_config();
    cfg.dht_enabled = true;
    cfg.dht.wait_timeout = 3000ms;
    if (!peers_.empty())
      cfg.initial_peers = {peers_.front()->n->address()};
    auto p = std::make_unique<state_peer>();
    p->n = start_node(cfg);
    auto& peer = *p;
    peers_.push_back(std::move(p));
    if (!peer.n)
      return peer;
    if (peers_.size() > 1)
      if (auto joined = peer.n->join_dht(); !joined) {
        ADD_FAILURE() << describe(joined.error());
        return peer;
      }
    if (!options)
      return peer;
    peer.tensors = std::move(tensors);
    averager_config ac;
    ac.tensors = peer.tensors;
    ac.transport = peer.n->transport();
    ac.dht = peer.n->dht();
    ac.self = peer_contact{peer.id(), peer.n->address()};
    ac.options = *options;
    ac.log = peer.n->shared_log();
    ac.seed = 500 + peers_.size();
    auto a = spawn_averager(peer.n->system(), std::move(ac));
    if (!a)
      ADD_FAILURE() << describe(a.error());
    else
      peer.averager = *a;
    return peer;
  }

  /// Adds a sharing averager with `metadata` and `priority`.
  state_peer& add_sharing(int i, const std::string& metadata, double priority,
                          averager_options options = sharing_options()) {
    auto& p = add(options, state_tensors_of(i));
    if (p.averager) {
      p.send(caf::make_message(set_state_metadata_atom::value, metadata));
      p.send(caf::make_message(set_state_priority_atom::value, priority));
    }
    return p;
  }

  [[nodiscard]] bool ok() const {
    for (const auto& p : peers_)
      if (!p->n)
        return false;
    return !peers_.empty();
  }

 private:
  std::vector<std::unique_ptr<state_peer>> peers_;
};

void expect_state_of(const caf::expected<downloaded_state>& got,
                     const std::string& metadata,
                     const std::vector<at::Tensor>& tensors) {
  ASSERT_TRUE(got) << describe(got.error());
  EXPECT_EQ(got->metadata, metadata);
  ASSERT_EQ(got->tensors.size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    EXPECT_EQ(got->tensors[i].sizes(), tensors[i].sizes()) << i;
    EXPECT_EQ(got->tensors[i].scalar_type(), tensors[i].scalar_type()) << i;
    EXPECT_TRUE(at::equal(got->tensors[i], tensors[i])) << i;
  }
}

} // namespace

TEST(state_sharing, a_new_peer_downloads_the_state_of_a_sharing_peer) {
  state_swarm swarm;
  auto& sharer = swarm.add_sharing(0, "step=12", 1);
  // The new peer averages the same tensors but shares nothing yet.
  auto& fresh = swarm.add(sharing_options(false),
                          {at::zeros({3000}), at::zeros({17, 5}, at::kDouble)});
  ASSERT_TRUE(swarm.ok());
  ASSERT_TRUE(eventually(
      "the sharing peer is declared", 10s,
      [&] { return declares(*fresh.n, sharer.id(), 1); }, dht_poll));
  auto got = fresh.load(10s);
  expect_state_of(got, "step=12", sharer.tensors);
  // The download changed none of the new peer's own tensors.
  EXPECT_EQ(fresh.tensors[0].abs().sum().item<float>(), 0.f);
  // The blocking helper gets the same.
  expect_state_of(fresh.load_blocking("model", 10s), "step=12", sharer.tensors);
}

TEST(state_sharing, a_state_of_many_small_parts_downloads_exactly) {
  auto o = sharing_options();
  o.part_size_bytes = 1024;
  state_swarm swarm;
  auto& sharer = swarm.add(o, {at::randn({20000}), at::randn({300, 7}),
                               at::randn({5}, at::kDouble)});
  sharer.send(caf::make_message(set_state_metadata_atom::value,
                                std::string("many\0parts", 10)));
  auto& fresh = swarm.add();
  ASSERT_TRUE(swarm.ok());
  // Dozens of parts, several in flight at once.
  auto probe = state_snapshot::make(1, "", sharer.tensors, {1024, {}});
  ASSERT_TRUE(probe);
  EXPECT_GT(probe->part_count(), 80u);
  ASSERT_TRUE(eventually(
      "the sharing peer is declared", 10s,
      [&] { return !declared(*fresh.n).empty(); }, dht_poll));
  auto got =
      fresh.load_blocking("model", 20s, state_tensor_infos(sharer.tensors));
  expect_state_of(got, std::string("many\0parts", 10), sharer.tensors);
}

TEST(state_sharing,
     the_highest_priority_serves_and_non_sharing_peers_are_not_asked) {
  state_swarm swarm;
  auto& low = swarm.add_sharing(0, "low", 1);
  auto& high = swarm.add_sharing(1, "high", 5);
  // Highest priority of all, but it does not share.
  auto& closed = swarm.add_sharing(2, "closed", 100, sharing_options(false));
  auto& fresh = swarm.add();
  ASSERT_TRUE(swarm.ok());
  ASSERT_TRUE(eventually(
      "both sharing peers are declared", 10s,
      [&] {
        return declares(*fresh.n, low.id(), 1) &&
               declares(*fresh.n, high.id(), 5);
      },
      dht_poll));
  for (const auto& s : declared(*fresh.n))
    EXPECT_NE(s.peer.id, closed.id()) << "a peer that does not share declared";
  // It serves no state at all.
  auto none = call(*fresh.n, closed.n->address(), state_service("model"),
                   encode_state_request({}));
  ASSERT_FALSE(none);
  EXPECT_TRUE(is_error(none.error(), errc::unknown_service))
      << describe(none.error());
  expect_state_of(fresh.load_blocking("model", 10s), "high", high.tensors);
  // A new priority is declared at the next period and wins.
  low.send(caf::make_message(set_state_priority_atom::value, 10.0));
  ASSERT_TRUE(eventually(
      "the new priority is declared", 10s,
      [&] { return declares(*fresh.n, low.id(), 10); }, dht_poll));
  expect_state_of(fresh.load_blocking("model", 10s), "low", low.tensors);
}

TEST(state_sharing, an_averager_that_stops_withdraws_its_declaration) {
  state_swarm swarm;
  auto& sharer = swarm.add_sharing(0, "gone soon", 1);
  auto& fresh = swarm.add();
  ASSERT_TRUE(swarm.ok());
  ASSERT_TRUE(eventually(
      "the sharing peer is declared", 10s,
      [&] { return declares(*fresh.n, sharer.id(), 1); }, dht_poll));
  sharer.stop_averager();
  ASSERT_TRUE(eventually(
      "the declaration is withdrawn", 10s,
      [&] { return declared(*fresh.n).empty(); }, dht_poll));
  auto got = fresh.load_blocking("model", 5s);
  ASSERT_FALSE(got);
  EXPECT_TRUE(is_error(got.error(), errc::unreachable))
      << describe(got.error());
}

TEST(state_sharing, a_download_falls_over_to_the_next_peer_when_one_is_gone) {
  state_swarm swarm;
  auto& first = swarm.add_sharing(0, "first", 10);
  auto& second = swarm.add_sharing(1, "second", 1);
  auto& fresh = swarm.add();
  ASSERT_TRUE(swarm.ok());
  ASSERT_TRUE(eventually(
      "both sharing peers are declared", 10s,
      [&] {
        return declares(*fresh.n, first.id(), 10) &&
               declares(*fresh.n, second.id(), 1);
      },
      dht_poll));
  auto first_id = first.id();
  auto first_address = first.n->address();
  first.stop();
  // As after a crash: the declaration outlives its server (stored with a
  // later expiration than the withdrawal, so that it wins).
  dht::store_request stale;
  stale.key = state_declaration_key("model");
  stale.subkey = first_id.to_string();
  stale.has_subkey = true;
  stale.value =
      encode_state_declaration(state_declaration{true, first_address, 10});
  stale.expiration = dht::dht_time() + 60;
  dht::dht_client client{fresh.n->system(), fresh.n->dht()};
  auto stored = client.store(stale, 5s);
  ASSERT_TRUE(stored && *stored);
  ASSERT_TRUE(eventually(
      "the stale declaration is visible", 10s,
      [&] { return declares(*fresh.n, first_id, 10); }, dht_poll));
  auto started = std::chrono::steady_clock::now();
  expect_state_of(fresh.load_blocking("model", 20s), "second", second.tensors);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 15s);
}

TEST(state_sharing, bad_requests_get_errors_and_the_server_keeps_serving) {
  state_swarm swarm;
  auto& sharer = swarm.add_sharing(0, "still here", 1);
  auto& fresh = swarm.add();
  ASSERT_TRUE(swarm.ok());
  auto service = state_service("model");
  const auto& at_sharer = sharer.n->address();
  // Garbage bytes.
  std::string text("\x01\x02garbage", 9);
  auto junk = call(*fresh.n, at_sharer, service,
                   envelope(std::vector<char>(text.begin(), text.end())));
  ASSERT_FALSE(junk);
  EXPECT_TRUE(is_error(junk.error(), errc::malformed))
      << describe(junk.error());
  // A snapshot the server never made.
  auto unknown =
      call(*fresh.n, at_sharer, service, encode_state_request({12345, 1}));
  ASSERT_FALSE(unknown);
  EXPECT_TRUE(is_error(unknown.error(), errc::invalid_argument))
      << describe(unknown.error());
  // A real snapshot, then a part past its end.
  auto first = call(*fresh.n, at_sharer, service, encode_state_request({}));
  ASSERT_TRUE(first) << describe(first.error());
  auto part0 = decode_state_part(*first);
  ASSERT_TRUE(part0) << describe(part0.error());
  EXPECT_NE(part0->snapshot, 0u);
  EXPECT_EQ(part0->metadata, "still here");
  ASSERT_GT(part0->part_count, 1u);
  auto past = call(*fresh.n, at_sharer, service,
                   encode_state_request({part0->snapshot, part0->part_count}));
  ASSERT_FALSE(past);
  EXPECT_TRUE(is_error(past.error(), errc::invalid_argument))
      << describe(past.error());
  auto last = call(*fresh.n, at_sharer, service,
                   encode_state_request({part0->snapshot, 1}));
  ASSERT_TRUE(last) << describe(last.error());
  // Still serving whole downloads.
  ASSERT_TRUE(eventually(
      "the sharing peer is declared", 10s,
      [&] { return declares(*fresh.n, sharer.id(), 1); }, dht_poll));
  expect_state_of(fresh.load_blocking("model", 10s), "still here",
                  sharer.tensors);
}

TEST(state_sharing, no_sharing_peer_is_a_clear_error_within_the_timeout) {
  state_swarm swarm;
  auto& closed = swarm.add(sharing_options(false), state_tensors_of(0));
  auto& fresh = swarm.add(sharing_options(false), state_tensors_of(1));
  ASSERT_TRUE(swarm.ok());
  (void)closed;
  auto started = std::chrono::steady_clock::now();
  auto got = fresh.load(3s);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 4s);
  ASSERT_FALSE(got);
  EXPECT_TRUE(is_error(got.error(), errc::unreachable))
      << describe(got.error());
  EXPECT_NE(describe(got.error()).find("no peer shares"), std::string::npos)
      << describe(got.error());
}

TEST(state_sharing, a_peer_whose_tensors_differ_is_given_up) {
  state_swarm swarm;
  auto& sharer = swarm.add_sharing(0, "other shapes", 1);
  // The downloader's tensors have other shapes than the sharer's.
  auto& fresh = swarm.add(sharing_options(false),
                          {at::zeros({2999}), at::zeros({17, 5}, at::kDouble)});
  ASSERT_TRUE(swarm.ok());
  ASSERT_TRUE(eventually(
      "the sharing peer is declared", 10s,
      [&] { return declares(*fresh.n, sharer.id(), 1); }, dht_poll));
  auto got = fresh.load(10s);
  ASSERT_FALSE(got);
  EXPECT_TRUE(is_error(got.error(), errc::unreachable))
      << describe(got.error());
  EXPECT_NE(describe(got.error()).find("bad_shape"), std::string::npos)
      << describe(got.error());
}

namespace {

/// 100 MB of state: 24M float32 and 0.5M float64 elements of noise from
/// `seed`.
std::vector<at::Tensor> large_state(uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  return {at::randn({24'000'000}, gen),
          at::randn({500, 1000}, gen, at::TensorOptions(at::kDouble))};
}

constexpr uint64_t large_state_bytes = 24'000'000 * 4 + 500'000 * 8;

averager_options large_state_options() {
  auto o = sharing_options();
  o.part_size_bytes = 512 << 10;
  return o;
}

fault_counters counters_of(node& n) {
  caf::scoped_actor self{n.system()};
  fault_counters out;
  self->request(n.transport(), 5s, fault_counters_atom::value)
      .receive([&](fault_counters& c) { out = c; }, [](caf::error&) {});
  return out;
}

} // namespace

TEST(state_sharing, a_state_of_100_mb_downloads_bit_exact) {
  state_swarm swarm;
  auto& sharer = swarm.add(large_state_options(), large_state(1));
  auto& fresh = swarm.add();
  ASSERT_TRUE(swarm.ok());
  ASSERT_TRUE(sharer.averager);
  uint64_t bytes = 0;
  for (const auto& t : sharer.tensors)
    bytes += t.numel() * t.element_size();
  ASSERT_EQ(bytes, large_state_bytes);
  sharer.send(
      caf::make_message(set_state_metadata_atom::value, std::string("large")));
  ASSERT_TRUE(eventually(
      "the sharing peer is declared", 10s,
      [&] { return !declared(*fresh.n).empty(); }, dht_poll));
  auto started = std::chrono::steady_clock::now();
  auto got =
      fresh.load_blocking("model", 20s, state_tensor_infos(sharer.tensors));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 20s);
  // expect_state_of compares with at::equal: every bit of every element.
  expect_state_of(got, "large", sharer.tensors);
}

TEST(state_sharing, a_peer_killed_mid_download_hands_over_to_the_next) {
  state_swarm swarm;
  auto& first = swarm.add(large_state_options(), large_state(1));
  auto& second = swarm.add(large_state_options(), large_state(2));
  first.send(
      caf::make_message(set_state_metadata_atom::value, std::string("first")));
  first.send(caf::make_message(set_state_priority_atom::value, 10.0));
  second.send(
      caf::make_message(set_state_metadata_atom::value, std::string("second")));
  second.send(caf::make_message(set_state_priority_atom::value, 1.0));
  auto& fresh = swarm.add();
  ASSERT_TRUE(swarm.ok());
  ASSERT_TRUE(eventually(
      "both sharing peers are declared", 10s,
      [&] {
        return declares(*fresh.n, first.id(), 10) &&
               declares(*fresh.n, second.id(), 1);
      },
      dht_poll));
  // The first peer answers each part 50 ms late: its 200 parts would take
  // seconds, and each answer it sends is counted.
  fault_settings slow;
  slow.delay = 50ms;
  {
    caf::scoped_actor self{first.n->system()};
    self->request(first.n->transport(), 5s, set_faults_atom::value, slow)
        .receive([] {}, [](caf::error& err) { FAIL() << describe(err); });
  }
  auto sent_before = counters_of(*first.n).messages_delayed;
  auto started = std::chrono::steady_clock::now();
  // The loader logs each peer it gives up: kept here to check whom.
  auto ring = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64);
  auto loader_log = std::make_shared<spdlog::logger>("loader", ring);
  loader_log->set_level(spdlog::level::info);
  auto download = std::async(std::launch::async, [&] {
    state_loader_config c;
    c.transport = fresh.n->transport();
    c.dht = fresh.n->dht();
    c.self = fresh.id();
    c.prefix = "model";
    c.timeout = 25s;
    c.request_timeout = 3s;
    c.expected = state_tensor_infos(first.tensors);
    c.log = loader_log;
    return load_state_from_peers(fresh.n->system(), std::move(c));
  });
  // Killed once it has answered a dozen messages, parts among them: the
  // download is under way, far from done.
  ASSERT_TRUE(eventually(
      "the first peer serves parts", 10s,
      [&] {
        return counters_of(*first.n).messages_delayed >= sent_before + 12;
      },
      5ms));
  auto first_id = first.id();
  first.stop();
  auto got = download.get();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 20s);
  expect_state_of(got, "second", second.tensors);
  // The first peer was asked, and given up when it went away.
  size_t given_up = 0;
  for (const auto& line : ring->last_formatted())
    if (line.find("did not serve") != std::string::npos) {
      ++given_up;
      EXPECT_NE(line.find(first_id.short_id()), std::string::npos) << line;
    }
  EXPECT_EQ(given_up, 1u);
}
