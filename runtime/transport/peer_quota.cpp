#include "runtime/transport/peer_quota.hpp"

#include <algorithm>

namespace colony {

peer_quota::verdict peer_quota::admit(const std::string& peer, size_t bytes) {
  auto i = used_.find(peer);
  size_t calls = i == used_.end() ? 0 : i->second.calls;
  size_t held = i == used_.end() ? 0 : i->second.bytes;
  if (max_calls_ != 0 && calls >= max_calls_)
    return verdict::too_many_calls;
  if (max_bytes_ != 0 && (bytes > max_bytes_ || held > max_bytes_ - bytes))
    return verdict::too_many_bytes;
  auto& u = i == used_.end() ? used_[peer] : i->second;
  ++u.calls;
  u.bytes += bytes;
  return verdict::admitted;
}

void peer_quota::release(const std::string& peer, size_t bytes) noexcept {
  auto i = used_.find(peer);
  if (i == used_.end())
    return;
  auto& u = i->second;
  u.calls -= u.calls > 0 ? 1 : 0;
  u.bytes -= std::min(u.bytes, bytes);
  if (u.calls == 0)
    used_.erase(i);
}

size_t peer_quota::calls(const std::string& peer) const noexcept {
  auto i = used_.find(peer);
  return i == used_.end() ? 0 : i->second.calls;
}

size_t peer_quota::bytes(const std::string& peer) const noexcept {
  auto i = used_.find(peer);
  return i == used_.end() ? 0 : i->second.bytes;
}

std::string peer_quota::explain(verdict v, const std::string& peer,
                                size_t bytes) const {
  switch (v) {
  case verdict::admitted:
    return "admitted";
  case verdict::too_many_calls:
    return "busy: " + std::to_string(calls(peer)) +
           " calls of this peer in progress (transport.max_calls_per_peer " +
           std::to_string(max_calls_) + ")";
  case verdict::too_many_bytes:
    return "busy: a request of " + std::to_string(bytes) + " bytes on top of " +
           std::to_string(this->bytes(peer)) +
           " bytes of this peer in progress exceeds "
           "transport.max_request_bytes_per_peer " +
           std::to_string(max_bytes_);
  }
  return "busy";
}

const char* to_string(peer_quota::verdict v) noexcept {
  switch (v) {
  case peer_quota::verdict::admitted:
    return "admitted";
  case peer_quota::verdict::too_many_calls:
    return "too_many_calls";
  case peer_quota::verdict::too_many_bytes:
    return "too_many_bytes";
  }
  return "?";
}

} // namespace colony
