#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>

namespace colony {

/// What one peer may have a node work on at once: the calls it sent that
/// are not answered yet, and the request bytes they carry. Pure logic, no
/// actor inside; the transport asks it before it assembles or dispatches a
/// request, so a peer over its share is refused at once and costs the node
/// nothing more. Not thread-safe; one owner.
class peer_quota {
 public:
  /// Why a call was not admitted.
  enum class verdict : uint8_t {
    admitted,       ///< counted; `release` it once answered
    too_many_calls, ///< the peer has `max_calls` calls in progress
    too_many_bytes, ///< the call's bytes would exceed `max_bytes`
  };

  /// A quota of `max_calls` calls and `max_bytes` request bytes in
  /// progress per peer; 0 leaves that dimension unbounded.
  peer_quota(size_t max_calls, size_t max_bytes) noexcept
      : max_calls_(max_calls), max_bytes_(max_bytes) {}

  /// Counts a call of `bytes` request bytes from `peer` if it stays within
  /// both bounds; otherwise counts nothing and says which bound it hit.
  [[nodiscard]] verdict admit(const std::string& peer, size_t bytes);

  /// Ends a call admitted for `peer` with the same `bytes`.
  void release(const std::string& peer, size_t bytes) noexcept;

  /// Calls of `peer` in progress.
  [[nodiscard]] size_t calls(const std::string& peer) const noexcept;

  /// Request bytes of `peer` in progress.
  [[nodiscard]] size_t bytes(const std::string& peer) const noexcept;

  /// Peers with a call in progress.
  [[nodiscard]] size_t peers() const noexcept { return used_.size(); }

  [[nodiscard]] size_t max_calls() const noexcept { return max_calls_; }
  [[nodiscard]] size_t max_bytes() const noexcept { return max_bytes_; }

  /// The reason a caller is shown for `v`, naming the bound and its config
  /// key, e.g. "busy: 64 calls of this peer in progress
  /// (transport.max_calls_per_peer 64)".
  [[nodiscard]] std::string explain(verdict v, const std::string& peer,
                                    size_t bytes) const;

 private:
  struct usage {
    size_t calls = 0;
    size_t bytes = 0;
  };
  size_t max_calls_;
  size_t max_bytes_;
  std::unordered_map<std::string, usage> used_;
};

/// The stable name of `v`: "admitted", "too_many_calls", "too_many_bytes".
[[nodiscard]] const char* to_string(peer_quota::verdict v) noexcept;

} // namespace colony
