// Fuzz target: the DHT's request and response decoders. Input: one Cap'n
// Proto message in flat form, a `dht` service body. It is served as a
// DhtRequest against a node with some records and peers (as dht_node.cpp's
// `serve` does), the answer it produced is read back as a DhtResponse, and
// the input itself is read as a DhtResponse (as the node's `send`,
// `query`/`absorb`, `replicate` and `bootstrap` handlers read replies).
//
// dht_node keeps this logic inside its actor, so the steps below follow it
// line by line with the same pure parts (peer_id, dht_id, validators,
// storage, routing table); keep them in step when dht_node.cpp changes.

#include "fuzz_rng.hpp"
#include "fuzz_target.hpp"

#include "actors/dht/detail/dht_storage.hpp"
#include "actors/dht/detail/routing_table.hpp"
#include "actors/dht/dht_id.hpp"
#include "actors/dht/node_ref.hpp"
#include "actors/dht/record_limits.hpp"
#include "actors/dht/record_validator.hpp"
#include "actors/dht/store_rate_limiter.hpp"
#include "messages/dht.capnp.h"
#include "messages/error.hpp"

#include <capnp/serialize.h>
#include <kj/exception.h>

#include <map>
#include <memory>
#include <optional>
#include <string>

namespace colony::dht {
namespace {

using fuzz::bytes;

/// DHT time of every input, so expirations mean the same in each run.
constexpr double now = 1.8e9;

constexpr size_t bucket_size = 20;
constexpr size_t num_replicas = 5;

kj::ArrayPtr<const kj::byte> bytes_of(std::string_view s) {
  return {reinterpret_cast<const kj::byte*>(s.data()), s.size()};
}

std::string string_of(capnp::Data::Reader d) {
  return {reinterpret_cast<const char*>(d.begin()), d.size()};
}

/// The identities: this node, a peer that owns signed records, and peers
/// that fill the routing table. Made once, with the deterministic RNG.
struct parties {
  std::shared_ptr<const identity> me;
  std::shared_ptr<const identity> owner;
  std::vector<identity> peers;
  std::string owned_key; ///< a key only `owner` may write
  std::string my_id;     ///< `me`'s peer id as text

  parties() {
    FUZZ_CHECK(fuzz::install_deterministic_rng());
    fuzz::reset_rng(7);
    me = std::make_shared<identity>(*identity::generate());
    owner = std::make_shared<identity>(*identity::generate());
    for (int i = 0; i < 8; ++i)
      peers.push_back(*identity::generate());
    my_id = me->peer_id().to_string();
    owned_key = "run_progress" +
                signed_record_validator::owner_marker(owner->peer_id());
  }
};

const parties& the_parties() {
  static const parties p;
  return p;
}

std::string address_of(size_t i) {
  return "10.0.0." + std::to_string(i + 1) + ":4000";
}

/// A value of `key` (and `subkey`) signed by `owner`, as its writer stores it.
std::string signed_value(const std::string& key, const std::string& subkey,
                         bool has_subkey, const std::string& value,
                         double expiration) {
  signed_record_validator owner{the_parties().owner};
  return owner.sign_value(
      dht_record{key, subkey, has_subkey, value, expiration});
}

/// One node's state, fresh for each input (dht_node.cpp's dht_state).
struct node {
  dht_id own_id;
  routing_table table;
  dht_storage storage{64, 0.1};
  dht_storage cache{16, 0.1};
  validator_chain validators;
  record_limits limits;
  store_rate_limiter store_rate{120};
  /// The authenticated peer the request came from.
  std::string caller = the_parties().peers[5].peer_id().to_string();

  node()
      : own_id(dht_id::of_peer(the_parties().me->peer_id())),
        table(own_id, bucket_size, 5) {
    auto& p = the_parties();
    validators.add(std::make_shared<signed_record_validator>(p.me));
    for (size_t i = 0; i < 4; ++i)
      table.add_or_update_node(dht_id::of_peer(p.peers[i].peer_id()),
                               p.peers[i].peer_id(), address_of(i), now);
    storage.store(dht_id::of_key("plain"), "value", now + 60, now, "plain");
    storage.store_subkey(dht_id::of_key("dict"), "a", "1", now + 60, now,
                         "dict");
    storage.store_subkey(dht_id::of_key("dict"), "b", "2", now + 90, now,
                         "dict");
    auto owned = p.owned_key;
    storage.store(dht_id::of_key(owned),
                  signed_value(owned, {}, false, "7", now + 60), now + 60, now,
                  owned);
  }

  // -- dht_node.cpp's dht_impl, reading what a peer sent ------------------

