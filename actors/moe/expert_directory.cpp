#include "actors/moe/expert_directory.hpp"

#include "actors/moe/expert_declaration.hpp"
#include "actors/moe/expert_uid.hpp"
#include "messages/error.hpp"

#include <stdexcept>

namespace colony::moe {

namespace {

std::map<std::string, std::string> subkey_values(const dht::get_result& r) {
  std::map<std::string, std::string> out;
  for (auto& [subkey, v] : r.subkeys)
    out.emplace(subkey, v.value);
  return out;
}

} // namespace

caf::expected<size_t>
declare_experts(dht::dht_client& dht, const std::vector<std::string>& uids,
                const std::string& peer_id, const std::string& address,
                double expiration, std::chrono::milliseconds timeout) {
  auto ops = declare_experts_ops(uids, peer_id, address, expiration);
  if (!ops)
    return std::move(ops.error());
  std::vector<dht::store_request> requests;
  for (auto& op : *ops)
    requests.push_back(dht::store_request{op.key, op.subkey.value_or(""),
                                          op.subkey.has_value(), op.value,
                                          op.expiration});
  auto stored = dht.store_many(std::move(requests), timeout);
  if (!stored)
    return std::move(stored.error());
  size_t ok = 0;
  for (bool b : *stored)
    ok += b;
  return ok;
}

caf::expected<std::vector<std::optional<expert_info>>>
get_experts(dht::dht_client& dht, const std::vector<std::string>& uids,
            std::chrono::milliseconds timeout) {
  auto found = dht.get_many(get_experts_keys(uids), false, timeout);
  if (!found)
    return std::move(found.error());
  std::vector<std::optional<expert_info>> out;
  for (size_t i = 0; i < uids.size(); ++i) {
    auto& r = (*found)[i];
    if (!r.found || r.is_dictionary) {
      out.emplace_back();
      continue;
    }
    auto info = decode_expert_value(uids[i], r.value);
    out.push_back(info ? std::optional<expert_info>{*info} : std::nullopt);
  }
  return out;
}

successor_lookup dht_successor_lookup(dht::dht_client& dht,
                                      std::chrono::milliseconds timeout) {
  return [&dht, timeout](const std::vector<std::string>& prefixes) {
    auto found = dht.get_many(prefixes, false, timeout);
    if (!found)
      throw std::runtime_error(describe(found.error()));
    std::map<std::string, std::map<int, expert_info>> out;
    for (size_t i = 0; i < prefixes.size(); ++i) {
      auto& r = (*found)[i];
      if (!r.found || !r.is_dictionary)
        continue;
      auto successors = decode_prefix_successors(prefixes[i], subkey_values(r));
      if (!successors.empty())
        out.emplace(prefixes[i], std::move(successors));
    }
    return out;
  };
}

caf::expected<std::vector<expert_info>>
list_experts(dht::dht_client& dht, const std::string& prefix,
             std::chrono::milliseconds timeout, size_t max_prefixes) {
  if (!is_valid_prefix(prefix))
    return make_error(
        errc::invalid_argument,
        "'" + prefix + "' is not an expert prefix (e.g. 'ffn.' or 'ffn.3.')");
  std::vector<expert_info> experts;
  std::vector<std::string> frontier{prefix};
  size_t read = 0;
  while (!frontier.empty() && read < max_prefixes) {
    read += frontier.size();
    auto found = dht.get_many(frontier, false, timeout);
    if (!found)
      return std::move(found.error());
    std::vector<std::string> next;
    for (size_t i = 0; i < frontier.size(); ++i) {
      auto& r = (*found)[i];
      if (!r.found || !r.is_dictionary)
        continue;
      for (auto& [coord, info] :
           decode_prefix_successors(frontier[i], subkey_values(r))) {
        if (info.uid == join_uid(frontier[i], coord))
          experts.push_back(info);
        else
          next.push_back(child_prefix(frontier[i], coord));
      }
    }
    frontier = std::move(next);
  }
  return experts;
}

} // namespace colony::moe
