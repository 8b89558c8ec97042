// Matchmaking messages and the DHT declaration on the wire: round trips,
// bounds and malformed bytes.

#include "actors/averaging/matchmaking_codec.hpp"
#include "messages/averaging.capnp.h"
#include "messages/error.hpp"

#include "tests/unit/test_data.hpp"
#include <gtest/gtest.h>

#include <capnp/message.h>

#include <cmath>
#include <limits>
#include <random>

using namespace colony;
using namespace colony::averaging;

using colony::testing::random_peer;

namespace {

join_request sample_request(std::mt19937_64& rng) {
  join_request r;
  r.peer = {random_peer(rng), "10.0.0.7:4100"};
  r.schema_hash = std::string("\x00\x01\xfe\xff", 4);
  r.group_key = "albert.0b0110";
  r.expiration = 1.7e9 + 0.125;
  r.mode = peer_mode::auxiliary;
  r.bandwidth = 1.5e8;
  r.gathered = std::string("step\x00"
                           "42",
                           7);
  return r;
}

group_info sample_group(std::mt19937_64& rng, size_t n) {
  group_info g;
  for (size_t i = 0; i < g.id.size(); ++i)
    g.id[i] = static_cast<uint8_t>(i * 17 + 3);
  for (size_t i = 0; i < n; ++i) {
    member_info m;
    m.peer = {random_peer(rng), "127.0.0.1:" + std::to_string(7000 + i)};
    m.gathered = "g" + std::to_string(i);
    if (i % 2)
      m.bandwidth = 100.0 * static_cast<double>(i);
    m.mode = i == 1 ? peer_mode::client : peer_mode::node;
    if (m.mode == peer_mode::client)
      m.peer.address.clear();
    g.members.push_back(m);
  }
  return g;
}

/// Builds a message with `fill(root)` and flattens it.
template <class Root, class F>
envelope build(F&& fill) {
  capnp::MallocMessageBuilder message;
  fill(message.initRoot<Root>());
  return to_envelope(message);
}

} // namespace

TEST(matchmaking_codec, join_requests_round_trip) {
  std::mt19937_64 rng{1};
  auto r = sample_request(rng);
  auto caller = random_peer(rng);
  auto decoded = decode_matchmaking_request(encode_join_request(r), caller);
  ASSERT_TRUE(decoded) << describe(decoded.error());
  EXPECT_EQ(decoded->kind, matchmaking_request::kind_type::join);
  const auto& j = decoded->join;
  // The peer id is the caller's, whatever the sender claims to be.
  EXPECT_EQ(j.peer.id, caller);
  EXPECT_EQ(j.peer.address, r.peer.address);
  EXPECT_EQ(j.schema_hash, r.schema_hash);
  EXPECT_EQ(j.group_key, r.group_key);
  EXPECT_EQ(j.expiration, r.expiration);
  EXPECT_EQ(j.mode, r.mode);
  EXPECT_EQ(j.bandwidth, r.bandwidth);
  EXPECT_EQ(j.gathered, r.gathered);

  // A client without address or bandwidth.
  r.mode = peer_mode::client;
  r.peer.address.clear();
  r.bandwidth.reset();
  auto client = decode_matchmaking_request(encode_join_request(r), caller);
  ASSERT_TRUE(client);
  EXPECT_EQ(client->join.mode, peer_mode::client);
  EXPECT_FALSE(client->join.bandwidth);
  EXPECT_TRUE(client->join.peer.address.empty());
}

TEST(matchmaking_codec, await_and_leave_round_trip) {
  std::mt19937_64 rng{2};
  auto caller = random_peer(rng);
  auto await = decode_matchmaking_request(encode_await_group("a.0b1"), caller);
  ASSERT_TRUE(await);
  EXPECT_EQ(await->kind, matchmaking_request::kind_type::await_group);
  EXPECT_EQ(await->group_key, "a.0b1");
  auto leave = decode_matchmaking_request(encode_leave("a.0b1"), caller);
  ASSERT_TRUE(leave);
  EXPECT_EQ(leave->kind, matchmaking_request::kind_type::leave);
  EXPECT_EQ(leave->group_key, "a.0b1");
  EXPECT_FALSE(encode_matchmaking_ack().empty());
}