  static std::optional<node_ref> read_peer(wire::DhtPeer::Reader in) {
    auto id = peer_id::parse(in.getPeerId().cStr());
    if (!id || in.getAddress().size() == 0)
      return std::nullopt;
    return node_ref{dht_id::of_peer(*id), *id, in.getAddress()};
  }

  void on_peer_alive(const node_ref& n) {
    if (n.id == own_id)
      return;
    bool is_new = !table.contains(n.id);
    auto to_ping = table.add_or_update_node(n.id, n.peer, n.address, now);
    if (to_ping)
      (void)to_ping->address;
    if (is_new && table.contains(n.id))
      replicate_to(n);
  }

  /// The records `n` should now hold (sent as a store request).
  void replicate_to(const node_ref& n) {
    size_t items = 0;
    for (auto& [key_id, entry] : storage.items(now)) {
      auto nearest = table.get_nearest_neighbors(key_id, num_replicas,
                                                 std::optional<dht_id>{n.id});
      if (!nearest.empty() && nearest.size() >= num_replicas &&
          !(distance(n.id, key_id) < distance(nearest.back().id, key_id)))
        continue;
      items += storage.records_of(key_id, now).size();
    }
    (void)items;
  }

  /// Returns why the store was refused ("" if stored).
  std::string store_local(const std::string& key, const std::string& subkey,
                          bool has_subkey, const std::string& value,
                          double expiration, bool in_cache,
                          const std::string& owner) {
    dht_record rec{key, subkey, has_subkey, value, expiration};
    if (auto why = check_record(rec, limits, now))
      return *why;
    fuzz::count("store item within limits");
    if (!validators.validate(rec))
      return "invalid";
    fuzz::count("store item valid");
    auto& store = in_cache ? cache : storage;
    auto key_id = dht_id::of_key(key);
    auto done = has_subkey
                    ? store.store_subkey(key_id, subkey, value, expiration, now,
                                         key, owner)
                    : store.store(key_id, value, expiration, now, key, owner);
    return done ? "" : to_string(done.outcome);
  }

  void answer_find(capnp::Data::Reader raw_id,
                   const std::optional<dht_id>& requester,
                   wire::FindResult::Builder out) {
    auto key_id = dht_id::from_bytes(raw_id.begin(), raw_id.size());
    if (!key_id) {
      out.setNotFound();
      return;
    }
    std::optional<dht_value> found;
    for (auto* store : {&storage, &cache}) {
      auto v = store->get(*key_id, now);
      if (v && (!found || v->expiration > found->expiration))
        found = std::move(v);
    }
    if (!found) {
      out.setNotFound();
    } else if (found->plain) {
      out.initPlain().setValue(bytes_of(*found->plain));
      out.setExpiration(found->expiration);
    } else {
      auto list =
          out.initDictionary(static_cast<unsigned>(found->subkeys.size()));
      unsigned j = 0;
      for (auto& [sk, sv] : found->subkeys) {
        list[j].setSubkey(bytes_of(sk));
        list[j].setValue(bytes_of(sv.value));
        list[j].setExpiration(sv.expiration);
        ++j;
      }
      out.setExpiration(found->expiration);
    }
    auto nearest = table.get_nearest_neighbors(*key_id, bucket_size, requester);
    auto list = out.initNearest(static_cast<unsigned>(nearest.size()));
    for (unsigned j = 0; j < nearest.size(); ++j) {
      list[j].setPeerId(nearest[j].peer.to_string());
      list[j].setAddress(nearest[j].address);
    }
  }

  /// dht_impl::serve: the answer, or nullopt for a refused request.
  std::optional<bytes> serve(const envelope& body) {
    try {
      capnp::FlatArrayMessageReader reader(
          body.words(),
          reader_limits::for_message(body.words().size()).options());
      auto req = reader.getRoot<wire::DhtRequest>();
      if (auto sender = read_peer(req.getSender()))
        on_peer_alive(*sender);
      std::optional<dht_id> requester;
      if (auto id = peer_id::parse(req.getSender().getPeerId().cStr()))
        requester = dht_id::of_peer(*id);
      capnp::MallocMessageBuilder msg;
      auto resp = msg.initRoot<wire::DhtResponse>();
      resp.initResponder().setPeerId(the_parties().my_id);
      switch (req.which()) {
      case wire::DhtRequest::PING:
        resp.setPing();
        break;
      case wire::DhtRequest::STORE: {
        auto items = req.getStore();
        auto out = resp.initStore(items.size());
        auto reasons = resp.initStoreRefusals(items.size());
        for (unsigned i = 0; i < items.size(); ++i) {
          auto it = items[i];
          std::string why;
          if (!store_rate.allow(caller, now))
            why = "rate_limited";
          else
            why = store_local(string_of(it.getKey()), string_of(it.getSubkey()),
                              it.getHasSubkey(), string_of(it.getValue()),
                              it.getExpiration(), it.getInCache(), caller);
          out.set(i, why.empty());
          if (!why.empty())
            reasons.set(i, why);
        }
        break;
      }
      case wire::DhtRequest::FIND: {
        auto keys = req.getFind();
        auto out = resp.initFind(keys.size());
        for (unsigned i = 0; i < keys.size(); ++i)
          answer_find(keys[i], requester, out[i]);
        break;
      }
      default:
        fuzz::count("request of an unknown kind");
        return std::nullopt;
      }
      fuzz::count("request served");
      return fuzz::flat_bytes(msg);
    } catch (const kj::Exception&) {
      fuzz::count("request malformed");
      return std::nullopt;
    }
  }

