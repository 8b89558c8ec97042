#include "runtime/transport/transport.hpp"

#include "messages/buffer_pool.hpp"
#include "messages/error.hpp"
#include "messages/wire.capnp.h"
#include "runtime/access_token.hpp"
#include "runtime/log_throttle.hpp"
#include "runtime/peer_address.hpp"
#include "runtime/ping_service.hpp"
#include "runtime/transport/detail/connector.hpp"
#include "runtime/transport/detail/outbound_queue.hpp"
#include "runtime/transport/fault_layer.hpp"
#include "runtime/transport/frame_reader.hpp"
#include "runtime/transport/frame_writer.hpp"
#include "runtime/transport/handshake.hpp"
#include "runtime/transport/peer_quota.hpp"
#include "runtime/transport/sealed_stream.hpp"
#include "runtime/transport/transport_atoms.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/io/network/default_multiplexer.hpp>

#include <capnp/orphan.h>
#include <kj/exception.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <map>
#include <set>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

namespace colony {

namespace {

using clock_type = std::chrono::steady_clock;
using caf::io::connection_handle;

/// Back-off after failed connects: base doubles per failure up to the cap.
constexpr std::chrono::milliseconds connect_backoff_base{250};
constexpr std::chrono::milliseconds connect_backoff_cap{30000};
/// First segment of a frame being built (words): frames carry bodies by
/// reference, so their own part is small; Cap'n Proto's default of 1024
/// words would zero 8 KiB per frame.
constexpr capnp::uint frame_first_segment_words = 64;
/// Goodbye reason of a connection closed for idleness. Calls in flight on
/// it were never served (a node closes only with nothing in flight), so
/// the caller's side sends them again on a new connection.
constexpr std::string_view idle_reason = "idle";
/// Heartbeat/timeout checks run this often at most.
constexpr std::chrono::milliseconds min_tick{20};
/// Calls refused by the per-peer quota are logged at most this often per
/// peer, each line with how many it stands for.
constexpr std::chrono::seconds refusal_log_interval{5};
/// A connection whose peer was refused by the quota is not read until one
/// of the peer's calls is answered, or this long at most (so that a service
/// awaiting a reply on that connection is never stuck behind the pause).
constexpr std::chrono::milliseconds max_read_pause{200};
/// Whether calls of `service` count against the per-peer quota. Not
/// `ping` (answered at once here) nor `dht` (answered at once from memory;
/// a server declaring many experts sends hundreds of stores to one DHT
/// peer at once, which a quota of 64 would refuse).
bool counted_by_quota(const std::string& service) {
  return service != "ping" && service != "dht";
}

/// Delay of the second resume of a paused connection (see resume_reads).
constexpr std::chrono::milliseconds resume_again_after{2};

wire::ErrorCode to_wire(const caf::error& err) {
  if (err.category() == colony_error_category) {
    auto code = err.code();
    if (code >= 1 && code <= static_cast<uint8_t>(errc::overloaded))
      return static_cast<wire::ErrorCode>(code);
  }
  if (err == caf::sec::request_timeout)
    return wire::ErrorCode::TIMEOUT;
  return wire::ErrorCode::REMOTE_ERROR;
}

errc from_wire(wire::ErrorCode code) {
  auto x = static_cast<uint16_t>(code);
  if (x >= 1 && x <= static_cast<uint8_t>(errc::overloaded))
    return static_cast<errc>(x);
  return errc::remote_error;
}

/// A body being assembled from parts.
struct assembly {
  std::vector<char> bytes;
  size_t total = 0;
  std::string service;     // requests only
  uint32_t timeout_ms = 0; // requests only
  bool counted = false;    // requests only: admitted by the peer quota
};

struct connection {
  connection_handle hdl;
  bool outbound = false;
  std::string address_key; ///< "HOST:PORT" known to reach this peer
  std::string remote_host;
  std::unique_ptr<handshake> hs;
  bool established = false;
  /// The peer's id as text once established: its key in the peer quota.
  std::string peer_key;
  /// Since when reads are paused because the peer is over its quota.
  std::optional<clock_type::time_point> reads_paused;
  /// CAF stopped reading the socket (the pause took effect) and no data
  /// arrived since: a resume must reach CAF.
  bool caf_passive = false;
  frame_reader reader;
  /// Set once the stream is sealed: ours after our Proof is written,
  /// theirs after their Proof is read.
  std::optional<frame_cipher> sealer;
  std::optional<sealed_reader> opener;
  outbound_queue out;
  size_t inflight = 0; ///< bytes handed to CAF, not yet written
  clock_type::time_point opened;
  clock_type::time_point last_received;
  clock_type::time_point last_sent;
  clock_type::time_point last_call; ///< last request/response/part frame
  std::unordered_map<uint64_t, assembly> requests_in;
  std::unordered_map<uint64_t, assembly> responses_in;
  size_t assembling_bytes = 0;
  std::vector<uint64_t> waiting_calls;   ///< ours, until established
  std::unordered_set<uint64_t> my_calls; ///< ours, sent on this connection
  /// Theirs, being served here, with the caller's deadline.
  std::unordered_map<uint64_t, clock_type::time_point> serving;

  connection(const transport_options& opts)
      : reader(std::min(opts.max_frame_bytes, handshake_max_frame_bytes)),
        out(opts.part_bytes) {
    // nop
  }

  std::string who() const {
    auto id = hs && hs->hello_received() ? hs->remote().short_id() : "?";
    return id + "@" + (address_key.empty() ? remote_host : address_key);
  }
};

struct pending_call {
  std::string address;
  std::string service;
  envelope body; ///< released once queued on a connection
  std::chrono::milliseconds timeout;
  caf::response_promise promise; ///< call_atom
  caf::actor notify;             ///< start_call_atom
  std::optional<connection_handle> hdl;
  bool sent = false;
  clock_type::time_point deadline;
};

struct backoff_entry {
  int failures = 0;
  clock_type::time_point until;
};

class transport_impl;

struct transport_state {
  std::shared_ptr<transport_impl> impl; ///< logic; the handlers call into it
  transport_config cfg;
  std::string address;
  caf::actor echo;
  uint64_t next_call_id = 1;
  std::unordered_map<connection_handle, std::unique_ptr<connection>> conns;
  std::unordered_map<peer_id, connection_handle> by_peer;
  std::unordered_map<std::string, connection_handle> by_address;
  std::unordered_map<std::string, std::vector<uint64_t>> connecting;
  std::unordered_map<std::string, std::optional<peer_id>> dial_expect;
  std::unordered_map<std::string, backoff_entry> backoff;
  std::unordered_map<uint64_t, pending_call> calls;
  std::unordered_map<std::string, caf::actor> services;
  /// Deadlines of pending calls, earliest first. One timer message is
  /// scheduled for the earliest only: a timer per call would wake CAF's
  /// clock thread on every call.
  std::set<std::pair<clock_type::time_point, uint64_t>> deadlines;
  /// Deadlines of calls being served: (deadline, connection id, call id).
  std::set<std::tuple<clock_type::time_point, int64_t, uint64_t>>
      serve_deadlines;
  std::optional<clock_type::time_point> timer_due;
  /// This node's access token, re-read when its file changes.
  std::optional<access_token_file> token_file;
  /// Incoming connections closed by the per-IP bounds since the last log
  /// line about them, and when that line was written.
  size_t refused_connections = 0;
  std::optional<clock_type::time_point> refusals_logged;
  /// Calls and request bytes each peer has this node work on.
  peer_quota quota{0, 0};
  /// Calls refused by the quota: counted, logged at most once per
  /// interval per peer.
  log_throttle refusal_log{refusal_log_interval};
  /// Connections not read while their peer is over its quota, by peer.
  std::unordered_map<std::string, std::vector<connection_handle>> paused;
  /// Connections resumed, to be resumed once more when the resume_reads
  /// timer fires (see resume_reads); whether that timer is pending.
  std::vector<connection_handle> resumed;
  bool resume_timer = false;
  /// Fault injection (fault_settings.hpp), off unless switched on.
  fault_layer faults;
  /// Messages the fault layer delays, by the time they may be written
  /// (equal times keep their order).
  std::multimap<clock_type::time_point,
                std::pair<connection_handle, outbound_message>>
      held;

