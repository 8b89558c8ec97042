#pragma once

#include "runtime/peer_id.hpp"

#include <caf/expected.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace colony {

/// Where to reach a peer: a host (IPv4, IPv6 or DNS name), a TCP port and,
/// optionally, the peer id the node there must prove in the handshake.
struct peer_address {
  /// IPv4 dotted quad, IPv6 address without brackets, or DNS name.
  std::string host;

  /// TCP port; 0 only makes sense for a listen address (any free port).
  uint16_t port = 0;

  /// The expected peer id, if the address named one (`/p2p/ID`).
  std::optional<peer_id> id;

  /// Parses any of these forms (the last four are libp2p multiaddrs, as
  /// hivemind prints them):
  /// - `HOST:PORT`, `[IPV6]:PORT`, each optionally followed by `/p2p/ID`;
  /// - `/ip4/HOST/tcp/PORT`, `/ip6/HOST/tcp/PORT`, `/dns/NAME/tcp/PORT`
  ///   (also `/dns4`, `/dns6`), each optionally followed by `/p2p/ID`.
  /// Fails with `errc::invalid_argument` naming the bad part: missing host
  /// or port, non-numeric port, port above 65535, malformed IP address,
  /// unknown protocol, bad peer id.
  [[nodiscard]] static caf::expected<peer_address> parse(std::string_view text);

  /// Returns `HOST:PORT`, with brackets around an IPv6 host; the id is left
  /// out.
  [[nodiscard]] std::string to_string() const;

  /// Returns the multiaddr form, `/ip4|ip6|dns/HOST/tcp/PORT[/p2p/ID]`.
  [[nodiscard]] std::string to_multiaddr() const;

  friend bool operator==(const peer_address& a, const peer_address& b) {
    return a.host == b.host && a.port == b.port && a.id == b.id;
  }
  friend bool operator!=(const peer_address& a, const peer_address& b) {
    return !(a == b);
  }
};

} // namespace colony
