#pragma once

// The harness's `garbage` fault: connections to a node's port that break
// colony's wire on purpose, to prove the node refuses them and keeps
// serving everybody else.

#include <caf/expected.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace colony::apps {

enum class garbage_kind {
  /// Random bytes: no valid segment table, no valid message.
  random_bytes,
  /// A real Hello frame cut short, then silence: the node must time the
  /// handshake out rather than wait forever.
  truncated_frame,
  /// A segment table claiming gigabytes: the node must refuse before it
  /// allocates anything.
  oversized_length,
  /// A well-framed but wrong handshake: another protocol version, another
  /// swarm, a malformed key, or a Proof before any Hello (by seed).
  wrong_handshake,
};

[[nodiscard]] const char* to_string(garbage_kind kind) noexcept;

/// Parses a kind's name; errc::bad_config naming the valid ones otherwise.
[[nodiscard]] caf::expected<garbage_kind>
parse_garbage_kind(std::string_view name);

/// The bytes one garbage connection sends (pure, deterministic per seed).
[[nodiscard]] std::vector<uint8_t> garbage_payload(garbage_kind kind,
                                                   uint64_t seed);

struct garbage_outcome {
  size_t bytes_sent = 0;
  /// The node closed the connection before the deadline.
  bool closed_by_peer = false;
};

/// Connects to `address` (HOST:PORT), sends `garbage_payload(kind, seed)`,
/// and waits until the node closes the connection or `timeout` passes (then
/// closes it itself). Errors: unreachable (nothing listens), io_error.
[[nodiscard]] caf::expected<garbage_outcome>
send_garbage(const std::string& address, garbage_kind kind, uint64_t seed,
             std::chrono::milliseconds timeout);

} // namespace colony::apps