  static inline const char* name = "colony.transport";
};

using transport_actor_type =
    caf::stateful_actor<transport_state, caf::io::broker>;

class transport_impl {
 public:
  explicit transport_impl(transport_actor_type* self) : self_(self) {}

  transport_state& st() { return self_->state; }
  spdlog::logger& log() { return *st().cfg.log; }
  const transport_options& opts() { return st().cfg.options; }

  connection* find(connection_handle hdl) {
    auto i = st().conns.find(hdl);
    return i == st().conns.end() ? nullptr : i->second.get();
  }

  // -- writing ---------------------------------------------------------------

  void send_frame(connection& c, capnp::MessageBuilder& msg) {
    if (faulty(c) && partitioned(c)) {
      st().faults.count_partitioned();
      return;
    }
    c.inflight += write_out(c, msg);
    c.last_sent = clock_type::now();
    self_->flush(c.hdl);
  }

  /// Writes `msg` to `c`'s socket buffer, sealed once `c` is encrypted.
  /// Returns the bytes written.
  size_t write_out(connection& c, capnp::MessageBuilder& msg) {
    if (!c.sealer)
      return write_frame(
          msg, [&](const void* p, size_t len) { self_->write(c.hdl, len, p); });
    // Sealed in place in CAF's write buffer: the frame is copied there
    // once, as in plain text, then encrypted where it lies.
    auto& buf = self_->wr_buf(c.hdl);
    auto start = buf.size();
    auto need = start + sealed_stream::header_bytes + frame_size(msg) +
                frame_cipher::tag_bytes;
    if (buf.capacity() < need)
      buf.reserve(std::max(need, 2 * buf.capacity()));
    buf.resize(start + sealed_stream::header_bytes);
    write_frame(msg, [&](const void* p, size_t len) {
      auto* bytes = static_cast<const char*>(p);
      buf.insert(buf.end(), bytes, bytes + len);
    });
    auto n = sealed_stream::seal(*c.sealer, buf, start);
    if (!n) {
      // Cannot happen with colony's frame sizes; never send plain text.
      buf.resize(start);
      log().error("cannot seal a frame to {}: {}", c.who(),
                  describe(n.error()));
      return 0;
    }
    return *n;
  }

  void send_error(connection& c, std::optional<uint64_t> call_id,
                  const caf::error& err) {
    capnp::MallocMessageBuilder msg{frame_first_segment_words};
    auto e = msg.initRoot<wire::Frame>().initError();
    if (call_id) {
      e.setCallId(*call_id);
      e.setHasCallId(true);
    }
    e.setCode(to_wire(err));
    e.setMessage(error_reason(err));
    send_frame(c, msg);
  }

  /// Whether fault injection applies to `c`'s traffic: faults are on and
  /// the peer is not exempt (after the handshake: before it, the peer's id
  /// is unknown and nothing is exempt).
  bool faulty(const connection& c) {
    if (!st().faults.active())
      return false;
    return !(c.established &&
             st().faults.is_exempt(c.hs->remote().to_string()));
  }

  /// Whether fault injection cut `c`'s peer off (after the handshake:
  /// before it, the peer's id and listen address are unknown).
  bool partitioned(const connection& c) {
    return c.established && st().faults.is_partitioned(
                                c.address_key, c.hs->remote().to_string());
  }

  /// Queues a request or response on `c` and writes what the window allows;
  /// with faults on, the message may be lost, held back, or (partition)
  /// never sent.
  void enqueue(connection& c, outbound_message m) {
    if (faulty(c)) {
      if (partitioned(c)) {
        st().faults.count_partitioned();
        return;
      }
      auto now = clock_type::now();
      auto release = st().faults.schedule(c.hdl.id(), now);
      if (!release)
        return; // lost
      if (*release > now) {
        // Later messages to the same peer get later times, so none
        // overtakes a held one.
        st().held.emplace(*release, std::make_pair(c.hdl, std::move(m)));
        arm_timer();
        return;
      }
    }
    c.out.push(std::move(m));
    pump(c);
  }

  /// Writes the held messages whose time has come.
  void release_held() {
    auto now = clock_type::now();
    std::unordered_set<connection*> touched;
    while (!st().held.empty() && st().held.begin()->first <= now) {
      auto node = st().held.extract(st().held.begin());
      auto& [hdl, m] = node.mapped();
      if (auto* c = find(hdl)) { // gone: the message goes with it
        c->out.push(std::move(m));
        touched.insert(c);
      }
    }
    for (auto* c : touched)
      pump(*c);
  }

  /// Writes queued parts while the peer's window has room.
  void pump(connection& c) {
    if (!c.established)
      return;
    bool wrote = false;
    // A sealed stream encrypts at most two parts ahead of the socket: the
    // peer opens one part while the next is sealed, instead of waiting for
    // a whole window to be encrypted before the first byte leaves.
    auto window = opts().max_inflight_bytes;
    if (c.sealer)
      window = std::min(window, 2 * opts().part_bytes);
    while (c.inflight < window && !c.out.empty()) {
      c.out.write_next([&](const outbound_message& m, size_t offset,
                           size_t length) {
        capnp::MallocMessageBuilder msg{frame_first_segment_words};
        auto frame = msg.initRoot<wire::Frame>();
        auto orphanage = msg.getOrphanage();
        auto* src = reinterpret_cast<const kj::byte*>(m.body.data()) + offset;
        // Whole words can be referenced in place (one copy, into the socket
        // buffer); an odd tail is copied into the frame instead.
        auto make_data = [&] {
          kj::ArrayPtr<const kj::byte> bytes(src, length);
          // An empty external segment would break the stream framing.
          if (length > 0 && length % 8 == 0 &&
              reinterpret_cast<uintptr_t>(src) % alignof(capnp::word) == 0)
            return orphanage.referenceExternalData(bytes);
          return orphanage.newOrphanCopy(capnp::Data::Reader(bytes));
        };
        if (offset == 0 && !m.is_response) {
          auto req = frame.initRequest();
          req.setCallId(m.call_id);
          req.setService(m.service);
          req.setTimeoutMs(m.timeout_ms);
          req.setTotalBytes(m.body.size());
          req.adoptBody(make_data());
        } else if (offset == 0) {
          auto resp = frame.initResponse();
          resp.setCallId(m.call_id);
          resp.setTotalBytes(m.body.size());
          resp.adoptBody(make_data());
        } else {
          auto part = frame.initPart();
          part.setCallId(m.call_id);
          part.setIsResponse(m.is_response);
          part.adoptData(make_data());
        }
        c.inflight += write_out(c, msg);
      });
      wrote = true;
    }
    if (wrote) {
      c.last_sent = c.last_call = clock_type::now();
      self_->flush(c.hdl);
    }
  }

