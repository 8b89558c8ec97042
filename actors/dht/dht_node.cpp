#include "actors/dht/dht_node.hpp"

#include "actors/dht/detail/dht_storage.hpp"
#include "actors/dht/detail/routing_table.hpp"
#include "actors/dht/detail/traversal.hpp"
#include "actors/dht/dht_id.hpp"
#include "actors/dht/record_limits.hpp"
#include "actors/dht/record_validator.hpp"
#include "actors/dht/store_rate_limiter.hpp"
#include "messages/dht.capnp.h"
#include "messages/envelope.hpp"
#include "messages/error.hpp"
#include "runtime/transport/transport_atoms.hpp"

#include <caf/all.hpp>

#include <kj/exception.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <unordered_map>

namespace colony::dht {

double dht_time() {
  return std::chrono::duration<double>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {

/// Most cached keys with a pending refresh.
constexpr size_t max_cache_refreshes = 10000;

/// Name of the transport service DHT nodes answer on.
constexpr const char* dht_service = "dht";

/// Fewest seconds between two log lines about refused stores; the refusals
/// in between are counted in the next line.
constexpr double refusal_log_period_s = 10.0;

/// Refusal reasons of stores that no record limit or storage rule covers
/// (docs/wire.md).
constexpr const char* refusal_invalid =
    "invalid: refused by the node's validators (e.g. a missing or bad "
    "signature)";
constexpr const char* refusal_rate_limited = "rate_limited";
constexpr const char* refusal_no_replica =
    "unreachable: no replica answered the store";

kj::ArrayPtr<const kj::byte> bytes_of(std::string_view s) {
  return {reinterpret_cast<const kj::byte*>(s.data()), s.size()};
}

std::string string_of(capnp::Data::Reader d) {
  return {reinterpret_cast<const char*>(d.begin()), d.size()};
}

/// One lookup in progress (a get, a store's search for replicas, or a
/// search for nodes near an id).
struct lookup_state {
  std::unique_ptr<traversal> walk;
  std::string key;              ///< serialized key (empty for node lookups)
  bool want_value = false;      ///< a get
  bool latest = false;          ///< a get that wants the newest value
  get_result best;              ///< newest valid value found so far
  std::vector<node_ref> lacked; ///< answered without the value
  std::function<void(lookup_state&)> on_done;
  bool finished = false;
};

struct blacklist_entry {
  int failures = 0;
  double until = 0;
};

class dht_impl;

struct dht_state {
  std::shared_ptr<dht_impl> impl; ///< logic; the handlers call into it
  dht_node_config cfg;
  dht_id own_id;
  std::unique_ptr<routing_table> table;
  std::unique_ptr<dht_storage> storage;
  std::unique_ptr<dht_storage> cache;
  validator_chain validators;
  record_limits limits;
  std::unique_ptr<store_rate_limiter> store_rate;
  /// When refused stores were last logged, and how many were refused since.
  double refusals_logged_at = 0;
  size_t refusals_unlogged = 0;
  std::unordered_map<uint64_t, lookup_state> lookups;
  uint64_t next_lookup = 1;
  /// Gets of one key in flight share one lookup: (key id, latest) -> the
  /// callers waiting for it.
  std::map<std::pair<dht_id, bool>,
           std::vector<std::function<void(get_result)>>>
      gets_in_flight;
  std::unordered_map<peer_id, blacklist_entry> blacklist;
  /// Cached keys with a refresh scheduled.
  std::set<std::string> refresh_queue;
  dht_stats stats;

  static inline const char* name = "colony.dht_node";
};

using dht_actor = caf::stateful_actor<dht_state>;

class dht_impl {
 public:
  explicit dht_impl(dht_actor* self) : self_(self) {}

  dht_state& st() { return self_->state; }
  const dht_options& opts() { return st().cfg.options; }
  spdlog::logger& log() { return *st().cfg.log; }

  // -- wire helpers ----------------------------------------------------------

  void write_self(wire::DhtPeer::Builder peer) {
    peer.setPeerId(st().cfg.me->peer_id().to_string());
    if (!opts().client_mode)
      peer.setAddress(st().cfg.address);
  }

  static void write_peer(wire::DhtPeer::Builder out, const node_ref& n) {
    out.setPeerId(n.peer.to_string());
    out.setAddress(n.address);
  }

  static std::optional<node_ref> read_peer(wire::DhtPeer::Reader in) {
    auto id = peer_id::parse(in.getPeerId().cStr());
    if (!id || in.getAddress().size() == 0)
      return std::nullopt;
    return node_ref{dht_id::of_peer(*id), *id, in.getAddress()};
  }

  /// A store request carrying `items` (into the cache if `in_cache`).
  envelope store_body(const std::vector<store_request>& items, bool in_cache) {
    capnp::MallocMessageBuilder msg;
    auto req = msg.initRoot<wire::DhtRequest>();
    write_self(req.initSender());
    auto list = req.initStore(static_cast<unsigned>(items.size()));
    for (unsigned i = 0; i < items.size(); ++i) {
      auto& it = items[i];
      list[i].setKey(bytes_of(it.key));
      list[i].setSubkey(bytes_of(it.subkey));
      list[i].setHasSubkey(it.has_subkey);
      list[i].setValue(bytes_of(it.value));
      list[i].setExpiration(it.expiration);
      list[i].setInCache(in_cache);
    }
    return to_envelope(msg);
  }

  // -- routing table upkeep
  // ----------------------------------------------------

  bool blacklisted(const peer_id& p) {
    auto i = st().blacklist.find(p);
    return i != st().blacklist.end() && i->second.until > dht_time();
  }

  void on_peer_failed(const node_ref& n) {
    ++st().stats.requests_failed;
    auto& b = st().blacklist[n.peer];
    b.failures++;
    b.until = dht_time() + opts().blacklist_base_seconds *
                               (1 << std::min(b.failures - 1, 10));
    st().table->remove_node(n.id);
  }

  /// Learned of a live node: refresh the table; hand a new neighbour the
  /// keys it should now hold; ping the bucket's oldest if it is full.
  void on_peer_alive(const node_ref& n) {
    if (n.id == st().own_id)
      return;
    st().blacklist.erase(n.peer);
    bool is_new = !st().table->contains(n.id);
    auto to_ping =
        st().table->add_or_update_node(n.id, n.peer, n.address, dht_time());
    if (to_ping)
      ping_or_evict(*to_ping);
    if (is_new && st().table->contains(n.id))
      replicate_to(n);
  }

  void ping_or_evict(const node_ref& oldest) {
    capnp::MallocMessageBuilder msg{64};
    auto req = msg.initRoot<wire::DhtRequest>();
    write_self(req.initSender());
    req.setPing();
    send(
        oldest, to_envelope(msg), [](wire::DhtResponse::Reader) {},
        [](const caf::error&) {});
  }

  /// Stores at `n` every local key `n` is now among the nearest to.
  void replicate_to(const node_ref& n) {
    auto now = dht_time();
    std::vector<store_request> items;
    for (auto& [key_id, entry] : st().storage->items(now)) {
      auto nearest = st().table->get_nearest_neighbors(
          key_id, opts().num_replicas, std::optional<dht_id>{n.id});
      if (!nearest.empty() && nearest.size() >= opts().num_replicas &&
          !(distance(n.id, key_id) < distance(nearest.back().id, key_id)))
        continue;
      for (auto& r : st().storage->records_of(key_id, now))
        items.push_back(store_request{r.key, r.subkey, r.has_subkey, r.value,
                                      r.expiration});
    }
    if (items.empty())
      return;
    send(
        n, store_body(items, false), [](wire::DhtResponse::Reader) {},
        [](const caf::error&) {});
  }

  // -- outgoing requests
  // -------------------------------------------------------

  using reply_handler = std::function<void(wire::DhtResponse::Reader)>;
  using fail_handler = std::function<void(const caf::error&)>;

  void send(const node_ref& n, envelope body, reply_handler on_reply,
            fail_handler on_fail) {
    ++st().stats.requests_sent;
    self_
        ->request(st().cfg.transport, opts().wait_timeout * 2, call_atom::value,
                  n.address, std::string{dht_service}, std::move(body),
                  caf::timespan{opts().wait_timeout})
        .then(
            [this, n, on_reply, on_fail](envelope& reply) {
              try {
                capnp::FlatArrayMessageReader reader(
                    reply.words(),
                    reader_limits::for_message(reply.words().size()).options());
                auto resp = reader.getRoot<wire::DhtResponse>();
                on_peer_alive(n);
                on_reply(resp);
              } catch (const kj::Exception& ex) {
                auto err =
                    make_error(errc::malformed, std::string("DHT reply from ") +
                                                    n.address + ": " +
                                                    ex.getDescription().cStr());
                on_peer_failed(n);
                on_fail(err);
              }
            },
            [this, n, on_fail](caf::error& err) {
              log().debug("DHT request to {} failed: {}", n.address,
                          describe(err));
              on_peer_failed(n);
              on_fail(err);
            });
  }

  // -- lookups
  // -----------------------------------------------------------------

  uint64_t start_lookup(const dht_id& target, std::string key, bool want_value,
                        bool latest, std::function<void(lookup_state&)> done) {
    auto id = st().next_lookup++;
    auto& lk = st().lookups[id];
    lk.walk = std::make_unique<traversal>(target, opts().bucket_size,
                                          opts().parallel_rpc);
    lk.key = std::move(key);
    lk.want_value = want_value;
    lk.latest = latest;
    lk.on_done = std::move(done);
    ++st().stats.lookups;
    std::vector<node_ref> seeds;
    for (auto& n : st().table->get_nearest_neighbors(target, opts().bucket_size,
                                                     std::nullopt))
      seeds.push_back(n);
    lk.walk->add_candidates(seeds);
    step(id);
    return id;
  }

  void step(uint64_t id) {
    auto i = st().lookups.find(id);
    if (i == st().lookups.end())
      return;
    auto& lk = i->second;
    if (lk.want_value && lk.best.found && !lk.latest) {
      finish(id);
      return;
    }
    for (auto& n : lk.walk->next_requests()) {
      if (blacklisted(n.peer)) {
        lk.walk->on_failure(n.id);
        continue;
      }
      query(id, n);
    }
    if (lk.walk->done())
      finish(id);
  }

  void query(uint64_t id, const node_ref& n) {
    auto& lk = st().lookups[id];
    capnp::MallocMessageBuilder msg{128};
    auto req = msg.initRoot<wire::DhtRequest>();
    write_self(req.initSender());
    auto target = lk.walk->target();
    req.initFind(1).set(
        0, kj::arrayPtr(target.bytes().data(), target.bytes().size()));
    send(
        n, to_envelope(msg),
        [this, id, n](wire::DhtResponse::Reader resp) {
          auto i = st().lookups.find(id);
          if (i == st().lookups.end() || i->second.finished)
            return;
          auto& lk = i->second;
          std::vector<node_ref> nearest;
          if (resp.isFind() && resp.getFind().size() == 1) {
            auto result = resp.getFind()[0];
            for (auto p : result.getNearest())
              if (auto ref = read_peer(p); ref && ref->id != st().own_id)
                nearest.push_back(*ref);
            if (lk.want_value)
              absorb(lk, n, result);
          }
          lk.walk->on_response(n, nearest);
          step(id);
        },
        [this, id, n](const caf::error&) {
          auto i = st().lookups.find(id);
          if (i == st().lookups.end() || i->second.finished)
            return;
          i->second.walk->on_failure(n.id);
          step(id);
        });
  }

  /// Merges a peer's answer into the best value found so far.
  void absorb(lookup_state& lk, const node_ref& from,
              wire::FindResult::Reader result) {
    auto now = dht_time();
    if (result.isNotFound() || result.getExpiration() < now) {
      lk.lacked.push_back(from);
      return;
    }
    auto& best = lk.best;
    if (result.isPlain()) {
      auto value = string_of(result.getPlain().getValue());
      dht_record rec{lk.key, {}, false, value, result.getExpiration()};
      if (check_record(rec, st().limits, now) || !st().validators.validate(rec))
        return; // a lying or forging peer
      if (!best.found || result.getExpiration() > best.expiration) {
        best = get_result{};
        best.found = true;
        best.value = std::move(value);
        best.expiration = result.getExpiration();
      }
      return;
    }
    // Dictionaries merge subkey by subkey (newest expiration wins); one
    // replaces a plain value only if newer, as storage does.
    get_result dict;
    if (best.found && best.is_dictionary)
      dict = best;
    for (auto e : result.getDictionary()) {
      if (e.getExpiration() < now)
        continue;
      auto subkey = string_of(e.getSubkey());
      auto value = string_of(e.getValue());
      dht_record rec{lk.key, subkey, true, value, e.getExpiration()};
      if (check_record(rec, st().limits, now) || !st().validators.validate(rec))
        continue;
      auto& slot = dict.subkeys[subkey];
      if (e.getExpiration() > slot.expiration)
        slot = subkey_value{value, e.getExpiration()};
      dict.expiration = std::max(dict.expiration, e.getExpiration());
    }
    if (dict.subkeys.empty())
      return;
    dict.found = true;
    dict.is_dictionary = true;
    if (!best.found || best.is_dictionary || dict.expiration > best.expiration)
      best = std::move(dict);
  }

  void finish(uint64_t id) {
    auto i = st().lookups.find(id);
    if (i == st().lookups.end() || i->second.finished)
      return;
    i->second.finished = true;
    auto lk = std::move(i->second);
    st().lookups.erase(i);
    st().stats.lookup_hops += lk.walk->hops();
    if (lk.on_done)
      lk.on_done(lk);
  }

  // -- get
  // ---------------------------------------------------------------------

  /// The local copy of `key_id`, from storage or cache.
  get_result local_get(const dht_id& key_id, const std::string& key) {
    auto now = dht_time();
    get_result out;
    for (auto* store : {st().storage.get(), st().cache.get()}) {
      auto v = store->get(key_id, now);
      if (!v)
        continue;
      get_result r;
      r.found = true;
      r.expiration = v->expiration;
      if (v->plain) {
        r.value = *v->plain;
      } else {
        r.is_dictionary = true;
        for (auto& [sk, sv] : v->subkeys)
          r.subkeys[sk] = subkey_value{sv.value, sv.expiration};
      }
      if (!out.found || r.expiration > out.expiration)
        out = std::move(r);
    }
    return out;
  }

  get_result strip(const std::string& key, get_result r) {
    if (!r.found)
      return r;
    if (r.is_dictionary) {
      for (auto& [sk, sv] : r.subkeys)
        sv.value = st().validators.strip_value(
            dht_record{key, sk, true, sv.value, sv.expiration});
    } else {
      r.value = st().validators.strip_value(
          dht_record{key, {}, false, r.value, r.expiration});
    }
    return r;
  }

  void get_one(const std::string& key, bool latest,
               std::function<void(get_result)> deliver) {
    auto key_id = dht_id::of_key(key);
    auto local = local_get(key_id, key);
    if (local.found && !latest) {
      if (!st().storage->get(key_id, dht_time()))
        schedule_cache_refresh(key, local.expiration);
      deliver(strip(key, std::move(local)));
      return;
    }
    auto slot = std::make_pair(key_id, latest);
    auto& waiting = st().gets_in_flight[slot];
    waiting.push_back(std::move(deliver));
    if (waiting.size() > 1)
      return; // joins the lookup already under way
    start_lookup(key_id, key, true, latest,
                 [this, key, local, slot](lookup_state& lk) mutable {
                   auto result = lk.best;
                   if (local.found &&
                       (!result.found || local.expiration > result.expiration))
                     result = local;
                   if (result.found && lk.best.found)
                     cache(lk, result);
                   auto callers = std::move(st().gets_in_flight[slot]);
                   st().gets_in_flight.erase(slot);
                   auto stripped = strip(key, std::move(result));
                   for (auto& deliver : callers)
                     deliver(stripped);
                 });
  }

  /// A value read from the cache is fetched again shortly before it
  /// expires, so readers keep finding a fresh copy locally (hivemind's
  /// cache refresh). Each key is queued once.
  void schedule_cache_refresh(const std::string& key, double expiration) {
    if (st().refresh_queue.size() >= max_cache_refreshes ||
        !st().refresh_queue.insert(key).second)
      return;
    auto due = expiration - opts().cache_refresh_before_expiry - dht_time();
    auto delay = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::duration<double>(std::max(0.0, due)));
    self_->delayed_send(self_, delay, cache_refresh_atom::value, key);
  }

  void refresh_cached(const std::string& key) {
    st().refresh_queue.erase(key);
    auto key_id = dht_id::of_key(key);
    if (!st().cache->get(key_id, dht_time()))
      return; // gone already: the next reader looks it up anew
    get_one(key, true, [](get_result) {});
  }

  /// The up to `k` nodes nearest `target` in the swarm (this one included
  /// unless in client mode), found by a lookup.
  void find_nearest(const dht_id& target, size_t k,
                    std::function<void(std::vector<std::string>)> deliver) {
    start_lookup(
        target, {}, false, false, [this, target, k, deliver](lookup_state& lk) {
          auto found = lk.walk->nearest_responded(k);
          if (!opts().client_mode)
            found.push_back(node_ref{st().own_id, st().cfg.me->peer_id(),
                                     st().cfg.address});
          std::sort(found.begin(), found.end(),
                    [&](const node_ref& a, const node_ref& b) {
                      return distance(a.id, target) < distance(b.id, target);
                    });
          if (found.size() > k)
            found.resize(k);
          std::vector<std::string> ids;
          for (auto& n : found)
            ids.push_back(n.peer.to_string());
          deliver(std::move(ids));
        });
  }

  /// Keeps a found value in the local cache and on the nearest node that
  /// lacked it, so the next reader finds it sooner.
  void cache(const lookup_state& lk, const get_result& r) {
    auto key_id = dht_id::of_key(lk.key);
    auto now = dht_time();
    if (opts().cache_locally) {
      if (r.is_dictionary) {
        for (auto& [sk, sv] : r.subkeys)
          st().cache->store_subkey(key_id, sk, sv.value, sv.expiration, now,
                                   lk.key);
      } else {
        st().cache->store(key_id, r.value, r.expiration, now, lk.key);
      }
    }
    if (!opts().cache_nearest || lk.lacked.empty() || r.is_dictionary)
      return;
    auto nearest = lk.lacked.front();
    for (auto& n : lk.lacked)
      if (distance(n.id, key_id) < distance(nearest.id, key_id))
        nearest = n;
    send(
        nearest,
        store_body({store_request{lk.key, {}, false, r.value, r.expiration}},
                   true),
        [](wire::DhtResponse::Reader) {}, [](const caf::error&) {});
  }

  // -- store
  // -------------------------------------------------------------------

  using store_done = std::function<void(store_reply)>;

  void store_one(store_request req, store_done deliver) {
    req.value = st().validators.sign_value(dht_record{
        req.key, req.subkey, req.has_subkey, req.value, req.expiration});
    dht_record rec{req.key, req.subkey, req.has_subkey, req.value,
                   req.expiration};
    // Every node checks these: what it refuses here, replicas refuse too.
    // The writer hears at once, and no request leaves for nothing.
    if (auto why = check_record(rec, st().limits, dht_time())) {
      // The writer hears why; a log line would say it twice.
      log().info("store under key '{}' refused: {}", printable(req.key), *why);
      deliver(store_reply{false, std::move(*why)});
      return;
    }
    if (!st().validators.validate(rec)) {
      log().warn("store under key '{}' refused by this node's validators",
                 printable(req.key));
      deliver(store_reply{false, refusal_invalid});
      return;
    }
    auto key_id = dht_id::of_key(req.key);
    start_lookup(key_id, {}, false, false,
                 [this, req, key_id, deliver](lookup_state& lk) {
                   replicate(req, key_id,
                             lk.walk->nearest_responded(opts().num_replicas),
                             deliver);
                 });
  }

  /// `key` for a log line: at most 64 bytes, control bytes as '?'.
  static std::string printable(std::string_view key) {
    std::string out{key.substr(0, 64)};
    for (auto& c : out)
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
        c = '?';
    return key.size() > 64 ? out + "..." : out;
  }

  /// Writes `req` to the num_replicas nearest of `found` and this node.
  void replicate(const store_request& req, const dht_id& key_id,
                 std::vector<node_ref> found, store_done deliver) {
    bool self_is_replica = !opts().client_mode;
    if (self_is_replica && found.size() >= opts().num_replicas) {
      // Only if this node is nearer than the farthest chosen replica.
      self_is_replica =
          distance(st().own_id, key_id) < distance(found.back().id, key_id);
      if (self_is_replica)
        found.pop_back();
    }
    store_reply mine{false, refusal_no_replica};
    if (self_is_replica) {
      auto why = store_local(req, false, {});
      mine = store_reply{why.empty(), std::move(why)};
    }
    if (found.empty()) {
      deliver(std::move(mine));
      return;
    }
    auto body = store_body({req}, false);
    struct tally {
      size_t pending;
      store_reply reply;
      store_done deliver;
    };
    auto t =
        std::make_shared<tally>(tally{found.size(), std::move(mine), deliver});
    // Stored if any replica took it; else the first reason heard.
    auto refused = [t](std::string why) {
      if (!t->reply.stored && t->reply.refusal == refusal_no_replica)
        t->reply.refusal = std::move(why);
    };
    for (auto& n : found)
      send(
          n, body,
          [t, refused](wire::DhtResponse::Reader resp) {
            if (resp.isStore() && resp.getStore().size() == 1 &&
                resp.getStore()[0]) {
              t->reply = store_reply{true, {}};
            } else if (resp.getStoreRefusals().size() == 1 &&
                       resp.getStoreRefusals()[0].size() > 0) {
              refused(resp.getStoreRefusals()[0].cStr());
            } else {
              refused("refused: a replica refused the store and gave no "
                      "reason");
            }
            if (--t->pending == 0)
              t->deliver(t->reply);
          },
          [t](const caf::error&) {
            if (--t->pending == 0)
              t->deliver(t->reply);
          });
  }

  /// Stores `req` here for `owner` (the peer it came from; empty for this
  /// node); returns why it was refused, or nothing if stored.
  std::string store_local(const store_request& req, bool in_cache,
                          const std::string& owner) {
    auto now = dht_time();
    dht_record rec{req.key, req.subkey, req.has_subkey, req.value,
                   req.expiration};
    if (auto why = check_record(rec, st().limits, now))
      return std::move(*why);
    if (!st().validators.validate(rec))
      return refusal_invalid;
    auto& store = in_cache ? *st().cache : *st().storage;
    auto key_id = dht_id::of_key(req.key);
    auto done = req.has_subkey
                    ? store.store_subkey(key_id, req.subkey, req.value,
                                         req.expiration, now, req.key, owner)
                    : store.store(key_id, req.value, req.expiration, now,
                                  req.key, owner);
    switch (done.outcome) {
    case store_outcome::stored:
      return {};
    case store_outcome::over_share:
      return std::string{to_string(done.outcome)} + ": this peer holds " +
             std::to_string(store.share_limit()) +
             " records here, its whole share of the " +
             (in_cache ? "cache" : "storage");
    case store_outcome::not_newer:
      return std::string{to_string(done.outcome)} +
             ": a record expiring no earlier is held";
    default:
      return to_string(done.outcome);
    }
  }

  /// Counts a store refused to `peer` and logs it, at most one line per
  /// refusal_log_period_s (the node keeps serving).
  void note_refusal(const std::string& peer, const std::string& why) {
    ++st().stats.stores_refused;
    if (why.rfind(refusal_rate_limited, 0) == 0)
      ++st().stats.stores_rate_limited;
    else if (why.rfind(to_string(store_outcome::over_share), 0) == 0)
      ++st().stats.stores_over_share;
    ++st().refusals_unlogged;
    auto now = dht_time();
    if (now - st().refusals_logged_at < refusal_log_period_s)
      return;
    log().warn("refused a store from peer {}: {} ({} stores refused since "
               "the last such line)",
               peer, why, st().refusals_unlogged);
    st().refusals_logged_at = now;
    st().refusals_unlogged = 0;
  }

  // -- serving peers
  // -----------------------------------------------------------

  /// Answers a request of `caller` (the peer id the transport authenticated).
  caf::result<envelope> serve(const std::string& caller, const envelope& body) {
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
      write_self(resp.initResponder());
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
          if (!st().store_rate->allow(caller, dht_time())) {
            why = std::string{refusal_rate_limited} + ": more than " +
                  std::to_string(st().store_rate->per_minute()) +
                  " stores a minute from this peer";
          } else {
            store_request sr{string_of(it.getKey()), string_of(it.getSubkey()),
                             it.getHasSubkey(), string_of(it.getValue()),
                             it.getExpiration()};
            why = store_local(sr, it.getInCache(), caller);
          }
          out.set(i, why.empty());
          if (why.empty())
            continue;
          reasons.set(i, why);
          // An older copy of a held record is ordinary traffic (replicas
          // and caches offer what we have), not a peer to report.
          if (why.rfind(to_string(store_outcome::not_newer), 0) != 0)
            note_refusal(caller, why);
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
        return make_error(errc::malformed, "unknown DHT request");
      }
      return to_envelope(msg);
    } catch (const kj::Exception& ex) {
      return make_error(errc::malformed, std::string("DHT request: ") +
                                             ex.getDescription().cStr());
    }
  }