TEST(matchmaking_codec, join_responses_round_trip) {
  std::mt19937_64 rng{3};
  auto ok = decode_join_response(encode_join_response(join_response::accept()));
  ASSERT_TRUE(ok);
  EXPECT_TRUE(ok->accepted);
  EXPECT_FALSE(ok->suggested_leader);
  for (auto reason :
       {refusal_reason::not_looking_for_group, refusal_reason::not_declared,
        refusal_reason::bad_schema_hash, refusal_reason::bad_group_key,
        refusal_reason::later_expiration, refusal_reason::duplicate_peer,
        refusal_reason::group_full}) {
    auto r = decode_join_response(
        encode_join_response(join_response::refuse(reason)));
    ASSERT_TRUE(r) << to_string(reason);
    EXPECT_FALSE(r->accepted);
    EXPECT_EQ(r->reason, reason);
    EXPECT_FALSE(r->suggested_leader);
  }
  peer_contact leader{random_peer(rng), "192.168.1.2:555"};
  auto redirect = decode_join_response(encode_join_response(
      join_response::refuse(refusal_reason::not_a_leader, leader)));
  ASSERT_TRUE(redirect);
  EXPECT_EQ(redirect->reason, refusal_reason::not_a_leader);
  ASSERT_TRUE(redirect->suggested_leader);
  EXPECT_EQ(*redirect->suggested_leader, leader);
}

TEST(matchmaking_codec, leader_messages_round_trip) {
  std::mt19937_64 rng{4};
  leader_message begin;
  begin.kind = leader_message::kind_type::begin_all_reduce;
  begin.group = sample_group(rng, 5);
  auto b = decode_leader_message(encode_leader_message(begin));
  ASSERT_TRUE(b) << describe(b.error());
  EXPECT_EQ(b->kind, leader_message::kind_type::begin_all_reduce);
  EXPECT_EQ(b->group, begin.group);

  leader_message disbanded;
  disbanded.kind = leader_message::kind_type::disbanded;
  auto d = decode_leader_message(encode_leader_message(disbanded));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->kind, leader_message::kind_type::disbanded);
  EXPECT_FALSE(d->suggested_leader);
  disbanded.suggested_leader = peer_contact{random_peer(rng), "h:1"};
  auto s = decode_leader_message(encode_leader_message(disbanded));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->suggested_leader, disbanded.suggested_leader);
}

TEST(matchmaking_codec, declarations_round_trip) {
  for (bool looking : {true, false}) {
    group_declaration d{looking, "127.0.0.1:4000"};
    auto bytes = encode_group_declaration(d);
    EXPECT_LE(bytes.size(), max_declaration_bytes);
    // DHT values may sit anywhere in memory: decode from an odd offset.
    std::string shifted = "x" + bytes;
    auto r = decode_group_declaration(std::string_view{shifted}.substr(1));
    ASSERT_TRUE(r) << describe(r.error());
    EXPECT_EQ(r->looking, looking);
    EXPECT_EQ(r->address, d.address);
  }
  auto withdrawn = decode_group_declaration(
      encode_group_declaration(group_declaration{false, ""}));
  ASSERT_TRUE(withdrawn);
  EXPECT_FALSE(withdrawn->looking);
  auto nowhere = decode_group_declaration(
      encode_group_declaration(group_declaration{true, ""}));
  ASSERT_FALSE(nowhere);
  EXPECT_TRUE(is_error(nowhere.error(), errc::invalid_argument));
}