  // -- connection lifecycle
  // ----------------------------------------------------

  connection& open(connection_handle hdl, bool outbound, std::string key) {
    auto ptr = std::make_unique<connection>(opts());
    auto& c = *ptr;
    c.hdl = hdl;
    c.outbound = outbound;
    c.address_key = std::move(key);
    c.remote_host = self_->remote_addr(hdl);
    c.opened = c.last_received = c.last_sent = c.last_call = clock_type::now();
    std::optional<peer_id> expected;
    if (outbound) {
      auto i = st().dial_expect.find(c.address_key);
      if (i != st().dial_expect.end())
        expected = i->second;
    }
    c.hs = std::make_unique<handshake>(*st().cfg.me, handshake_settings_now(),
                                       listen_port(), std::move(expected));
    st().conns.emplace(hdl, std::move(ptr));
    self_->ack_writes(hdl, true);
    self_->configure_read(
        hdl, caf::io::receive_policy::exactly(c.reader.next_read_size()));
    capnp::MallocMessageBuilder msg{frame_first_segment_words};
    c.hs->write_hello(msg.initRoot<wire::Frame>().initHello());
    send_frame(c, msg);
    return c;
  }

  /// What every new handshake asks and presents; the token is read again
  /// if its file changed since the last connection.
  handshake_settings handshake_settings_now() {
    handshake_settings hs;
    hs.swarm_id = st().cfg.swarm_id;
    hs.encrypt = opts().encryption;
    hs.authority = st().cfg.authority;
    if (st().token_file) {
      auto token = st().token_file->current();
      if (token)
        hs.token = *token;
      else
        log().warn("presenting no access token: {}", describe(token.error()));
    }
    return hs;
  }

  /// Whether an incoming connection from `host` stays within the per-IP
  /// bounds; logs refusals at most every few seconds.
  bool admit_incoming(const std::string& host) {
    size_t pending = 0;
    size_t all = 0;
    for (auto& [hdl, other] : st().conns)
      if (!other->outbound && other->remote_host == host) {
        ++all;
        if (!other->established)
          ++pending;
      }
    auto max_pending = opts().max_pending_handshakes_per_ip;
    auto max_all = opts().max_connections_per_ip;
    bool ok = (max_pending == 0 || pending < max_pending) &&
              (max_all == 0 || all < max_all);
    if (!ok) {
      ++st().refused_connections;
      auto now = clock_type::now();
      if (!st().refusals_logged ||
          now - *st().refusals_logged > std::chrono::seconds(5)) {
        log().warn("refused {} incoming connection(s); latest from {} with {} "
                   "connections, {} in their handshake (bounds {} and {})",
                   st().refused_connections, host, all, pending, max_all,
                   max_pending);
        st().refused_connections = 0;
        st().refusals_logged = now;
      }
    }
    return ok;
  }

  uint16_t listen_port() const {
    auto& a = self_->state.address;
    auto pos = a.rfind(':');
    return pos == std::string::npos
               ? 0
               : static_cast<uint16_t>(std::stoi(a.substr(pos + 1)));
  }

  void on_established(connection& c) {
    c.established = true;
    c.reader.set_max_frame_bytes(opts().max_frame_bytes);
    auto& id = c.hs->remote();
    c.peer_key = id.to_string();
    if (st().by_peer.count(id) == 0)
      st().by_peer.emplace(id, c.hdl);
    if (!c.outbound && c.hs->remote_listen_port() != 0) {
      c.address_key = peer_address{
          c.remote_host,
          c.hs->remote_listen_port(),
          {}}.to_string();
      st().by_address.emplace(c.address_key, c.hdl);
    }
    st().backoff.erase(c.address_key);
    log().debug("connected to {} ({})", id.to_string(), c.who());
    auto waiting = std::move(c.waiting_calls);
    for (auto id : waiting)
      send_request(c, id);
  }

  /// Closes `hdl` (if `close_socket`) and fails everything pending on it.
  void drop(connection_handle hdl, const std::string& reason,
            bool close_socket) {
    auto i = st().conns.find(hdl);
    if (i == st().conns.end())
      return;
    auto ptr = std::move(i->second);
    st().conns.erase(i);
    st().faults.forget(hdl.id());
    auto& c = *ptr;
    if (close_socket)
      self_->close(hdl);
    if (c.established)
      log().debug("connection {} closed: {}", c.who(), reason);
    for (auto it = st().by_address.begin(); it != st().by_address.end();)
      it = it->second == hdl ? st().by_address.erase(it) : std::next(it);
    if (c.hs->hello_received()) {
      auto j = st().by_peer.find(c.hs->remote());
      if (j != st().by_peer.end() && j->second == hdl) {
        st().by_peer.erase(j);
        // Another connection to the same peer takes over, if there is one.
        for (auto& [h, other] : st().conns)
          if (other->established && other->hs->remote() == c.hs->remote()) {
            st().by_peer.emplace(other->hs->remote(), h);
            break;
          }
      }
    }
    for (auto& [id, a] : c.requests_in)
      if (a.counted)
        st().quota.release(c.peer_key, a.total);
    auto err = make_error(errc::disconnected,
                          "connection to " + c.who() + " lost: " + reason);
    for (auto id : c.waiting_calls)
      finish(id, err);
    for (auto id : std::vector<uint64_t>(c.my_calls.begin(), c.my_calls.end()))
      finish(id, err);
  }

  /// Sends a goodbye with the reason, then closes.
  void reject(connection& c, const std::string& reason) {
    log().warn("closing connection {}: {}", c.who(), reason);
    capnp::MallocMessageBuilder msg{frame_first_segment_words};
    msg.initRoot<wire::Frame>().initGoodbye().setReason(reason);
    send_frame(c, msg);
    drop(c.hdl, reason, true);
  }

  // -- reading ---------------------------------------------------------------

