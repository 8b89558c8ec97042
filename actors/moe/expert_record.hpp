#pragma once

#include <caf/expected.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace colony::moe {

/// Where an expert lives: its uid and the server that hosts it. This is what
/// the DHT stores for an expert (as a `wire::ExpertRecord`).
struct expert_info {
  /// The expert's uid, e.g. `ffn.0.13`.
  std::string uid;

  /// Base58 peer id of the hosting server.
  std::string peer_id;

  /// `HOST:PORT` where the hosting server listens.
  std::string address;

  friend bool operator==(const expert_info& a, const expert_info& b) {
    return a.uid == b.uid && a.peer_id == b.peer_id && a.address == b.address;
  }
  friend bool operator!=(const expert_info& a, const expert_info& b) {
    return !(a == b);
  }
};

/// Upper bound on an encoded record (bytes); a DHT value above it is not an
/// expert record. Generous: a record holds three short strings.
constexpr size_t max_expert_record_bytes = 4096;

/// Encodes `info` as a flat Cap'n Proto `wire::ExpertRecord` (segment table,
/// then segments), the bytes stored as a DHT value.
[[nodiscard]] std::string encode_expert_info(const expert_info& info);

/// Decodes bytes made by `encode_expert_info`. Never throws: fails with
/// `errc::malformed` for bytes that are not a record (wrong size, bad
/// pointers, over `max_expert_record_bytes`) or whose uid is not a valid uid,
/// or whose peer id or address is empty. The peer id and address are not
/// parsed further; whoever connects parses them.
[[nodiscard]] caf::expected<expert_info>
decode_expert_info(std::string_view bytes);

} // namespace colony::moe
