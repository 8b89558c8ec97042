#pragma once

#include <cstddef>
#include <vector>

namespace colony::apps {

/// Round-trip times (ms) of `count` ping-pongs of `message_bytes` each way
/// over a plain blocking TCP socket on loopback, echoed by a thread: the
/// floor any transport on this machine is compared against.
std::vector<double> raw_tcp_ping_pong(size_t message_bytes, size_t count);

/// Times (ms) of `count` one-way transfers of `bytes`, each acknowledged by
/// one byte once fully received, over plain TCP on loopback.
std::vector<double> raw_tcp_bulk(size_t bytes, size_t count);

} // namespace colony::apps