  void on_data(caf::io::new_data_msg& msg) {
    auto* c = find(msg.handle);
    if (!c)
      return;
    c->last_received = clock_type::now();
    c->caf_passive = false;
    // Reads are exact: a frame's header, then its segments straight into
    // the buffer the frame keeps (no copy out of CAF's read buffer).
    if (c->opener) {
      auto res = c->opener->consume(msg.buf);
      if (!res) {
        // The stream is no longer trustworthy: nothing more is read or
        // answered on it.
        log().warn("closing connection {}: {}", c->who(),
                   describe(res.error()));
        drop(c->hdl, describe(res.error()), true);
        return;
      }
      if (*res)
        on_frame(*c, std::move(**res));
    } else {
      auto res = c->reader.consume(msg.buf);
      if (!res) {
        send_error(*c, std::nullopt, res.error());
        reject(*c, "broken framing: " + describe(res.error()));
        return;
      }
      // Their Proof may switch the stream to sealed records.
      if (*res)
        on_frame(*c, std::move(**res));
    }
    if (auto* still = find(msg.handle))
      configure_next_read(*still, msg.buf);
  }

  /// Asks CAF for exactly the bytes the reader wants next. `buf` becomes
  /// CAF's read buffer once the handler returns: for a large read, a
  /// pooled buffer of that size, so CAF neither allocates nor zero-fills.
  void configure_next_read(connection& c, std::vector<char>& buf) {
    auto want =
        c.opener ? c.opener->next_read_size() : c.reader.next_read_size();
    if (want >= buffer_pool::min_pooled_bytes) {
      auto fresh = buffer_pool::instance().take(want);
      buf.swap(fresh);
      buffer_pool::instance().give(std::move(fresh));
    }
    self_->configure_read(c.hdl, caf::io::receive_policy::exactly(want));
  }

  void on_frame(connection& c, received_frame frame) {
    try {
      capnp::SegmentArrayMessageReader reader(
          kj::arrayPtr(frame.segments.data(), frame.segments.size()),
          reader_limits{}.options());
      auto root = reader.getRoot<wire::Frame>();
      if (!c.established) {
        on_handshake_frame(c, root);
      } else if (faulty(c) && partitioned(c)) {
        st().faults.count_partitioned(); // as if it never arrived
      } else {
        on_call_frame(c, root, frame);
      }
    } catch (const kj::Exception& ex) {
      auto err =
          make_error(errc::malformed, std::string("undecodable frame: ") +
                                          ex.getDescription().cStr());
      send_error(c, std::nullopt, err);
      reject(c, describe(err));
    }
  }

  void on_handshake_frame(connection& c, wire::Frame::Reader root) {
    switch (root.which()) {
    case wire::Frame::HELLO: {
      if (auto err = c.hs->read_hello(root.getHello())) {
        send_error(c, std::nullopt, err);
        reject(c, "handshake: " + describe(err));
        return;
      }
      capnp::MallocMessageBuilder msg{frame_first_segment_words};
      c.hs->write_proof(msg.initRoot<wire::Frame>().initProof());
      send_frame(c, msg);
      // Everything we send after our Proof is sealed.
      if (auto& keys = c.hs->session()) {
        auto sealer = frame_cipher::make(keys->suite, keys->seal,
                                         frame_cipher::direction::seal);
        if (!sealer) {
          reject(c, "cannot seal the stream: " + describe(sealer.error()));
          return;
        }
        c.sealer.emplace(std::move(*sealer));
      }
      return;
    }
    case wire::Frame::PROOF:
      if (auto err = c.hs->read_proof(root.getProof())) {
        send_error(c, std::nullopt, err);
        reject(c, "handshake: " + describe(err));
        return;
      }
      // Everything they send after their Proof is sealed.
      if (auto& keys = c.hs->session()) {
        auto opener = frame_cipher::make(keys->suite, keys->open,
                                         frame_cipher::direction::open);
        if (!opener) {
          reject(c, "cannot open the stream: " + describe(opener.error()));
          return;
        }
        c.opener.emplace(std::move(*opener), opts().max_frame_bytes);
        log().debug("stream with {} sealed with {}", c.who(),
                    to_string(keys->suite));
      }
      on_established(c);
      return;
    case wire::Frame::GOODBYE:
      log().warn("peer {} refused the connection: {}", c.who(),
                 root.getGoodbye().getReason().cStr());
      drop(c.hdl,
           std::string("refused by peer: ") +
               root.getGoodbye().getReason().cStr(),
           true);
      return;
    case wire::Frame::ERROR:
      // The reason follows in a goodbye; nothing to do yet.
      return;
    default:
      reject(c, "frame before the handshake completed");
    }
  }

  envelope slice(const received_frame& frame, capnp::Data::Reader data) {
    return envelope::view(frame.buffer, data.begin(), data.size());
  }

  /// Starts or finishes an assembly. Returns the complete body, if any.
  std::optional<envelope>
  begin_body(connection& c, std::unordered_map<uint64_t, assembly>& in,
             uint64_t id, uint64_t total, const received_frame& frame,
             capnp::Data::Reader first, assembly meta, caf::error& err) {
    if (total > opts().max_message_bytes) {
      err = make_error(errc::too_large,
                       "body of " + std::to_string(total) +
                           " bytes exceeds max_message_bytes " +
                           std::to_string(opts().max_message_bytes));
      return std::nullopt;
    }
    if (first.size() > total) {
      err = make_error(errc::malformed, "first part larger than total");
      return std::nullopt;
    }
    if (first.size() == total)
      return slice(frame, first);
    // Bounds what peers may make us hold while bodies are incomplete.
    if (c.assembling_bytes + total > 2 * opts().max_message_bytes) {
      err = make_error(errc::overloaded, "too many incomplete bodies");
      return std::nullopt;
    }
    if (in.count(id) > 0) {
      err = make_error(errc::malformed, "duplicate call id");
      return std::nullopt;
    }
    meta.total = total;
    // Address space only: pages are touched as parts arrive, so a peer that
    // lies about the total costs no memory (total <= max_message_bytes).
    meta.bytes.reserve(total);
    meta.bytes.insert(meta.bytes.end(), first.begin(), first.end());
    c.assembling_bytes += total;
    in.emplace(id, std::move(meta));
    return std::nullopt;
  }

