#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace colony {

/// Tunables of colony's transport. Defaults suit a swarm on the internet;
/// tests shrink the timeouts. Each field is a key of the `[transport]` table
/// of a node config.
struct transport_options {
  /// Largest frame accepted on the wire, checked against the segment table
  /// before anything is allocated (bytes).
  size_t max_frame_bytes = 4u << 20;
  /// Largest request or response body, assembled from parts (bytes).
  size_t max_message_bytes = 512u << 20;
  /// Bodies larger than this travel as several parts of at most this size,
  /// interleaved with other calls (bytes).
  size_t part_bytes = 1u << 20;
  /// Bytes handed to the socket but not yet written, per peer; further
  /// frames wait in colony's queue (bytes).
  size_t max_inflight_bytes = 8u << 20;
  /// Interval between heartbeats on an idle connection.
  std::chrono::milliseconds heartbeat_interval{1000};
  /// A peer that sends nothing for this long is disconnected and its
  /// pending calls fail.
  std::chrono::milliseconds peer_timeout{10000};
  /// A connection with no call for this long is closed (0: never); a call
  /// racing with the close is sent again on a new connection.
  std::chrono::milliseconds idle_timeout{60000};
  /// Deadline of an outgoing TCP connect.
  std::chrono::milliseconds connect_timeout{5000};
  /// Deadline of the identity handshake once connected.
  std::chrono::milliseconds handshake_timeout{5000};
  /// Deadline of a call whose caller names none.
  std::chrono::milliseconds default_call_timeout{30000};
  /// Seal every frame after the handshake (AEAD keyed by an X25519
  /// exchange bound to both identities). Plain text needs both ends to
  /// turn it off; a mismatch is refused at the handshake.
  bool encryption = true;
  /// Incoming connections from one IP address still in their handshake;
  /// further ones are closed at once (0: no bound). With the handshake
  /// deadline, this is what keeps half-open connections from using up a
  /// node's sockets.
  size_t max_pending_handshakes_per_ip = 128;
  /// Incoming connections from one IP address in all (0: no bound). A
  /// peer needs one; a host running a local swarm of hundreds of nodes
  /// needs one per node.
  size_t max_connections_per_ip = 1024;
  /// Calls one peer may have this node work on at once (all services but
  /// `ping`): a request beyond it is answered `overloaded` ("busy: ...")
  /// at once, before its body is assembled or a service sees it, so a
  /// flooding peer cannot take the node from others (0: no bound).
  size_t max_calls_per_peer = 64;
  /// Request bytes one peer may have this node work on at once, counted
  /// from a request's first frame until its service answers; beyond it,
  /// refused like `max_calls_per_peer` (bytes; 0: no bound).
  size_t max_request_bytes_per_peer = 128u << 20;
};

} // namespace colony
