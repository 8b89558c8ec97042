#include "actors/averaging/matchmaking_codec.hpp"

#include "messages/averaging.capnp.h"
#include "messages/error.hpp"
#include "messages/flat_message.hpp"

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <cmath>
#include <limits>
#include <set>

namespace colony::averaging {

namespace {

/// Longest base58 peer id read before parsing (parsing is quadratic).
constexpr size_t max_peer_id_chars = 64;

capnp::Text::Reader text_of(std::string_view s) {
  return capnp::Text::Reader{s.data(), s.size()};
}

capnp::Data::Reader data_of(std::string_view s) {
  return capnp::Data::Reader{reinterpret_cast<const kj::byte*>(s.data()),
                             s.size()};
}

caf::error too_large(const char* what, size_t size, size_t bound) {
  return make_error(errc::too_large,
                    std::string{what} + " of " + std::to_string(size) +
                        " bytes, above the bound " + std::to_string(bound));
}

// `Text::Reader` knows its size, so embedded NULs survive (and then fail
// whatever comparison or parse follows).
caf::expected<std::string> read_text(capnp::Text::Reader text, size_t bound,
                                     const char* what) {
  if (text.size() > bound)
    return too_large(what, text.size(), bound);
  return std::string{text.cStr(), text.size()};
}

caf::expected<std::string> read_data(capnp::Data::Reader data, size_t bound,
                                     const char* what) {
  if (data.size() > bound)
    return too_large(what, data.size(), bound);
  return std::string{reinterpret_cast<const char*>(data.begin()), data.size()};
}

wire::PeerMode to_wire(peer_mode mode) {
  switch (mode) {
  case peer_mode::client:
    return wire::PeerMode::CLIENT;
  case peer_mode::auxiliary:
    return wire::PeerMode::AUXILIARY;
  case peer_mode::node:
    break;
  }
  return wire::PeerMode::NODE;
}

caf::expected<peer_mode> from_wire(wire::PeerMode mode) {
  switch (mode) {
  case wire::PeerMode::NODE:
    return peer_mode::node;
  case wire::PeerMode::CLIENT:
    return peer_mode::client;
  case wire::PeerMode::AUXILIARY:
    return peer_mode::auxiliary;
  }
  return make_error(errc::invalid_argument,
                    "unknown peer mode (a newer peer?)");
}

wire::RefusalReason to_wire(refusal_reason reason) {
  switch (reason) {
  case refusal_reason::not_looking_for_group:
    return wire::RefusalReason::NOT_LOOKING_FOR_GROUP;
  case refusal_reason::not_declared:
    return wire::RefusalReason::NOT_DECLARED;
  case refusal_reason::bad_schema_hash:
    return wire::RefusalReason::BAD_SCHEMA_HASH;
  case refusal_reason::bad_group_key:
    return wire::RefusalReason::BAD_GROUP_KEY;
  case refusal_reason::later_expiration:
    return wire::RefusalReason::LATER_EXPIRATION;
  case refusal_reason::not_a_leader:
    return wire::RefusalReason::NOT_A_LEADER;
  case refusal_reason::duplicate_peer:
    return wire::RefusalReason::DUPLICATE_PEER;
  case refusal_reason::group_full:
    break;
  }
  return wire::RefusalReason::GROUP_FULL;
}

caf::expected<refusal_reason> from_wire(wire::RefusalReason reason) {
  switch (reason) {
  case wire::RefusalReason::NOT_LOOKING_FOR_GROUP:
    return refusal_reason::not_looking_for_group;
  case wire::RefusalReason::NOT_DECLARED:
    return refusal_reason::not_declared;
  case wire::RefusalReason::BAD_SCHEMA_HASH:
    return refusal_reason::bad_schema_hash;
  case wire::RefusalReason::BAD_GROUP_KEY:
    return refusal_reason::bad_group_key;
  case wire::RefusalReason::LATER_EXPIRATION:
    return refusal_reason::later_expiration;
  case wire::RefusalReason::NOT_A_LEADER:
    return refusal_reason::not_a_leader;
  case wire::RefusalReason::DUPLICATE_PEER:
    return refusal_reason::duplicate_peer;
  case wire::RefusalReason::GROUP_FULL:
    return refusal_reason::group_full;
  }
  return make_error(errc::invalid_argument,
                    "unknown refusal reason (a newer peer?)");
}

// Bandwidth travels as NaN when not stated.
double bandwidth_to_wire(const std::optional<double>& bandwidth) {
  return bandwidth.value_or(std::numeric_limits<double>::quiet_NaN());
}

caf::expected<std::optional<double>> bandwidth_from_wire(double value) {
  if (std::isnan(value))
    return std::optional<double>{};
  if (!std::isfinite(value) || value < 0)
    return make_error(errc::invalid_argument,
                      "bandwidth must be finite and >= 0, got " +
                          std::to_string(value));
  return std::optional<double>{value};
}

/// A peer that reduces (node, auxiliary) must be reachable.
caf::error check_reachable(peer_mode mode, const std::string& address,
                           const char* who) {
  if (mode != peer_mode::client && address.empty())
    return make_error(errc::invalid_argument, std::string{who} + " in " +
                                                  to_string(mode) +
                                                  " mode without an address");
  return {};
}

void write_contact(const peer_contact& contact,
                   wire::PeerContact::Builder out) {
  out.setPeerId(contact.id.to_string());
  out.setAddress(text_of(contact.address));
}

caf::expected<peer_contact> read_contact(wire::PeerContact::Reader in) {
  auto text = read_text(in.getPeerId(), max_peer_id_chars, "peer id");
  if (!text)
    return std::move(text.error());
  auto id = peer_id::parse(*text);
  if (!id)
    return std::move(id.error());
  auto address = read_text(in.getAddress(), max_address_bytes, "address");
  if (!address)
    return std::move(address.error());
  return peer_contact{*id, std::move(*address)};
}

caf::expected<join_request> read_join(wire::JoinRequest::Reader in,
                                      const peer_id& caller) {
  join_request r;
  r.peer.id = caller;
  auto address = read_text(in.getAddress(), max_address_bytes, "address");
  if (!address)
    return std::move(address.error());
  r.peer.address = std::move(*address);
  auto schema =
      read_data(in.getSchemaHash(), max_schema_hash_bytes, "schema hash");
  if (!schema)
    return std::move(schema.error());
  r.schema_hash = std::move(*schema);
  auto key = read_text(in.getGroupKey(), max_group_key_bytes, "group key");
  if (!key)
    return std::move(key.error());
  r.group_key = std::move(*key);
  r.expiration = in.getExpiration();
  if (!std::isfinite(r.expiration))
    return make_error(errc::invalid_argument, "expiration not finite");
  auto mode = from_wire(in.getMode());
  if (!mode)
    return std::move(mode.error());
  r.mode = *mode;
  auto bandwidth = bandwidth_from_wire(in.getBandwidth());
  if (!bandwidth)
    return std::move(bandwidth.error());
  r.bandwidth = *bandwidth;
  auto gathered =
      read_data(in.getGathered(), max_gathered_bytes, "gathered data");
  if (!gathered)
    return std::move(gathered.error());
  r.gathered = std::move(*gathered);
  if (auto err = check_reachable(r.mode, r.peer.address, "a requester"))
    return err;
  return r;
}

caf::expected<group_info> read_group(wire::BeginAllReduce::Reader in) {
  group_info group;
  auto id = in.getGroupId();
  if (id.size() != group.id.size())
    return make_error(errc::invalid_argument,
                      "group id of " + std::to_string(id.size()) +
                          " bytes, expected " +
                          std::to_string(group.id.size()));
  std::copy(id.begin(), id.end(), group.id.begin());
  auto members = in.getMembers();
  if (members.size() == 0)
    return make_error(errc::invalid_argument, "a group without members");
  if (members.size() > max_group_members)
    return make_error(errc::too_large, std::to_string(members.size()) +
                                           " group members, above the bound " +
                                           std::to_string(max_group_members));
  std::set<peer_id> seen;
  group.members.reserve(members.size());
  for (auto m : members) {
    member_info member;
    auto contact = read_contact(m.getPeer());
    if (!contact)
      return std::move(contact.error());
    member.peer = std::move(*contact);
    if (!seen.insert(member.peer.id).second)
      return make_error(errc::invalid_argument, "peer " +
                                                    member.peer.id.short_id() +
                                                    " is in the group twice");
    auto gathered =
        read_data(m.getGathered(), max_gathered_bytes, "gathered data");
    if (!gathered)
      return std::move(gathered.error());
    member.gathered = std::move(*gathered);
    auto bandwidth = bandwidth_from_wire(m.getBandwidth());
    if (!bandwidth)
      return std::move(bandwidth.error());
    member.bandwidth = *bandwidth;
    auto mode = from_wire(m.getMode());
    if (!mode)
      return std::move(mode.error());
    member.mode = *mode;
    if (auto err =
            check_reachable(member.mode, member.peer.address, "a member"))
      return err;
    group.members.push_back(std::move(member));
  }
  return group;
}

} // namespace

envelope encode_join_request(const join_request& request) {
  capnp::MallocMessageBuilder message;
  auto out = message.initRoot<wire::MatchmakingRequest>().initJoin();
  out.setAddress(text_of(request.peer.address));
  out.setSchemaHash(data_of(request.schema_hash));
  out.setGroupKey(text_of(request.group_key));
  out.setExpiration(request.expiration);
  out.setMode(to_wire(request.mode));
  out.setBandwidth(bandwidth_to_wire(request.bandwidth));
  out.setGathered(data_of(request.gathered));
  return to_envelope(message);
}

envelope encode_await_group(std::string_view group_key) {
  capnp::MallocMessageBuilder message;
  message.initRoot<wire::MatchmakingRequest>().setAwaitGroup(
      text_of(group_key));
  return to_envelope(message);
}

envelope encode_leave(std::string_view group_key) {
  capnp::MallocMessageBuilder message;
  message.initRoot<wire::MatchmakingRequest>().setLeave(text_of(group_key));
  return to_envelope(message);
}

caf::expected<matchmaking_request>
decode_matchmaking_request(const envelope& message, const peer_id& caller) {
  return read_flat_message(
      message, "matchmaking request",
      [&](capnp::MessageReader& reader) -> caf::expected<matchmaking_request> {
        auto root = reader.getRoot<wire::MatchmakingRequest>();
        matchmaking_request r;
        switch (root.which()) {
        case wire::MatchmakingRequest::JOIN: {
          r.kind = matchmaking_request::kind_type::join;
          auto join = read_join(root.getJoin(), caller);
          if (!join)
            return std::move(join.error());
          r.join = std::move(*join);
          return r;
        }
        case wire::MatchmakingRequest::AWAIT_GROUP: {
          r.kind = matchmaking_request::kind_type::await_group;
          auto key =
              read_text(root.getAwaitGroup(), max_group_key_bytes, "group key");
          if (!key)
            return std::move(key.error());
          r.group_key = std::move(*key);
          return r;
        }
        case wire::MatchmakingRequest::LEAVE: {
          r.kind = matchmaking_request::kind_type::leave;
          auto key =
              read_text(root.getLeave(), max_group_key_bytes, "group key");
          if (!key)
            return std::move(key.error());
          r.group_key = std::move(*key);
          return r;
        }
        }
        return make_error(errc::invalid_argument,
                          "unknown matchmaking request (a newer peer?)");
      });
}

envelope encode_join_response(const join_response& response) {
  capnp::MallocMessageBuilder message;
  auto out = message.initRoot<wire::JoinResponse>();
  if (response.accepted) {
    out.setAccepted();
    return to_envelope(message);
  }
  out.setRefused(to_wire(response.reason));
  if (response.suggested_leader)
    write_contact(*response.suggested_leader, out.initSuggestedLeader());
  return to_envelope(message);
}

caf::expected<join_response> decode_join_response(const envelope& message) {
  return read_flat_message(
      message, "join response",
      [](capnp::MessageReader& reader) -> caf::expected<join_response> {
        auto root = reader.getRoot<wire::JoinResponse>();
        switch (root.which()) {
        case wire::JoinResponse::ACCEPTED:
          return join_response::accept();
        case wire::JoinResponse::REFUSED: {
          auto reason = from_wire(root.getRefused());
          if (!reason)
            return std::move(reason.error());
          std::optional<peer_contact> suggested;
          if (*reason == refusal_reason::not_a_leader &&
              root.hasSuggestedLeader()) {
            auto contact = read_contact(root.getSuggestedLeader());
            if (!contact)
              return std::move(contact.error());
            suggested = std::move(*contact);
          }
          return join_response::refuse(*reason, std::move(suggested));
        }
        }
        return make_error(errc::invalid_argument,
                          "unknown join response (a newer peer?)");
      });
}

envelope encode_leader_message(const leader_message& m) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<wire::LeaderMessage>();
  if (m.kind == leader_message::kind_type::disbanded) {
    auto out = root.initDisbanded();
    if (m.suggested_leader)
      write_contact(*m.suggested_leader, out.initSuggestedLeader());
    return to_envelope(message);
  }
  auto out = root.initBeginAllReduce();
  out.setGroupId(capnp::Data::Reader{m.group.id.data(), m.group.id.size()});
  auto members = out.initMembers(static_cast<unsigned>(m.group.members.size()));
  for (size_t i = 0; i < m.group.members.size(); ++i) {
    const auto& in = m.group.members[i];
    auto member = members[static_cast<unsigned>(i)];
    write_contact(in.peer, member.initPeer());
    member.setGathered(data_of(in.gathered));
    member.setBandwidth(bandwidth_to_wire(in.bandwidth));
    member.setMode(to_wire(in.mode));
  }
  return to_envelope(message);
}

