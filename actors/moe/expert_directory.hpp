#pragma once

#include "actors/dht/dht_client.hpp"
#include "actors/moe/client/beam_search.hpp"
#include "actors/moe/expert_record.hpp"

#include <caf/expected.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace colony::moe {

/// Declares `uids` as hosted by the server `peer_id` at `address` until
/// `expiration` (DHT time): each uid and each of its prefixes, as
/// `declare_experts_ops` lays them out. Returns how many of the DHT writes
/// at least one replica accepted. Blocking.
caf::expected<size_t>
declare_experts(dht::dht_client& dht, const std::vector<std::string>& uids,
                const std::string& peer_id, const std::string& address,
                double expiration, std::chrono::milliseconds timeout);

/// Finds the servers of `uids`; nullopt for uids nobody declares. Blocking.
caf::expected<std::vector<std::optional<expert_info>>>
get_experts(dht::dht_client& dht, const std::vector<std::string>& uids,
            std::chrono::milliseconds timeout);

/// A successor lookup for `beam_searcher` that reads prefix keys from the
/// DHT, all prefixes of one step in one batched get. A failed get throws
/// (the searcher treats the batch as empty and does not cache it).
successor_lookup dht_successor_lookup(dht::dht_client& dht,
                                      std::chrono::milliseconds timeout);

/// Every expert declared under `prefix` (e.g. "ffn." or "ffn.3."), found by
/// walking the prefix tree level by level; at most `max_prefixes` keys read.
caf::expected<std::vector<expert_info>>
list_experts(dht::dht_client& dht, const std::string& prefix,
             std::chrono::milliseconds timeout, size_t max_prefixes = 100000);

} // namespace colony::moe