  // -- reading replies (dht_impl::send and its handlers) -------------------

  /// What a get of `key` found so far (dht_node.cpp's lookup_state.best).
  struct lookup {
    std::string key;
    bool found = false;
    bool is_dictionary = false;
    std::string value;
    std::map<std::string, std::pair<std::string, double>> subkeys;
    double expiration = 0;
  };

  /// dht_impl::absorb.
  void absorb(lookup& best, wire::FindResult::Reader result) {
    if (result.isNotFound() || result.getExpiration() < now)
      return;
    if (result.isPlain()) {
      auto value = string_of(result.getPlain().getValue());
      dht_record rec{best.key, {}, false, value, result.getExpiration()};
      if (check_record(rec, limits, now) || !validators.validate(rec))
        return;
      if (!best.found || result.getExpiration() > best.expiration) {
        best = lookup{best.key,         true, false,
                      std::move(value), {},   result.getExpiration()};
      }
      return;
    }
    lookup dict{best.key};
    if (best.found && best.is_dictionary)
      dict = best;
    for (auto e : result.getDictionary()) {
      if (e.getExpiration() < now)
        continue;
      auto subkey = string_of(e.getSubkey());
      auto value = string_of(e.getValue());
      dht_record rec{best.key, subkey, true, value, e.getExpiration()};
      if (check_record(rec, limits, now) || !validators.validate(rec))
        continue;
      auto& slot = dict.subkeys[subkey];
      if (e.getExpiration() > slot.second)
        slot = {value, e.getExpiration()};
      dict.expiration = std::max(dict.expiration, e.getExpiration());
    }
    if (dict.subkeys.empty())
      return;
    if (!best.found || best.is_dictionary ||
        dict.expiration > best.expiration) {
      dict.found = true;
      dict.is_dictionary = true;
      best = std::move(dict);
    }
  }

  /// dht_impl::finish of a get: the value goes into the cache.
  void cache_found(const lookup& best) {
    if (!best.found)
      return;
    fuzz::count(best.is_dictionary ? "reply: dictionary found"
                                   : "reply: value found");
    auto key_id = dht_id::of_key(best.key);
    if (best.is_dictionary) {
      for (auto& [sk, sv] : best.subkeys)
        cache.store_subkey(key_id, sk, sv.first, sv.second, now, best.key);
    } else {
      cache.store(key_id, best.value, best.expiration, now, best.key);
    }
  }

  void read_response(const envelope& reply) {
    try {
      capnp::FlatArrayMessageReader reader(
          reply.words(),
          reader_limits::for_message(reply.words().size()).options());
      auto resp = reader.getRoot<wire::DhtResponse>();
      // bootstrap: the responder joins the table.
      if (auto peer = read_peer(resp.getResponder()))
        on_peer_alive(*peer);
      // query: nearest peers of a lookup, and the value of a get (one key
      // per request, so one result).
      if (resp.isFind() && resp.getFind().size() == 1) {
        auto result = resp.getFind()[0];
        std::vector<node_ref> nearest;
        for (auto p : result.getNearest())
          if (auto ref = read_peer(p); ref && ref->id != own_id)
            nearest.push_back(*ref);
        for (auto& key : {the_parties().owned_key, std::string{"dict"}}) {
          lookup best{key};
          absorb(best, result);
          cache_found(best);
        }
      }
      // replicate: whether the one item was stored.
      if (resp.isStore() && resp.getStore().size() == 1)
        (void)resp.getStore()[0];
      fuzz::count("reply read");
    } catch (const kj::Exception&) {
      fuzz::count("reply malformed"); // the peer counts as failed
    }
  }
};

bytes request_seed(const std::function<void(wire::DhtRequest::Builder)>& f) {
  auto& p = the_parties();
  capnp::MallocMessageBuilder msg;
  auto req = msg.initRoot<wire::DhtRequest>();
  req.initSender().setPeerId(p.peers[5].peer_id().to_string());
  req.getSender().setAddress(address_of(5));
  f(req);
  return fuzz::flat_bytes(msg);
}

bytes response_seed(const std::function<void(wire::DhtResponse::Builder)>& f) {
  auto& p = the_parties();
  capnp::MallocMessageBuilder msg;
  auto resp = msg.initRoot<wire::DhtResponse>();
  resp.initResponder().setPeerId(p.peers[6].peer_id().to_string());
  resp.getResponder().setAddress(address_of(6));
  f(resp);
  return fuzz::flat_bytes(msg);
}

void set_id(capnp::List<capnp::Data>::Builder list, unsigned i,
            const dht_id& id) {
  list.set(i, kj::arrayPtr(id.bytes().data(), id.bytes().size()));
}

} // namespace
} // namespace colony::dht

