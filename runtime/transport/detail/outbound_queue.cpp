#include "runtime/transport/detail/outbound_queue.hpp"

#include <algorithm>

namespace colony {

bool outbound_queue::drop(uint64_t call_id, bool is_response) {
  auto i = std::find_if(queue_.begin(), queue_.end(), [&](const auto& m) {
    return m.call_id == call_id && m.is_response == is_response;
  });
  if (i == queue_.end())
    return false;
  auto started = i->sent > 0;
  queue_.erase(i);
  return started;
}

} // namespace colony
