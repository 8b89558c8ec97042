// The DHT declaration of a state-sharing peer: round trips, bounds,
// malformed values, and the order in which a downloader asks the peers.

#include "actors/averaging/state_declaration.hpp"
#include "messages/averaging.capnp.h"
#include "messages/envelope.hpp"
#include "messages/error.hpp"

#include "tests/unit/test_data.hpp"
#include <gtest/gtest.h>

#include <capnp/message.h>

#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <set>

using namespace colony;
using namespace colony::averaging;

using colony::testing::random_peer;

namespace {

/// A raw `StateDeclaration` built field by field (as a foreign peer might).
std::string raw_declaration(bool sharing, const std::string& address,
                            double priority) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<wire::StateDeclaration>();
  root.setSharing(sharing);
  root.setAddress(capnp::Text::Reader{address.data(), address.size()});
  root.setPriority(priority);
  auto flat = to_envelope(message);
  return std::string{flat.data(), flat.size()};
}

dht::get_result dictionary(const std::map<std::string, std::string>& values) {
  dht::get_result r;
  r.found = true;
  r.is_dictionary = true;
  for (const auto& [subkey, value] : values)
    r.subkeys[subkey] = dht::subkey_value{value, 1e10};
  return r;
}

std::string declared(const std::string& address, double priority) {
  return encode_state_declaration(state_declaration{true, address, priority});
}

} // namespace

TEST(state_declaration, key_and_lifetime) {
  EXPECT_EQ(state_declaration_key("albert"), "albert.all_averagers");
  EXPECT_EQ(declaration_lifetime(std::chrono::milliseconds(30000)),
            std::chrono::milliseconds(60000));
}

TEST(state_declaration, round_trips) {
  for (double priority : {0.0, -3.5, 1e300, 42.0}) {
    state_declaration d{true, "127.0.0.1:4100", priority};
    auto back = decode_state_declaration(encode_state_declaration(d));
    ASSERT_TRUE(back) << describe(back.error());
    EXPECT_TRUE(back->sharing);
    EXPECT_EQ(back->address, d.address);
    EXPECT_EQ(back->priority, priority);
  }
  // A withdrawal needs no address.
  auto back = decode_state_declaration(
      encode_state_declaration(state_declaration{false, "", 0}));
  ASSERT_TRUE(back) << describe(back.error());
  EXPECT_FALSE(back->sharing);
}

TEST(state_declaration, priorities_that_are_not_finite_are_made_declarable) {
  constexpr auto inf = std::numeric_limits<double>::infinity();
  constexpr auto largest = std::numeric_limits<double>::max();
  EXPECT_EQ(declarable_priority(std::nan("")), 0);
  EXPECT_EQ(declarable_priority(inf), largest);
  EXPECT_EQ(declarable_priority(-inf), -largest);
  EXPECT_EQ(declarable_priority(7), 7);
  auto back = decode_state_declaration(
      encode_state_declaration(state_declaration{true, "h:1", inf}));
  ASSERT_TRUE(back) << describe(back.error());
  EXPECT_EQ(back->priority, largest);
}

TEST(state_declaration, malformed_values_are_refused) {
  // Garbage, empty, odd sizes, too large.
  for (const std::string& bytes :
       {std::string("garbage!"), std::string(), std::string("\x01\x02\x03", 3),
        std::string(4096, '\0')}) {
    auto d = decode_state_declaration(bytes);
    EXPECT_FALSE(d) << bytes.size();
  }
  // Not finite, no address, an address too long.
  auto nan = decode_state_declaration(raw_declaration(true, "h:1", NAN));
  ASSERT_FALSE(nan);
  EXPECT_TRUE(is_error(nan.error(), errc::malformed)) << describe(nan.error());
  auto inf = decode_state_declaration(raw_declaration(true, "h:1", INFINITY));
  EXPECT_FALSE(inf);
  auto nowhere = decode_state_declaration(raw_declaration(true, "", 1));
  ASSERT_FALSE(nowhere);
  EXPECT_TRUE(is_error(nowhere.error(), errc::invalid_argument));
  auto long_address =
      decode_state_declaration(raw_declaration(true, std::string(300, 'a'), 1));
  ASSERT_FALSE(long_address);
  EXPECT_TRUE(is_error(long_address.error(), errc::too_large));
}

TEST(state_declaration, peers_are_asked_by_priority_without_self) {
  std::mt19937_64 rng{5};
  auto self = random_peer(rng);
  auto low = random_peer(rng);
  auto high = random_peer(rng);
  auto mid = random_peer(rng);
  auto withdrawn = random_peer(rng);
  auto broken = random_peer(rng);
  auto found = dictionary({
      {self.to_string(), declared("127.0.0.1:1", 100)},
      {low.to_string(), declared("127.0.0.1:2", -1)},
      {high.to_string(), declared("127.0.0.1:3", 10)},
      {mid.to_string(), declared("127.0.0.1:4", 5)},
      {withdrawn.to_string(),
       encode_state_declaration(state_declaration{false, "", 50})},
      {broken.to_string(), "not a declaration"},
      {"not-a-peer-id", declared("127.0.0.1:5", 20)},
      {std::string(10000, '1'), declared("127.0.0.1:6", 30)},
  });
  auto peers = sharing_peers(found, self, rng);
  ASSERT_EQ(peers.size(), 3u);
  EXPECT_EQ(peers[0].peer.id, high);
  EXPECT_EQ(peers[0].peer.address, "127.0.0.1:3");
  EXPECT_EQ(peers[0].priority, 10);
  EXPECT_EQ(peers[1].peer.id, mid);
  EXPECT_EQ(peers[2].peer.id, low);
}

TEST(state_declaration, equal_priorities_are_asked_in_random_order) {
  std::mt19937_64 rng{9};
  std::map<std::string, std::string> values;
  std::vector<peer_id> peers;
  for (int i = 0; i < 4; ++i) {
    peers.push_back(random_peer(rng));
    values[peers.back().to_string()] =
        declared("127.0.0.1:" + std::to_string(i + 1), 1);
  }
  auto found = dictionary(values);
  std::set<std::string> firsts;
  for (int draw = 0; draw < 64; ++draw) {
    auto order = sharing_peers(found, peer_id{}, rng);
    ASSERT_EQ(order.size(), 4u);
    firsts.insert(order.front().peer.id.to_string());
  }
  EXPECT_EQ(firsts.size(), 4u) << "every peer comes first some time";
}

TEST(state_declaration, nothing_found_means_no_peers) {
  std::mt19937_64 rng{1};
  EXPECT_TRUE(sharing_peers(dht::get_result{}, peer_id{}, rng).empty());
  dht::get_result plain;
  plain.found = true;
  plain.value = declared("127.0.0.1:1", 1);
  EXPECT_TRUE(sharing_peers(plain, peer_id{}, rng).empty());
}
