#pragma once

#include <caf/expected.hpp>

#include <chrono>
#include <cstdint>
#include <string>

namespace colony {

/// Opens a TCP connection to `host:port` without ever blocking longer than
/// `timeout` (name resolution included in the budget only loosely: it is a
/// blocking libc call). Returns the connected socket, set non-blocking.
/// Runs on its own thread, never on the I/O loop: a silent address would
/// otherwise stall every connection of the node.
caf::expected<int> connect_with_deadline(const std::string& host, uint16_t port,
                                         std::chrono::milliseconds timeout);

} // namespace colony