TEST(matchmaking_codec, malformed_bytes_are_typed_errors) {
  std::mt19937_64 rng{5};
  auto caller = random_peer(rng);
  std::vector<std::vector<char>> junk{
      {},
      std::vector<char>(13, 0),
      std::vector<char>(24, '\xff'),
      std::vector<char>(64, '\x7f'),
      {0, 0, 0, 0, 100, 0, 0, 0}, // a segment longer than the message
  };
  for (const auto& bytes : junk) {
    envelope e{bytes};
    auto req = decode_matchmaking_request(e, caller);
    ASSERT_FALSE(req) << bytes.size();
    EXPECT_TRUE(is_error(req.error(), errc::malformed))
        << describe(req.error());
    auto resp = decode_join_response(e);
    ASSERT_FALSE(resp) << bytes.size();
    EXPECT_TRUE(is_error(resp.error(), errc::malformed));
    auto leader = decode_leader_message(e);
    ASSERT_FALSE(leader) << bytes.size();
    EXPECT_TRUE(is_error(leader.error(), errc::malformed));
    auto decl =
        decode_group_declaration(std::string_view{bytes.data(), bytes.size()});
    ASSERT_FALSE(decl) << bytes.size();
    EXPECT_TRUE(is_error(decl.error(), errc::malformed));
  }
  // Every truncation of a valid message fails cleanly (never throws).
  auto whole = encode_leader_message(
      leader_message{leader_message::kind_type::begin_all_reduce,
                     sample_group(rng, 3), std::nullopt});
  for (size_t n = 0; n < whole.size(); n += 8) {
    envelope cut{std::vector<char>(whole.data(), whole.data() + n)};
    auto r = decode_leader_message(cut);
    if (r) { // a cut at a pointer can read as a shorter valid message
      EXPECT_LE(r->group.members.size(), 3u);
    }
  }
  // Random bytes in place of a join request.
  for (int trial = 0; trial < 500; ++trial) {
    std::vector<char> bytes(8 * (1 + rng() % 16));
    for (auto& c : bytes)
      c = static_cast<char>(rng());
    bytes[0] = 0; // one segment
    bytes[1] = bytes[2] = bytes[3] = 0;
    envelope e{bytes};
    (void)decode_matchmaking_request(e, caller);
    (void)decode_join_response(e);
    (void)decode_leader_message(e);
    (void)decode_group_declaration(
        std::string_view{bytes.data(), bytes.size()});
  }
}

TEST(matchmaking_codec, out_of_contract_requests_are_refused) {
  std::mt19937_64 rng{6};
  auto caller = random_peer(rng);
  auto expect_error = [&](const join_request& r, errc code) {
    auto d = decode_matchmaking_request(encode_join_request(r), caller);
    ASSERT_FALSE(d);
    EXPECT_TRUE(is_error(d.error(), code)) << describe(d.error());
  };
  auto r = sample_request(rng);
  r.expiration = std::numeric_limits<double>::infinity();
  expect_error(r, errc::invalid_argument);
  r = sample_request(rng);
  r.expiration = std::nan("");
  expect_error(r, errc::invalid_argument);
  r = sample_request(rng);
  r.bandwidth = -1;
  expect_error(r, errc::invalid_argument);
  r.bandwidth = std::numeric_limits<double>::infinity();
  expect_error(r, errc::invalid_argument);
  r = sample_request(rng);
  r.peer.address.clear(); // a reducer nobody can reach
  expect_error(r, errc::invalid_argument);
  r = sample_request(rng);
  r.gathered.assign(max_gathered_bytes + 1, 'g');
  expect_error(r, errc::too_large);
  r = sample_request(rng);
  r.schema_hash.assign(max_schema_hash_bytes + 1, 's');
  expect_error(r, errc::too_large);
  r = sample_request(rng);
  r.group_key.assign(max_group_key_bytes + 1, 'k');
  expect_error(r, errc::too_large);
  r = sample_request(rng);
  r.peer.address.assign(max_address_bytes + 1, 'a');
  expect_error(r, errc::too_large);

  // An unknown mode (a newer peer's).
  auto unknown_mode = build<wire::MatchmakingRequest>([](auto root) {
    auto j = root.initJoin();
    j.setAddress("h:1");
    j.setExpiration(1);
    j.setMode(static_cast<wire::PeerMode>(9));
  });
  auto m = decode_matchmaking_request(unknown_mode, caller);
  ASSERT_FALSE(m);
  EXPECT_TRUE(is_error(m.error(), errc::invalid_argument));

  auto unknown_reason = build<wire::JoinResponse>(
      [](auto root) { root.setRefused(static_cast<wire::RefusalReason>(42)); });
  auto u = decode_join_response(unknown_reason);
  ASSERT_FALSE(u);
  EXPECT_TRUE(is_error(u.error(), errc::invalid_argument));
}