  void answer_find(capnp::Data::Reader raw_id,
                   const std::optional<dht_id>& requester,
                   wire::FindResult::Builder out) {
    auto key_id = dht_id::from_bytes(raw_id.begin(), raw_id.size());
    if (!key_id) {
      out.setNotFound();
      return;
    }
    auto now = dht_time();
    std::optional<dht_value> found;
    for (auto* store : {st().storage.get(), st().cache.get()}) {
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
    auto nearest = st().table->get_nearest_neighbors(
        *key_id, opts().bucket_size, requester);
    auto list = out.initNearest(static_cast<unsigned>(nearest.size()));
    for (unsigned j = 0; j < nearest.size(); ++j)
      write_peer(list[j], nearest[j]);
  }

  // -- bootstrap and refresh
  // ---------------------------------------------------

  void bootstrap(caf::response_promise rp) {
    auto& peers = st().cfg.initial_peers;
    if (peers.empty()) {
      rp.deliver(st().table->size());
      return;
    }
    struct tally {
      size_t pending;
      size_t answered = 0;
      caf::response_promise rp;
    };
    auto t = std::make_shared<tally>(tally{peers.size(), 0, rp});
    for (auto& addr : peers) {
      capnp::MallocMessageBuilder msg{64};
      auto req = msg.initRoot<wire::DhtRequest>();
      write_self(req.initSender());
      req.setPing();
      ++st().stats.requests_sent;
      self_
          ->request(st().cfg.transport, opts().wait_timeout * 2,
                    call_atom::value, addr, std::string{dht_service},
                    to_envelope(msg), caf::timespan{opts().wait_timeout})
          .then(
              [this, t](envelope& reply) {
                try {
                  capnp::FlatArrayMessageReader reader(
                      reply.words(),
                      reader_limits::for_message(reply.words().size())
                          .options());
                  auto resp = reader.getRoot<wire::DhtResponse>();
                  if (auto peer = read_peer(resp.getResponder())) {
                    on_peer_alive(*peer);
                    t->answered++;
                  }
                } catch (const kj::Exception&) {
                  // counted as not answered
                }
                bootstrap_step(t->pending, t->answered, t->rp);
              },
              [this, t, addr](caf::error& err) {
                log().warn("initial peer {} did not answer: {}", addr,
                           describe(err));
                bootstrap_step(t->pending, t->answered, t->rp);
              });
    }
  }

  void bootstrap_step(size_t& pending, size_t answered,
                      caf::response_promise& rp) {
    if (--pending > 0)
      return;
    if (answered == 0 && opts().ensure_bootstrap_success) {
      rp.deliver(make_error(errc::unreachable,
                            "none of the " +
                                std::to_string(st().cfg.initial_peers.size()) +
                                " initial peers answered"));
      return;
    }
    // Fill the table with our neighbourhood: a lookup of our own id.
    start_lookup(st().own_id, {}, false, false,
                 [this, rp](lookup_state&) mutable {
                   log().info("joined the DHT: {} peers in the routing table",
                              st().table->size());
                   rp.deliver(st().table->size());
                 });
  }

  void refresh() {
    auto now = dht_time();
    auto period = std::chrono::duration<double>(opts().refresh_period).count();
    for (auto& target : st().table->stale_bucket_ids(now - period, now))
      start_lookup(target, {}, false, false, nullptr);
    st().storage->remove_expired(now);
    st().cache->remove_expired(now);
  }

  /// Stores each of `reqs`; `done` gets one reply per request, in order.
  void store_all(std::vector<store_request> reqs,
                 std::function<void(std::vector<store_reply>)> done) {
    auto results = std::make_shared<std::vector<store_reply>>(reqs.size());
    auto pending = std::make_shared<size_t>(reqs.size());
    if (reqs.empty())
      done({});
    for (size_t i = 0; i < reqs.size(); ++i)
      store_one(std::move(reqs[i]),
                [this, done, results, pending, i](store_reply r) {
                  ++st().stats.stores;
                  st().stats.stores_accepted += r.stored ? 1 : 0;
                  (*results)[i] = std::move(r);
                  if (--*pending == 0)
                    done(std::move(*results));
                });
  }

  caf::behavior make_behavior() {
    if (opts().refresh_period.count() > 0)
      self_->delayed_send(self_, opts().refresh_period, refresh_atom::value);
    return {
        [this](serve_atom, const std::string&, const std::string& caller,
               const envelope& body) { return serve(caller, body); },
        [this](store_atom, std::vector<store_request>& reqs) {
          auto rp = self_->make_response_promise();
          store_all(std::move(reqs),
                    [rp](std::vector<store_reply> replies) mutable {
                      std::vector<bool> ok;
                      for (auto& r : replies)
                        ok.push_back(r.stored);
                      rp.deliver(std::move(ok));
                    });
          return rp;
        },
        [this](store_checked_atom, std::vector<store_request>& reqs) {
          auto rp = self_->make_response_promise();
          store_all(std::move(reqs),
                    [rp](std::vector<store_reply> replies) mutable {
                      rp.deliver(std::move(replies));
                    });
          return rp;
        },
        [this](get_atom, const std::vector<std::string>& keys, bool latest) {
          auto rp = self_->make_response_promise();
          auto results = std::make_shared<std::vector<get_result>>(keys.size());
          auto pending = std::make_shared<size_t>(keys.size());
          if (keys.empty())
            rp.deliver(std::vector<get_result>{});
          for (size_t i = 0; i < keys.size(); ++i)
            get_one(keys[i], latest,
                    [this, rp, results, pending, i](get_result r) mutable {
                      ++st().stats.gets;
                      st().stats.gets_found += r.found ? 1 : 0;
                      (*results)[i] = std::move(r);
                      if (--*pending == 0)
                        rp.deliver(*results);
                    });
          return rp;
        },
        [this](bootstrap_atom) {
          auto rp = self_->make_response_promise();
          bootstrap(rp);
          return rp;
        },
        [this](nearest_atom, const std::string& id_hex, size_t k) {
          auto rp = self_->make_response_promise();
          auto target = dht_id::from_hex(id_hex);
          if (!target) {
            rp.deliver(target.error());
            return rp;
          }
          find_nearest(*target, k, [rp](std::vector<std::string> ids) mutable {
            rp.deliver(std::move(ids));
          });
          return rp;
        },
        [this](add_validator_atom, validator_ptr& v) -> caf::result<void> {
          if (!v)
            return make_error(errc::invalid_argument, "no validator to add");
          st().validators.add(std::move(v));
          return caf::unit;
        },
        [this](stats_atom) {
          auto s = st().stats;
          auto now = dht_time();
          s.routing_table_size = st().table->size();
          s.storage_size = st().storage->size(now);
          s.storage_records = st().storage->record_count(now);
          s.cache_size = st().cache->size(now);
          return s;
        },
        [this](cache_refresh_atom, const std::string& key) {
          refresh_cached(key);
        },
        [this](refresh_atom) {
          refresh();
          self_->delayed_send(self_, opts().refresh_period,
                              refresh_atom::value);
        },
    };
  }

 private:
  dht_actor* self_;
};

caf::behavior dht_node_main(dht_actor* self, dht_node_config cfg) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.own_id = dht_id::of_peer(st.cfg.me->peer_id());
  st.table = std::make_unique<routing_table>(
      st.own_id, st.cfg.options.bucket_size, st.cfg.options.depth_modulo);
  auto& o = st.cfg.options;
  st.storage =
      std::make_unique<dht_storage>(o.storage_maxsize, o.max_storage_share);
  st.cache =
      std::make_unique<dht_storage>(o.cache_maxsize, o.max_storage_share);
  st.limits.max_expiration_horizon =
      std::chrono::duration<double>(o.max_expiration_horizon).count();
  st.limits.max_value_bytes = o.max_value_bytes;
  st.store_rate =
      std::make_unique<store_rate_limiter>(o.stores_per_peer_per_minute);
  st.validators.add(std::make_shared<signed_record_validator>(st.cfg.me));
  st.impl = std::make_shared<dht_impl>(self);
  return st.impl->make_behavior();
}

} // namespace

caf::actor spawn_dht_node(caf::actor_system& system, dht_node_config config) {
  auto transport = config.transport;
  auto client = config.options.client_mode;
  auto node = system.spawn(dht_node_main, std::move(config));
  if (!client)
    caf::anon_send(transport, register_service_atom::value,
                   std::string{dht_service}, node);
  return node;
}

} // namespace colony::dht
