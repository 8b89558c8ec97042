#include "actors/moe/expert_declaration.hpp"

#include "actors/moe/expert_uid.hpp"
#include "messages/error.hpp"

#include <set>
#include <utility>

namespace colony::moe {

namespace {

// Parses a subkey that must be one canonical coordinate (no sign, no
// leading zero).
bool parse_subkey(std::string_view subkey, int& out) {
  if (subkey.find(uid_delimiter) != std::string_view::npos)
    return false;
  auto parsed = parse_coordinates(subkey);
  if (!parsed)
    return false;
  out = parsed->front();
  return true;
}

} // namespace

caf::expected<std::vector<dht_store_op>>
declare_experts_ops(const std::vector<std::string>& uids,
                    const std::string& peer_id, const std::string& address,
                    double expiration) {
  if (peer_id.empty())
    return make_error(errc::invalid_argument,
                      "cannot declare experts: empty peer id");
  if (address.empty())
    return make_error(errc::invalid_argument,
                      "cannot declare experts: empty address");
  for (auto& uid : uids)
    if (auto parsed = parse_uid(uid); !parsed)
      return std::move(parsed.error());
  std::vector<dht_store_op> ops;
  // (key, subkey) pairs already written; "" stands for no subkey, which no
  // coordinate subkey can be.
  std::set<std::pair<std::string, std::string>> seen;
  for (auto& uid : uids) {
    auto value = encode_expert_info(expert_info{uid, peer_id, address});
    if (seen.emplace(uid, std::string{}).second)
      ops.push_back(dht_store_op{uid, std::nullopt, value, expiration});
    auto prefixes = uid_prefixes(uid);
    for (size_t i = 0; i < prefixes.size(); ++i) {
      // The next coordinate is the text between this prefix and the next dot.
      auto begin = prefixes[i].size();
      auto end =
          i + 1 < prefixes.size() ? prefixes[i + 1].size() - 1 : uid.size();
      auto subkey = uid.substr(begin, end - begin);
      if (seen.emplace(prefixes[i], subkey).second)
        ops.push_back(dht_store_op{prefixes[i], subkey, value, expiration});
    }
  }
  return ops;
}

std::vector<std::string>
get_experts_keys(const std::vector<std::string>& uids) {
  return uids;
}

caf::expected<expert_info> decode_expert_value(std::string_view uid,
                                               std::string_view value) {
  auto info = decode_expert_info(value);
  if (!info)
    return info;
  if (info->uid != uid)
    return make_error(errc::malformed, "record under '" + std::string{uid} +
                                           "' names expert '" + info->uid +
                                           "'");
  return info;
}

bool uid_extends(std::string_view uid, std::string_view prefix,
                 int coordinate) {
  auto head = join_uid(prefix, coordinate);
  if (uid.size() < head.size() || uid.substr(0, head.size()) != head)
    return false;
  return uid.size() == head.size() || uid[head.size()] == uid_delimiter;
}

std::map<int, expert_info>
decode_prefix_successors(std::string_view prefix,
                         const std::map<std::string, std::string>& subkeys) {
  std::map<int, expert_info> result;
  if (!is_valid_prefix(prefix))
    return result;
  for (auto& [subkey, value] : subkeys) {
    int coordinate = 0;
    if (!parse_subkey(subkey, coordinate))
      continue;
    auto info = decode_expert_info(value);
    if (!info || !uid_extends(info->uid, prefix, coordinate))
      continue;
    result.emplace(coordinate, std::move(*info));
  }
  return result;
}

} // namespace colony::moe