TEST(matchmaking_codec, out_of_contract_groups_are_refused) {
  std::mt19937_64 rng{7};
  auto expect_error = [](const envelope& e, errc code) {
    auto d = decode_leader_message(e);
    ASSERT_FALSE(d);
    EXPECT_TRUE(is_error(d.error(), code)) << describe(d.error());
  };
  auto group_message = [](const group_info& g) {
    return encode_leader_message(leader_message{
        leader_message::kind_type::begin_all_reduce, g, std::nullopt});
  };
  // Empty group.
  expect_error(group_message(group_info{}), errc::invalid_argument);
  // A member twice.
  auto twice = sample_group(rng, 3);
  twice.members[2].peer.id = twice.members[0].peer.id;
  expect_error(group_message(twice), errc::invalid_argument);
  // A reducing member without address.
  auto unreachable = sample_group(rng, 3);
  unreachable.members[0].peer.address.clear();
  expect_error(group_message(unreachable), errc::invalid_argument);
  // Bad bandwidth.
  auto negative = sample_group(rng, 2);
  negative.members[0].bandwidth = -5;
  expect_error(group_message(negative), errc::invalid_argument);
  // Oversized gathered bytes.
  auto fat = sample_group(rng, 2);
  fat.members[1].gathered.assign(max_gathered_bytes + 1, 'x');
  expect_error(group_message(fat), errc::too_large);

  // A group id of the wrong length.
  auto short_id = build<wire::LeaderMessage>([&](auto root) {
    auto b = root.initBeginAllReduce();
    uint8_t id[15] = {};
    b.setGroupId(capnp::Data::Reader{id, sizeof id});
    auto members = b.initMembers(1);
    members[0].initPeer().setPeerId(random_peer(rng).to_string());
    members[0].getPeer().setAddress("h:1");
  });
  expect_error(short_id, errc::invalid_argument);
  // A peer id that is not one.
  auto bad_peer = build<wire::LeaderMessage>([](auto root) {
    auto b = root.initBeginAllReduce();
    uint8_t id[16] = {};
    b.setGroupId(capnp::Data::Reader{id, sizeof id});
    auto members = b.initMembers(1);
    members[0].initPeer().setPeerId("12D3KooWnotreallyapeerid");
    members[0].getPeer().setAddress("h:1");
  });
  expect_error(bad_peer, errc::invalid_argument);
  auto long_peer = build<wire::LeaderMessage>([](auto root) {
    auto b = root.initBeginAllReduce();
    uint8_t id[16] = {};
    b.setGroupId(capnp::Data::Reader{id, sizeof id});
    auto members = b.initMembers(1);
    members[0].initPeer().setPeerId(std::string(100000, '1'));
  });
  expect_error(long_peer, errc::too_large);
  // Too many members (the bound stops it before any is read).
  auto crowd = build<wire::LeaderMessage>([](auto root) {
    auto b = root.initBeginAllReduce();
    uint8_t id[16] = {};
    b.setGroupId(capnp::Data::Reader{id, sizeof id});
    b.initMembers(static_cast<unsigned>(max_group_members + 1));
  });
  expect_error(crowd, errc::too_large);
}

TEST(matchmaking_codec, oversized_declarations_are_refused) {
  auto big = encode_group_declaration(
      group_declaration{true, std::string(max_declaration_bytes, 'a')});
  auto r = decode_group_declaration(big);
  ASSERT_FALSE(r);
  EXPECT_TRUE(is_error(r.error(), errc::malformed));
  auto long_address = encode_group_declaration(
      group_declaration{true, std::string(max_address_bytes + 1, 'a')});
  auto l = decode_group_declaration(long_address);
  ASSERT_FALSE(l);
  EXPECT_TRUE(is_error(l.error(), errc::too_large));
}