namespace colony::fuzz {

std::vector<bytes> seeds() {
  using namespace colony::dht;
  auto& p = the_parties();
  auto owned = p.owned_key;
  std::vector<bytes> out;
  out.push_back(request_seed([](auto req) { req.setPing(); }));
  out.push_back(request_seed([&](auto req) {
    auto items = req.initStore(5);
    items[0].setKey(bytes_of("plain"));
    items[0].setValue(bytes_of("new value"));
    items[0].setExpiration(now + 120);
    items[1].setKey(bytes_of("dict"));
    items[1].setSubkey(bytes_of("c"));
    items[1].setHasSubkey(true);
    items[1].setValue(bytes_of("3"));
    items[1].setExpiration(now + 120);
    auto value = signed_value(owned, {}, false, "8", now + 120);
    items[2].setKey(bytes_of(owned));
    items[2].setValue(bytes_of(value));
    items[2].setExpiration(now + 120);
    auto sub = signed_value(owned, "s", true, "9", now + 120);
    items[3].setKey(bytes_of(owned));
    items[3].setSubkey(bytes_of("s"));
    items[3].setHasSubkey(true);
    items[3].setValue(bytes_of(sub));
    items[3].setExpiration(now + 120);
    items[3].setInCache(true);
    items[4].setKey(bytes_of("expired"));
    items[4].setValue(bytes_of("x"));
    items[4].setExpiration(now - 1);
  }));
  out.push_back(request_seed([&](auto req) {
    auto keys = req.initFind(4);
    set_id(keys, 0, dht_id::of_key("plain"));
    set_id(keys, 1, dht_id::of_key("dict"));
    set_id(keys, 2, dht_id::of_key(owned));
    keys.set(3, bytes_of("short"));
  }));
  // Replies: a get's value (plain, dictionary), none, a store's answer.
  out.push_back(response_seed([](auto resp) { resp.setPing(); }));
  out.push_back(
      response_seed([](auto resp) { resp.initStore(1).set(0, true); }));
  out.push_back(response_seed([&](auto resp) {
    auto result = resp.initFind(1)[0];
    result.initPlain().setValue(
        bytes_of(signed_value(owned, {}, false, "10", now + 300)));
    result.setExpiration(now + 300);
    auto nearest = result.initNearest(3);
    for (unsigned i = 0; i < 3; ++i) {
      nearest[i].setPeerId(p.peers[i + 4].peer_id().to_string());
      nearest[i].setAddress(address_of(i + 4));
    }
  }));
  out.push_back(response_seed([&](auto resp) {
    auto result = resp.initFind(1)[0];
    auto dict = result.initDictionary(2);
    dict[0].setSubkey(bytes_of("a"));
    dict[0].setValue(bytes_of("1"));
    dict[0].setExpiration(now + 30);
    dict[1].setSubkey(bytes_of("s"));
    dict[1].setValue(bytes_of(signed_value(owned, "s", true, "2", now + 40)));
    dict[1].setExpiration(now + 40);
    result.setExpiration(now + 40);
  }));
  out.push_back(response_seed([&](auto resp) {
    auto result = resp.initFind(1)[0];
    result.setNotFound();
    auto nearest = result.initNearest(1);
    nearest[0].setPeerId(p.peers[7].peer_id().to_string());
    nearest[0].setAddress(address_of(7));
  }));
  return out;
}

void run_one(const uint8_t* data, size_t size) {
  // A copy: building a node signs and hashes, 20x the time of a decode.
  static const dht::node prototype;
  auto input = envelope_of(data, size);
  auto n = prototype;
  if (auto answer = n.serve(input)) {
    // Our own answer must read back as a well-formed reply.
    auto reply = envelope_of(answer->data(), answer->size());
    capnp::FlatArrayMessageReader reader(reply.words(),
                                         reader_limits{}.options());
    FUZZ_CHECK(reader.getRoot<wire::DhtResponse>().hasResponder());
    n.read_response(reply);
  }
  n.read_response(input);
}

} // namespace colony::fuzz