  void on_call_frame(connection& c, wire::Frame::Reader root,
                     const received_frame& frame) {
    auto kind = root.which();
    if (kind == wire::Frame::REQUEST || kind == wire::Frame::RESPONSE ||
        kind == wire::Frame::PART)
      c.last_call = c.last_received;
    switch (kind) {
    case wire::Frame::REQUEST: {
      auto req = root.getRequest();
      auto id = req.getCallId();
      auto total = req.getTotalBytes();
      caf::error err;
      assembly meta;
      meta.service = req.getService();
      meta.timeout_ms = req.getTimeoutMs();
      // The quota comes first: a peer over its share costs no assembly,
      // no decoding and no service's time, only this answer.
      meta.counted = counted_by_quota(meta.service);
      if (meta.counted && !admit_call(c, id, total))
        return;
      auto body = begin_body(c, c.requests_in, id, total, frame, req.getBody(),
                             meta, err);
      if (err) {
        if (meta.counted)
          st().quota.release(c.peer_key, total);
        log().warn("refused call {} from {}: {}", id, c.who(), describe(err));
        send_error(c, id, err);
      } else if (body) {
        serve(c, id, meta.service, meta.timeout_ms, std::move(*body),
              meta.counted ? std::optional<size_t>{total} : std::nullopt);
      }
      return;
    }
    case wire::Frame::RESPONSE: {
      auto resp = root.getResponse();
      auto id = resp.getCallId();
      if (c.my_calls.count(id) == 0)
        return; // answer to a call that timed out or was cancelled
      caf::error err;
      auto body = begin_body(c, c.responses_in, id, resp.getTotalBytes(), frame,
                             resp.getBody(), {}, err);
      if (err)
        finish(id, err);
      else if (body)
        finish(id, std::move(*body));
      return;
    }
    case wire::Frame::PART: {
      auto part = root.getPart();
      auto id = part.getCallId();
      auto& in = part.getIsResponse() ? c.responses_in : c.requests_in;
      auto i = in.find(id);
      if (i == in.end())
        return; // body of a refused or cancelled call
      auto& a = i->second;
      auto data = part.getData();
      if (a.bytes.size() + data.size() > a.total) {
        c.assembling_bytes -= a.total;
        if (a.counted)
          st().quota.release(c.peer_key, a.total);
        in.erase(i);
        auto err = make_error(errc::malformed, "parts exceed the total size");
        if (part.getIsResponse())
          finish(id, err);
        else
          send_error(c, id, err);
        return;
      }
      a.bytes.insert(a.bytes.end(), data.begin(), data.end());
      if (a.bytes.size() < a.total)
        return;
      auto done = std::move(a);
      c.assembling_bytes -= done.total;
      in.erase(i);
      envelope body{std::move(done.bytes)};
      if (part.getIsResponse())
        finish(id, std::move(body));
      else
        serve(c, id, done.service, done.timeout_ms, std::move(body),
              done.counted ? std::optional<size_t>{done.total} : std::nullopt);
      return;
    }
    case wire::Frame::ERROR: {
      auto e = root.getError();
      auto err = make_error(from_wire(e.getCode()), e.getMessage());
      if (e.getHasCallId()) {
        if (c.my_calls.count(e.getCallId()) > 0)
          finish(e.getCallId(), err);
      } else {
        log().warn("peer {} reports: {}", c.who(), describe(err));
      }
      return;
    }
    case wire::Frame::CANCEL: {
      auto id = root.getCancel().getCallId();
      finish_serving(c.hdl, id);
      c.out.drop(id, true);
      auto i = c.requests_in.find(id);
      if (i != c.requests_in.end()) {
        c.assembling_bytes -= i->second.total;
        if (i->second.counted)
          st().quota.release(c.peer_key, i->second.total);
        c.requests_in.erase(i);
      }
      return;
    }
    case wire::Frame::HEARTBEAT: {
      auto hb = root.getHeartbeat();
      if (!hb.getIsReply()) {
        capnp::MallocMessageBuilder msg{frame_first_segment_words};
        auto reply = msg.initRoot<wire::Frame>().initHeartbeat();
        reply.setSentAtNs(hb.getSentAtNs());
        reply.setIsReply(true);
        send_frame(c, msg);
      }
      return;
    }
    case wire::Frame::GOODBYE:
      if (root.getGoodbye().getReason() == idle_reason.data()) {
        retry_after_idle_close(c);
        return;
      }
      drop(c.hdl,
           std::string("peer said goodbye: ") +
               root.getGoodbye().getReason().cStr(),
           true);
      return;
    default:
      reject(c, "unexpected frame after the handshake");
    }
  }

  // -- serving ---------------------------------------------------------------

  caf::actor lookup_service(const std::string& name) {
    auto i = st().services.find(name);
    if (i != st().services.end())
      return i->second;
    // Longest registered prefix ("expert/") that names a family of services.
    caf::actor best;
    size_t best_len = 0;
    for (auto& [key, handler] : st().services)
      if (!key.empty() && key.back() == '/' && key.size() > best_len &&
          name.compare(0, key.size(), key) == 0) {
        best = handler;
        best_len = key.size();
      }
    return best;
  }

  /// Counts call `id` of `total` request bytes against its peer's quota,
  /// or answers it `overloaded` at once (logged at most once per interval
  /// per peer). Returns whether it was admitted.
  bool admit_call(connection& c, uint64_t id, uint64_t total) {
    auto bytes = static_cast<size_t>(
        std::min<uint64_t>(total, std::numeric_limits<size_t>::max()));
    auto verdict = st().quota.admit(c.peer_key, bytes);
    if (verdict == peer_quota::verdict::admitted)
      return true;
    auto reason = st().quota.explain(verdict, c.peer_key, bytes);
    send_error(c, id, make_error(errc::overloaded, reason));
    // Its further requests wait in the socket, costing this node nothing,
    // until one of its calls is answered: a peer that sends regardless of
    // refusals cannot make the node spend its time refusing.
    if (!c.reads_paused) {
      c.reads_paused = clock_type::now();
      st().paused[c.peer_key].push_back(c.hdl);
      // One more read, then CAF stops reading at a read boundary (its
      // buffer empty). `halt` would stop mid-read and drop the bytes
      // collected so far, breaking the stream.
      self_->trigger(c.hdl, 1);
    }
    if (auto n = st().refusal_log.note(c.peer_key, clock_type::now()))
      log().warn("refused {} call(s) from {} since the last such line: {}", *n,
                 c.who(), reason);
    return false;
  }

  /// Reads again from `peer`'s connections paused by a refusal.
  void resume_reads(const std::string& peer) {
    auto i = st().paused.find(peer);
    if (i == st().paused.end())
      return;
    auto hdls = std::move(i->second);
    st().paused.erase(i);
    for (auto hdl : hdls)
      if (auto* c = find(hdl); c && c->reads_paused) {
        c->reads_paused.reset();
        self_->trigger(hdl);
        st().resumed.push_back(hdl);
      }
    // CAF applies a pause (its removal of the socket from the loop) later
    // in its loop; a resume before that is lost. Resuming again a moment
    // later, when the pause has been applied, cannot be.
    if (!st().resumed.empty() && !st().resume_timer) {
      st().resume_timer = true;
      self_->delayed_send(self_, resume_again_after, resume_reads_atom::value);
    }
  }

  /// The second resume of the connections resumed since the timer was set.
  void resume_again() {
    st().resume_timer = false;
    auto hdls = std::move(st().resumed);
    st().resumed.clear();
    for (auto hdl : hdls)
      if (auto* c = find(hdl); c && !c->reads_paused)
        self_->trigger(hdl);
  }

