#pragma once

#include "messages/envelope.hpp"

#include <cstdint>
#include <deque>
#include <string>

namespace colony {

/// A request or response waiting to be written, possibly in several parts.
struct outbound_message {
  bool is_response = false;
  uint64_t call_id = 0;
  std::string service;     ///< requests only
  uint32_t timeout_ms = 0; ///< requests only
  envelope body;
  size_t sent = 0; ///< body bytes already handed to the socket
};

/// Per-connection queue of request and response bodies. Hands out one part
/// at a time, round-robin across messages, so a small call never waits
/// behind a large tensor. Pure logic; the transport decides when to write.
class outbound_queue {
 public:
  /// `part_bytes` must be a multiple of 8 (parts stay word-aligned).
  explicit outbound_queue(size_t part_bytes) noexcept
      : part_bytes_(part_bytes) {
    // nop
  }

  void push(outbound_message msg) { queue_.push_back(std::move(msg)); }

  [[nodiscard]] bool empty() const noexcept { return queue_.empty(); }

  [[nodiscard]] size_t size() const noexcept { return queue_.size(); }

  /// Calls `write(msg, offset, length)` for the next part and advances.
  /// `offset == 0` means the message's first frame. Returns false when empty.
  template <class F>
  bool write_next(F&& write) {
    if (queue_.empty())
      return false;
    auto msg = std::move(queue_.front());
    queue_.pop_front();
    auto length = std::min(part_bytes_, msg.body.size() - msg.sent);
    write(msg, msg.sent, length);
    msg.sent += length;
    if (msg.sent < msg.body.size())
      queue_.push_back(std::move(msg));
    return true;
  }

  /// Drops the message of `call_id`, if queued. Returns true if some of its
  /// parts were already sent (the peer then holds a partial body).
  bool drop(uint64_t call_id, bool is_response);

  /// Drops everything (connection closed).
  void clear() noexcept { queue_.clear(); }

 private:
  size_t part_bytes_;
  std::deque<outbound_message> queue_;
};

} // namespace colony
