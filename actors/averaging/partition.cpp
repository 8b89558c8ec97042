#include "actors/averaging/partition.hpp"

#include "messages/error.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

namespace colony::averaging {

namespace {

/// The weight of each member: its bandwidth, the mean of the stated ones if
/// it stated none, 0 for client mode.
caf::expected<std::vector<double>>
weights_of(const std::vector<member_capacity>& members) {
  double stated_sum = 0;
  size_t stated = 0;
  for (size_t i = 0; i < members.size(); ++i) {
    const auto& m = members[i];
    if (!m.bandwidth)
      continue;
    if (!std::isfinite(*m.bandwidth) || *m.bandwidth < 0)
      return make_error(errc::invalid_argument,
                        "bandwidth of member " + std::to_string(i) +
                            " must be finite and >= 0, got " +
                            std::to_string(*m.bandwidth));
    if (m.mode != peer_mode::client) {
      stated_sum += *m.bandwidth;
      ++stated;
    }
  }
  // Any unit will do, so a group that states nothing splits evenly.
  double fallback = stated > 0 ? stated_sum / static_cast<double>(stated) : 1;
  std::vector<double> weights(members.size(), 0);
  for (size_t i = 0; i < members.size(); ++i)
    if (members[i].mode != peer_mode::client)
      weights[i] = members[i].bandwidth.value_or(fallback);
  return weights;
}

} // namespace

caf::expected<std::vector<vector_span>>
partition_vector(uint64_t size, const std::vector<member_capacity>& members,
                 uint64_t min_vector_size) {
  auto weights = weights_of(members);
  if (!weights)
    return std::move(weights.error());
  std::vector<size_t> reducers;
  for (size_t i = 0; i < weights->size(); ++i)
    if ((*weights)[i] > 0)
      reducers.push_back(i);
  if (reducers.empty())
    return make_error(errc::invalid_argument,
                      "no member of the group can reduce (" +
                          std::to_string(members.size()) +
                          " members, all in client mode or of bandwidth 0)");
  auto total_weight = [&] {
    long double total = 0;
    for (auto i : reducers)
      total += (*weights)[i];
    return total;
  };

  // Drop the smallest reducer while its share is below the minimum: each
  // drop only grows the others' shares.
  while (reducers.size() > 1) {
    auto smallest = reducers.begin();
    for (auto it = reducers.begin(); it != reducers.end(); ++it)
      if ((*weights)[*it] <= (*weights)[*smallest])
        smallest = it; // ties: the later member goes first
    long double share =
        static_cast<long double>(size) * (*weights)[*smallest] / total_weight();
    if (share >= static_cast<long double>(min_vector_size))
      break;
    reducers.erase(smallest);
  }

  // Largest remainder: floors first, then one more element to the largest
  // fractional parts until the spans sum to `size`.
  long double total = total_weight();
  std::vector<uint64_t> counts(members.size(), 0);
  std::vector<long double> remainders(members.size(), 0);
  uint64_t assigned = 0;
  for (auto i : reducers) {
    long double quota = static_cast<long double>(size) * (*weights)[i] / total;
    long double floor = std::floor(quota);
    counts[i] = std::min<uint64_t>(static_cast<uint64_t>(floor), size);
    remainders[i] = quota - floor;
    assigned += counts[i];
  }
  // Rounding of the quotas could overshoot by an element or two.
  while (assigned > size) {
    auto largest = *std::max_element(
        reducers.begin(), reducers.end(),
        [&](size_t a, size_t b) { return counts[a] < counts[b]; });
    --counts[largest];
    --assigned;
  }
  auto by_remainder = reducers;
  std::stable_sort(
      by_remainder.begin(), by_remainder.end(),
      [&](size_t a, size_t b) { return remainders[a] > remainders[b]; });
  for (size_t k = 0; assigned < size; k = (k + 1) % by_remainder.size()) {
    ++counts[by_remainder[k]];
    ++assigned;
  }

  std::vector<vector_span> spans(members.size());
  uint64_t begin = 0;
  for (size_t i = 0; i < members.size(); ++i) {
    spans[i] = vector_span{begin, begin + counts[i]};
    begin += counts[i];
  }
  return spans;
}

std::vector<member_capacity> capacities_of(const group_info& group) {
  std::vector<member_capacity> out;
  out.reserve(group.members.size());
  for (const auto& m : group.members)
    out.push_back(member_capacity{m.bandwidth, m.mode});
  return out;
}

} // namespace colony::averaging