  /// Dispatches call `id` to its service; `counted`: the request bytes the
  /// peer quota holds for it until the service answers (none for calls the
  /// quota does not count).
  void serve(connection& c, uint64_t id, const std::string& service,
             uint32_t timeout_ms, envelope body,
             std::optional<size_t> counted) {
    // The quota is held until the service answers, whether or not the
    // caller still waits: what a peer's calls cost the node is bounded,
    // not only what it waits for.
    auto release = [this, peer = c.peer_key, counted] {
      if (counted) {
        st().quota.release(peer, *counted);
        resume_reads(peer);
      }
    };
    if (service == "ping") {
      release();
      auto reply = answer_ping(body, st().cfg.me->peer_id().to_string());
      if (reply) {
        enqueue(c, outbound_message{true, id, {}, 0, std::move(*reply), 0});
      } else {
        send_error(c, id, reply.error());
      }
      return;
    }
    auto handler = lookup_service(service);
    if (!handler) {
      release();
      auto err = make_error(errc::unknown_service,
                            "no service '" + service + "' on this node");
      log().info("call {} from {}: {}", id, c.who(), describe(err));
      send_error(c, id, err);
      return;
    }
    auto timeout = timeout_ms > 0 ? std::chrono::milliseconds(timeout_ms)
                                  : opts().default_call_timeout;
    auto hdl = c.hdl;
    // The caller's deadline joins the transport's own timer; a CAF request
    // timeout would wake the clock thread on every call.
    auto deadline = clock_type::now() + timeout;
    c.serving[id] = deadline;
    st().serve_deadlines.emplace(deadline, hdl.id(), id);
    arm_timer();
    self_
        ->request(handler, caf::infinite, serve_atom::value, service,
                  c.peer_key, std::move(body))
        .then(
            [this, hdl, id, release](envelope& reply) {
              release();
              if (!finish_serving(hdl, id))
                return; // caller left, cancelled or timed out
              enqueue(*find(hdl),
                      outbound_message{true, id, {}, 0, std::move(reply), 0});
            },
            [this, hdl, id, service, release](caf::error& err) {
              release();
              // Dropped (fault injection): the caller waits until its
              // deadline, which answers it `timeout`.
              if (is_error(err, errc::cancelled) &&
                  error_reason(err) == dropped_call_reason)
                return;
              if (!finish_serving(hdl, id))
                return;
              auto* c = find(hdl);
              log().debug("service {} failed call {} from {}: {}", service, id,
                          c->who(), describe(err));
              send_error(*c, id, err);
            });
  }

  /// Ends serving call `id` on `hdl`; false if it no longer waits.
  bool finish_serving(connection_handle hdl, uint64_t id) {
    auto* c = find(hdl);
    if (!c)
      return false;
    auto i = c->serving.find(id);
    if (i == c->serving.end())
      return false;
    st().serve_deadlines.erase({i->second, hdl.id(), id});
    c->serving.erase(i);
    return true;
  }

  // -- calling ---------------------------------------------------------------

  uint64_t start_call(std::string address, std::string service, envelope body,
                      caf::timespan timeout, caf::response_promise promise,
                      caf::actor notify) {
    auto id = st().next_call_id++;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(timeout);
    if (ms.count() <= 0)
      ms = opts().default_call_timeout;
    auto& call = st().calls[id];
    call.address = std::move(address);
    call.service = std::move(service);
    call.body = std::move(body);
    call.timeout = ms;
    call.promise = std::move(promise);
    call.notify = std::move(notify);
    call.deadline = clock_type::now() + ms;
    st().deadlines.emplace(call.deadline, id);
    arm_timer();
    route(id);
    return id;
  }

  /// Makes sure a timer message arrives by the earliest deadline.
  void arm_timer() {
    if (st().deadlines.empty() && st().serve_deadlines.empty() &&
        st().held.empty())
      return;
    auto due = clock_type::time_point::max();
    if (!st().deadlines.empty())
      due = st().deadlines.begin()->first;
    if (!st().serve_deadlines.empty())
      due = std::min(due, std::get<0>(*st().serve_deadlines.begin()));
    if (!st().held.empty())
      due = std::min(due, st().held.begin()->first);
    if (st().timer_due && *st().timer_due <= due)
      return;
    st().timer_due = due;
    auto delay =
        std::max(clock_type::duration::zero(), due - clock_type::now());
    self_->delayed_send(self_, delay, call_timeout_atom::value);
  }

  /// Fails every call whose deadline has passed.
  void on_call_timer() {
    st().timer_due.reset();
    release_held();
    auto now = clock_type::now();
    while (!st().deadlines.empty() && st().deadlines.begin()->first <= now) {
      auto id = st().deadlines.begin()->second;
      st().deadlines.erase(st().deadlines.begin());
      auto i = st().calls.find(id);
      if (i == st().calls.end())
        continue;
      auto& call = i->second;
      withdraw(id,
               make_error(errc::timeout,
                          "no answer from " + call.address + " (" +
                              call.service + ") within " +
                              std::to_string(call.timeout.count()) + " ms"));
    }
    while (!st().serve_deadlines.empty() &&
           std::get<0>(*st().serve_deadlines.begin()) <= now) {
      auto [due, hdl_id, id] = *st().serve_deadlines.begin();
      auto hdl = connection_handle::from_int(hdl_id);
      if (!finish_serving(hdl, id)) {
        st().serve_deadlines.erase(st().serve_deadlines.begin());
        continue;
      }
      if (auto* c = find(hdl))
        send_error(*c, id,
                   make_error(errc::timeout,
                              "the service did not answer within the "
                              "caller's deadline"));
    }
    arm_timer();
  }

  void route(uint64_t id) {
    auto& call = st().calls[id];
    auto addr = peer_address::parse(call.address);
    if (!addr) {
      finish(id, make_error(errc::invalid_argument,
                            "bad address '" + call.address +
                                "': " + error_reason(addr.error())));
      return;
    }
    if (addr->id) {
      auto i = st().by_peer.find(*addr->id);
      if (i != st().by_peer.end()) {
        attach(id, i->second);
        return;
      }
    }
    auto key = addr->to_string();
    if (auto i = st().by_address.find(key); i != st().by_address.end()) {
      attach(id, i->second);
      return;
    }
    if (auto i = st().connecting.find(key); i != st().connecting.end()) {
      i->second.push_back(id);
      return;
    }
    auto now = clock_type::now();
    if (auto i = st().backoff.find(key);
        i != st().backoff.end() && i->second.until > now) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          i->second.until - now);
      finish(id, make_error(errc::unreachable,
                            key + " unreachable after " +
                                std::to_string(i->second.failures) +
                                " failed connects; next try in " +
                                std::to_string(left.count()) + " ms"));
      return;
    }
    st().connecting[key].push_back(id);
    st().dial_expect[key] = addr->id;
    // Connect off the I/O loop; the socket comes back as a message. A
    // blocking actor, not a detached thread: the actor system waits for it
    // on shutdown instead of being sent to after it is gone.
    auto host = addr->host;
    auto port = addr->port;
    auto timeout = opts().connect_timeout;
    caf::actor me = caf::actor_cast<caf::actor>(self_);
    self_->home_system().spawn(
        [me, key, host, port, timeout](caf::blocking_actor* dialer) {
          auto fd = connect_with_deadline(host, port, timeout);
          if (fd)
            dialer->send(me, connected_atom::value, key, *fd);
          else
            dialer->send(me, connected_atom::value, key, fd.error());
        });
  }