caf::expected<leader_message> decode_leader_message(const envelope& message) {
  return read_flat_message(
      message, "leader message",
      [](capnp::MessageReader& reader) -> caf::expected<leader_message> {
        auto root = reader.getRoot<wire::LeaderMessage>();
        leader_message m;
        switch (root.which()) {
        case wire::LeaderMessage::BEGIN_ALL_REDUCE: {
          m.kind = leader_message::kind_type::begin_all_reduce;
          auto group = read_group(root.getBeginAllReduce());
          if (!group)
            return std::move(group.error());
          m.group = std::move(*group);
          return m;
        }
        case wire::LeaderMessage::DISBANDED: {
          m.kind = leader_message::kind_type::disbanded;
          auto d = root.getDisbanded();
          if (d.hasSuggestedLeader()) {
            auto contact = read_contact(d.getSuggestedLeader());
            if (!contact)
              return std::move(contact.error());
            m.suggested_leader = std::move(*contact);
          }
          return m;
        }
        }
        return make_error(errc::invalid_argument,
                          "unknown leader message (a newer peer?)");
      });
}

envelope encode_matchmaking_ack() {
  capnp::MallocMessageBuilder message;
  message.initRoot<wire::MatchmakingAck>();
  return to_envelope(message);
}

std::string encode_group_declaration(const group_declaration& declaration) {
  capnp::MallocMessageBuilder message;
  auto out = message.initRoot<wire::GroupDeclaration>();
  out.setLooking(declaration.looking);
  out.setAddress(text_of(declaration.address));
  auto flat = to_envelope(message);
  return std::string{flat.data(), flat.size()};
}

caf::expected<group_declaration>
decode_group_declaration(std::string_view bytes) {
  if (bytes.size() > max_declaration_bytes)
    return make_error(errc::malformed,
                      "group declaration of " + std::to_string(bytes.size()) +
                          " bytes, above the bound " +
                          std::to_string(max_declaration_bytes));
  // DHT values carry no alignment promise: the envelope copies them into
  // a fresh (word-aligned) buffer.
  envelope flat{std::vector<char>(bytes.begin(), bytes.end())};
  return read_flat_message(
      flat, "group declaration",
      [](capnp::MessageReader& reader) -> caf::expected<group_declaration> {
        auto in = reader.getRoot<wire::GroupDeclaration>();
        group_declaration d;
        d.looking = in.getLooking();
        auto address = read_text(in.getAddress(), max_address_bytes, "address");
        if (!address)
          return std::move(address.error());
        d.address = std::move(*address);
        if (d.looking && d.address.empty())
          return make_error(errc::invalid_argument,
                            "a declared peer without an address");
        return d;
      });
}

} // namespace colony::averaging
