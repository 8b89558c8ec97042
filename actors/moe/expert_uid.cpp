#include "actors/moe/expert_uid.hpp"

#include "messages/error.hpp"

#include <algorithm>
#include <limits>

namespace colony::moe {

namespace {

bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

// Parses one coordinate: digits only, no leading zero, at most
// max_uid_coordinate. Returns nullptr on success, else the reason.
const char* parse_coordinate(std::string_view digits, int& out) noexcept {
  if (digits.empty())
    return "empty coordinate";
  if (digits.size() > 1 && digits.front() == '0')
    return "coordinate with a leading zero";
  int64_t value = 0;
  for (char c : digits) {
    if (!is_digit(c))
      return "coordinate that is not a non-negative integer";
    value = value * 10 + (c - '0');
    if (value > max_uid_coordinate)
      return "coordinate above 2147483647";
  }
  out = static_cast<int>(value);
  return nullptr;
}

// Walks `text` as a uid (`as_prefix` false) or a prefix (true). Fills `out`
// if given. Returns nullptr on success, else the reason.
const char* scan(std::string_view text, bool as_prefix,
                 parsed_uid* out) noexcept {
  auto dot = text.find(uid_delimiter);
  if (dot == std::string_view::npos)
    return as_prefix ? "no '.' after the name" : "no coordinates";
  if (dot == 0)
    return "empty name";
  if (out)
    out->name.assign(text.data(), dot);
  auto rest = text.substr(dot + 1);
  if (rest.empty())
    return as_prefix ? nullptr : "no coordinate after the last '.'";
  for (;;) {
    auto next = rest.find(uid_delimiter);
    auto part = rest.substr(0, next);
    int coordinate = 0;
    if (auto why = parse_coordinate(part, coordinate))
      return why;
    if (out)
      out->coordinates.push_back(coordinate);
    if (next == std::string_view::npos)
      return as_prefix ? "no '.' at the end" : nullptr;
    rest = rest.substr(next + 1);
    if (rest.empty())
      return as_prefix ? nullptr : "no coordinate after the last '.'";
  }
}

caf::error bad_pattern(std::string_view pattern, const std::string& why) {
  return make_error(errc::invalid_argument, "bad expert pattern '" +
                                                std::string{pattern} +
                                                "': " + why);
}

} // namespace

bool is_valid_uid(std::string_view uid) noexcept {
  return scan(uid, false, nullptr) == nullptr;
}

bool is_valid_prefix(std::string_view prefix) noexcept {
  return scan(prefix, true, nullptr) == nullptr;
}

caf::expected<parsed_uid> parse_uid(std::string_view uid) {
  parsed_uid result;
  if (auto why = scan(uid, false, &result))
    return make_error(errc::invalid_argument,
                      "bad expert uid '" + std::string{uid} + "': " + why +
                          " (expected NAME.N[.N...])");
  return result;
}

std::optional<std::vector<int>> parse_coordinates(std::string_view text) {
  std::vector<int> result;
  for (;;) {
    auto next = text.find(uid_delimiter);
    int coordinate = 0;
    if (parse_coordinate(text.substr(0, next), coordinate) != nullptr)
      return std::nullopt;
    result.push_back(coordinate);
    if (next == std::string_view::npos)
      return result;
    text = text.substr(next + 1);
  }
}

std::vector<std::string> uid_prefixes(std::string_view uid) {
  std::vector<std::string> result;
  if (!is_valid_uid(uid))
    return result;
  // Every dot ends a prefix; the uid itself ends with a coordinate.
  for (size_t i = 0; i < uid.size(); ++i)
    if (uid[i] == uid_delimiter)
      result.emplace_back(uid.substr(0, i + 1));
  return result;
}

std::string join_uid(std::string_view prefix, int coordinate) {
  std::string result{prefix};
  result += std::to_string(coordinate);
  return result;
}

std::string child_prefix(std::string_view prefix, int coordinate) {
  auto result = join_uid(prefix, coordinate);
  result += uid_delimiter;
  return result;
}

// -- expert_pattern -----------------------------------------------------------

caf::expected<expert_pattern> expert_pattern::parse(std::string_view text) {
  expert_pattern result;
  auto dot = text.find(uid_delimiter);
  if (dot == 0)
    return bad_pattern(text, "empty name");
  if (dot == std::string_view::npos || dot + 1 == text.size())
    return bad_pattern(text, "no coordinates (expected NAME.[0:N] or NAME.N)");
  result.name_.assign(text.data(), dot);
  if (result.name_.find_first_of("[]:") != std::string::npos)
    return bad_pattern(text, "the name must not contain '[', ']' or ':'");
  auto rest = text.substr(dot + 1);
  for (;;) {
    auto next = rest.find(uid_delimiter);
    auto part = rest.substr(0, next);
    if (!part.empty() && part.front() == '[') {
      auto colon = part.find(':');
      if (part.back() != ']' || colon == std::string_view::npos)
        return bad_pattern(text, "'" + std::string{part} +
                                     "' is not a range [BEGIN:END]");
      auto first_text = part.substr(1, colon - 1);
      auto last_text = part.substr(colon + 1, part.size() - colon - 2);
      int first = 0;
      int last = 0;
      if (auto why = parse_coordinate(first_text, first))
        return bad_pattern(text, "range '" + std::string{part} + "': " + why);
      if (auto why = parse_coordinate(last_text, last))
        return bad_pattern(text, "range '" + std::string{part} + "': " + why);
      if (first >= last)
        return bad_pattern(text, "range '" + std::string{part} +
                                     "' is empty (END must exceed BEGIN)");
      result.ranges_.emplace_back(first, last);
    } else {
      int fixed = 0;
      if (auto why = parse_coordinate(part, fixed))
        return bad_pattern(text, "'" + std::string{part} + "': " + why);
      if (fixed == max_uid_coordinate)
        return bad_pattern(text, "coordinate too large");
      result.ranges_.emplace_back(fixed, fixed + 1);
    }
    if (next == std::string_view::npos)
      break;
    rest = rest.substr(next + 1);
  }
  return result;
}

uint64_t expert_pattern::size() const noexcept {
  uint64_t total = 1;
  constexpr auto limit = std::numeric_limits<uint64_t>::max();
  for (auto& [first, last] : ranges_) {
    auto width = static_cast<uint64_t>(last - first);
    if (total > limit / width)
      return limit;
    total *= width;
  }
  return total;
}

bool expert_pattern::contains(std::string_view uid) const {
  parsed_uid parsed;
  if (scan(uid, false, &parsed) != nullptr || parsed.name != name_ ||
      parsed.coordinates.size() != ranges_.size())
    return false;
  for (size_t i = 0; i < ranges_.size(); ++i)
    if (parsed.coordinates[i] < ranges_[i].first ||
        parsed.coordinates[i] >= ranges_[i].second)
      return false;
  return true;
}

std::string expert_pattern::uid_at(uint64_t index) const {
  // Mixed radix, last dimension least significant.
  std::vector<int> coordinates(ranges_.size());
  for (size_t i = ranges_.size(); i-- > 0;) {
    auto width = static_cast<uint64_t>(ranges_[i].second - ranges_[i].first);
    coordinates[i] = ranges_[i].first + static_cast<int>(index % width);
    index /= width;
  }
  std::string uid = name_;
  for (int c : coordinates) {
    uid += uid_delimiter;
    uid += std::to_string(c);
  }
  return uid;
}

caf::expected<std::vector<std::string>>
expert_pattern::expand(size_t max_uids) const {
  auto total = size();
  if (total > max_uids)
    return make_error(errc::too_large, "expert pattern spans " +
                                           std::to_string(total) +
                                           " uids, more than the bound " +
                                           std::to_string(max_uids));
  std::vector<std::string> result;
  result.reserve(static_cast<size_t>(total));
  for (uint64_t i = 0; i < total; ++i)
    result.push_back(uid_at(i));
  return result;
}

caf::expected<std::vector<std::string>>
expand_expert_pattern(std::string_view pattern, size_t max_uids) {
  auto parsed = expert_pattern::parse(pattern);
  if (!parsed)
    return std::move(parsed.error());
  return parsed->expand(max_uids);
}

caf::expected<std::vector<std::string>>
sample_expert_uids(std::string_view pattern, size_t count, std::mt19937_64& rng,
                   const std::unordered_set<std::string>& taken) {
  auto parsed = expert_pattern::parse(pattern);
  if (!parsed)
    return std::move(parsed.error());
  auto total = parsed->size();
  uint64_t taken_inside = 0;
  for (auto& uid : taken)
    if (parsed->contains(uid))
      ++taken_inside;
  auto free = total - taken_inside;
  if (free < count)
    return make_error(errc::invalid_argument,
                      "expert pattern '" + std::string{pattern} + "' has " +
                          std::to_string(free) + " free uids (" +
                          std::to_string(taken_inside) +
                          " taken), fewer than the " + std::to_string(count) +
                          " asked for");
  std::vector<std::string> result;
  result.reserve(count);
  // Small or crowded patterns: partial Fisher-Yates over the free uids, so
  // the draw needs no retries. A crowded pattern is small, since `taken`
  // holds over half of it; a large draw is at least a quarter of it.
  constexpr uint64_t enumerate_bound = uint64_t{1} << 20;
  if (total <= enumerate_bound || free < total / 2 || count > free / 2) {
    std::vector<uint64_t> candidates;
    candidates.reserve(static_cast<size_t>(free));
    for (uint64_t i = 0; i < total; ++i)
      if (taken_inside == 0 || taken.count(parsed->uid_at(i)) == 0)
        candidates.push_back(i);
    for (size_t i = 0; i < count; ++i) {
      std::uniform_int_distribution<size_t> pick{i, candidates.size() - 1};
      std::swap(candidates[i], candidates[pick(rng)]);
      result.push_back(parsed->uid_at(candidates[i]));
    }
    return result;
  }
  // Large, mostly free patterns and small draws: rejection sampling; each
  // draw succeeds with probability above 1/4.
  std::unordered_set<uint64_t> drawn;
  std::uniform_int_distribution<uint64_t> pick{0, total - 1};
  while (result.size() < count) {
    auto index = pick(rng);
    if (!drawn.insert(index).second)
      continue;
    auto uid = parsed->uid_at(index);
    if (taken.count(uid) == 0)
      result.push_back(std::move(uid));
  }
  return result;
}

} // namespace colony::moe