  void attach(uint64_t id, connection_handle hdl) {
    auto* c = find(hdl);
    auto& call = st().calls[id];
    call.hdl = hdl;
    if (c->established)
      send_request(*c, id);
    else
      c->waiting_calls.push_back(id);
  }

  void send_request(connection& c, uint64_t id) {
    auto i = st().calls.find(id);
    if (i == st().calls.end())
      return;
    auto& call = i->second;
    call.hdl = c.hdl;
    call.sent = true;
    c.my_calls.insert(id);
    // The call keeps its body (a shared buffer) in case the connection
    // closes for idleness before the request leaves.
    c.last_call = clock_type::now();
    enqueue(c, outbound_message{false, id, call.service,
                                static_cast<uint32_t>(call.timeout.count()),
                                call.body, 0});
  }

  /// The peer closed `c` as idle: its calls were not served; send them again
  /// over a new connection.
  void retry_after_idle_close(connection& c) {
    std::vector<uint64_t> ids(c.my_calls.begin(), c.my_calls.end());
    ids.insert(ids.end(), c.waiting_calls.begin(), c.waiting_calls.end());
    c.my_calls.clear();
    c.waiting_calls.clear();
    auto hdl = c.hdl;
    drop(hdl, "peer closed the idle connection", true);
    for (auto id : ids) {
      auto i = st().calls.find(id);
      if (i == st().calls.end())
        continue;
      i->second.sent = false;
      i->second.hdl.reset();
      route(id);
    }
  }

  void on_connected(const std::string& key, int fd) {
    auto waiting = std::move(st().connecting[key]);
    st().connecting.erase(key);
    auto hdl = self_->add_scribe(fd);
    auto& c = open(hdl, true, key);
    st().dial_expect.erase(key); // the handshake holds the expectation now
    st().by_address.emplace(key, hdl);
    c.waiting_calls = std::move(waiting);
    for (auto id : c.waiting_calls)
      if (auto i = st().calls.find(id); i != st().calls.end())
        i->second.hdl = hdl;
  }

  void on_connect_failed(const std::string& key, const caf::error& err) {
    auto waiting = std::move(st().connecting[key]);
    st().connecting.erase(key);
    st().dial_expect.erase(key);
    auto& b = st().backoff[key];
    b.failures++;
    auto delay = connect_backoff_base * (1 << std::min(b.failures - 1, 16));
    b.until = clock_type::now() +
              std::min<std::chrono::milliseconds>(delay, connect_backoff_cap);
    log().debug("cannot connect to {}: {}", key, describe(err));
    for (auto id : waiting)
      finish(id, err);
  }

  /// Ends call `id` with `result` and tells its caller.
  void finish(uint64_t id, caf::expected<envelope> result) {
    auto i = st().calls.find(id);
    if (i == st().calls.end())
      return;
    auto call = std::move(i->second);
    st().calls.erase(i);
    st().deadlines.erase({call.deadline, id});
    if (call.hdl)
      if (auto* c = find(*call.hdl)) {
        c->my_calls.erase(id);
        c->out.drop(id, false);
        auto r = c->responses_in.find(id);
        if (r != c->responses_in.end()) {
          c->assembling_bytes -= r->second.total;
          c->responses_in.erase(r);
        }
        auto w =
            std::find(c->waiting_calls.begin(), c->waiting_calls.end(), id);
        if (w != c->waiting_calls.end())
          c->waiting_calls.erase(w);
      }
    if (call.notify) {
      if (result)
        self_->send(call.notify, call_result_atom::value, id,
                    std::move(*result));
      else
        self_->send(call.notify, call_result_atom::value, id, result.error());
    } else if (call.promise.pending()) {
      if (result)
        call.promise.deliver(std::move(*result));
      else
        call.promise.deliver(result.error());
    }
  }

  /// Withdraws call `id`: tells the server, then fails it with `err`.
  void withdraw(uint64_t id, caf::error err) {
    auto i = st().calls.find(id);
    if (i == st().calls.end())
      return;
    if (i->second.sent && i->second.hdl)
      if (auto* c = find(*i->second.hdl)) {
        capnp::MallocMessageBuilder msg{frame_first_segment_words};
        msg.initRoot<wire::Frame>().initCancel().setCallId(id);
        send_frame(*c, msg);
      }
    finish(id, std::move(err));
  }

  // -- timers ----------------------------------------------------------------

  void on_tick() {
    auto now = clock_type::now();
    st().refusal_log.forget_idle(now, 12 * refusal_log_interval);
    std::vector<std::string> overdue;
    for (auto& [peer, hdls] : st().paused)
      for (auto hdl : hdls)
        if (auto* c = find(hdl);
            !c || !c->reads_paused || now - *c->reads_paused > max_read_pause) {
          overdue.push_back(peer); // also forgets closed connections
          break;
        }
    for (auto& peer : overdue)
      resume_reads(peer);
    // A resume CAF may have missed (see resume_reads) is repeated here.
    for (auto& [hdl, c] : st().conns)
      if (c->caf_passive && !c->reads_paused)
        self_->trigger(hdl);
    std::vector<std::pair<connection_handle, std::string>> doomed;
    std::vector<connection_handle> idle;
    for (auto& [hdl, c] : st().conns) {
      if (!c->established) {
        if (now - c->opened > opts().handshake_timeout)
          doomed.emplace_back(hdl, "handshake timed out");
        continue;
      }
      if (auto expiry = c->hs->remote_token_expiry();
          expiry && *expiry <= unix_seconds()) {
        doomed.emplace_back(hdl, "the peer's access token expired");
        continue;
      }
      auto silent = now - c->last_received;
      if (silent > opts().peer_timeout && !c->reads_paused) {
        doomed.emplace_back(
            hdl, "silent for " +
                     std::to_string(
                         std::chrono::duration_cast<std::chrono::milliseconds>(
                             silent)
                             .count()) +
                     " ms");
        continue;
      }
      if (opts().idle_timeout.count() > 0 &&
          now - c->last_call > opts().idle_timeout && c->my_calls.empty() &&
          c->waiting_calls.empty() && c->serving.empty() && c->out.empty() &&
          c->requests_in.empty() && c->responses_in.empty()) {
        idle.push_back(hdl);
        continue;
      }
      if (now - c->last_sent >= opts().heartbeat_interval) {
        capnp::MallocMessageBuilder msg{frame_first_segment_words};
        auto hb = msg.initRoot<wire::Frame>().initHeartbeat();
        hb.setSentAtNs(static_cast<uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(
                now.time_since_epoch())
                .count()));
        send_frame(*c, msg);
      }
    }
    for (auto& [hdl, why] : doomed) {
      if (auto* c = find(hdl))
        log().info("dropping {}: {}", c->who(), why);
      drop(hdl, why, true);
    }
    for (auto hdl : idle)
      if (auto* c = find(hdl)) {
        capnp::MallocMessageBuilder msg{frame_first_segment_words};
        msg.initRoot<wire::Frame>().initGoodbye().setReason(idle_reason.data());
        send_frame(*c, msg);
        drop(hdl, std::string{idle_reason}, true);
      }
  }

  caf::behavior make_behavior() {
    auto tick = std::max(min_tick, opts().heartbeat_interval / 4);
    self_->delayed_send(self_, tick, tick_atom::value);
    return {
        [this](const caf::io::new_connection_msg& msg) {
          if (!admit_incoming(self_->remote_addr(msg.handle))) {
            self_->close(msg.handle);
            return;
          }
          open(msg.handle, false, {});
        },
        [this](caf::io::new_data_msg& msg) { on_data(msg); },
        [this](const caf::io::data_transferred_msg& msg) {
          if (auto* c = find(msg.handle)) {
            c->inflight = msg.remaining;
            pump(*c);
          }
        },
        [this](const caf::io::connection_passivated_msg& msg) {
          // The pause of a peer over its quota took effect. Resumed in the
          // meantime: reading goes on (CAF checks again after this).
          auto* c = find(msg.handle);
          if (!c)
            return;
          if (c->reads_paused)
            c->caf_passive = true;
          else
            self_->trigger(msg.handle);
        },
        [this](resume_reads_atom) { resume_again(); },
        [this](const caf::io::connection_closed_msg& msg) {
          drop(msg.handle, "closed by peer", false);
        },
        [this](const caf::io::acceptor_closed_msg&) {
          log().warn("listener closed");
        },
        [this, tick](tick_atom) {
          on_tick();
          self_->delayed_send(self_, tick, tick_atom::value);
        },
        [this](connected_atom, const std::string& key, int fd) {
          on_connected(key, fd);
        },
        [this](connected_atom, const std::string& key, const caf::error& err) {
          on_connect_failed(key, err);
        },
        [this](call_timeout_atom) {
          // A stale timer (an earlier one fired first) re-arms harmlessly.
          on_call_timer();
        },
        [this](register_service_atom, const std::string& name,
               const caf::actor& handler) { st().services[name] = handler; },
        [this](call_atom, std::string& address, std::string& service,
               envelope& body, caf::timespan timeout) {
          auto rp = self_->make_response_promise();
          start_call(std::move(address), std::move(service), std::move(body),
                     timeout, rp, {});
          return rp;
        },
        [this](start_call_atom, std::string& address, std::string& service,
               envelope& body, caf::timespan timeout) {
          auto sender = caf::actor_cast<caf::actor>(self_->current_sender());
          return start_call(std::move(address), std::move(service),
                            std::move(body), timeout, {}, std::move(sender));
        },
        [this](cancel_atom, uint64_t id) {
          withdraw(id, make_error(errc::cancelled, "call cancelled by caller"));
        },
        [this](get_address_atom) { return st().address; },
        [this](connections_atom) { return st().conns.size(); },
        [this](set_faults_atom, fault_settings& settings) {
          if (settings.any() || st().faults.active())
            log().warn("fault injection: delay {} ms +- {} ms, drop {}, {} "
                       "partitioned peers",
                       settings.delay.count(), settings.jitter.count(),
                       settings.drop_rate, settings.partitioned.size());
          st().faults.configure(std::move(settings));
        },
        [this](fault_counters_atom) { return st().faults.counters(); },
        [this](peers_atom) {
          std::vector<std::string> ids;
          for (auto& [id, hdl] : st().by_peer)
            ids.push_back(id.to_string());
          return ids;
        },
    };
  }

 private:
  transport_actor_type* self_;
};

caf::behavior transport_main(transport_actor_type* self, transport_config cfg,
                             caf::io::doorman_ptr door, std::string address) {
  self->state.cfg = std::move(cfg);
  self->state.quota =
      peer_quota{self->state.cfg.options.max_calls_per_peer,
                 self->state.cfg.options.max_request_bytes_per_peer};
  if (!self->state.cfg.access_token_path.empty())
    self->state.token_file.emplace(self->state.cfg.access_token_path);
  self->state.address = std::move(address);
  if (door)
    self->add_doorman(std::move(door));
  self->state.echo =
      self->spawn(ping_service, self->state.cfg.me->peer_id().to_string());
  // `ping` is answered by the transport itself; `echo` is the same protocol
  // through an ordinary service actor.
  self->state.services["echo"] = self->state.echo;
  // The node's services live as long as its transport: stopping the
  // transport stops them too, so the actor system can shut down.
  self->set_exit_handler([self](caf::exit_msg& msg) {
    for (auto& [name, handler] : self->state.services)
      self->send_exit(handler, msg.reason);
    self->quit(msg.reason);
  });
  self->state.impl = std::make_shared<transport_impl>(self);
  return self->state.impl->make_behavior();
}

} // namespace

caf::expected<transport_handle> spawn_transport(caf::actor_system& system,
                                                transport_config config) {
  if (!config.me || !config.log)
    return make_error(errc::invalid_argument,
                      "transport needs an identity and a logger");
  if (config.options.part_bytes % 8 != 0 || config.options.part_bytes == 0)
    return make_error(errc::invalid_argument,
                      "part_bytes must be a positive multiple of 8");
  if (config.authority) {
    // A node that cannot present a valid token would be refused by every
    // peer: say so now, not on each connection.
    if (config.access_token_path.empty())
      return make_error(errc::bad_config,
                        "the swarm has an authority (" +
                            config.authority->to_string() +
                            ") but this node has no access token; issue one "
                            "with `colony token issue`");
    auto token = read_access_token(config.access_token_path);
    if (!token)
      return std::move(token.error());
    if (auto err = token->verify(*config.authority, config.me->peer_id(),
                                 unix_seconds()))
      return make_error(errc::bad_config,
                        config.access_token_path + ": " + error_reason(err));
  }
  caf::io::doorman_ptr door;
  std::string address;
  if (!config.listen.empty()) {
    auto addr = peer_address::parse(config.listen);
    if (!addr)
      return make_error(errc::invalid_argument,
                        "bad listen address '" + config.listen +
                            "': " + error_reason(addr.error()));
    auto& mpx = system.middleman().backend();
    auto res = mpx.new_tcp_doorman(addr->port, addr->host.c_str(), true);
    if (!res)
      return make_error(errc::io_error, "cannot listen on " + config.listen +
                                            ": " + system.render(res.error()));
    door = std::move(*res);
    address = peer_address{addr->host, door->port(), {}}.to_string();
  }
  auto actor = system.middleman().spawn_broker(
      transport_main, std::move(config), std::move(door), address);
  return transport_handle{actor, address};
}

} // namespace colony
