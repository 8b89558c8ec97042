#include "actors/averaging/averager_options.hpp"

#include "actors/averaging/group_info.hpp"
#include "actors/averaging/group_key.hpp"
#include "messages/error.hpp"

#include <cmath>
#include <string>
#include <vector>

namespace colony::averaging {

round_timeouts resolve_timeouts(const averager_options& options) {
  auto chunk = options.next_chunk_timeout.value_or(default_chunk_timeout);
  round_timeouts out{options.sender_timeout.value_or(chunk),
                     options.reducer_timeout.value_or(2 * chunk),
                     options.allreduce_timeout};
  return out;
}

bool shares_state(const averager_options& options) noexcept {
  return options.allow_state_sharing.value_or(!options.client_mode &&
                                              !options.auxiliary);
}

caf::error validate(const averager_options& options) {
  std::vector<std::string> problems;
  auto check = [&](bool ok, std::string what) {
    if (!ok)
      problems.push_back(std::move(what));
  };
  if (auto err = validate_prefix(options.prefix))
    problems.push_back("prefix: " + error_reason(err));
  if (auto err = validate_group_bits(options.initial_group_bits))
    problems.push_back("initial_group_bits: " + error_reason(err));
  check(options.min_group_size >= 1 &&
            options.min_group_size <= max_group_members,
        "min_group_size must be in [1, " + std::to_string(max_group_members) +
            "], got " + std::to_string(options.min_group_size));
  if (options.target_group_size) {
    auto target = *options.target_group_size;
    check(target >= 1 && target <= max_group_members,
          "target_group_size must be in [1, " +
              std::to_string(max_group_members) + "], got " +
              std::to_string(target));
    check(target >= options.min_group_size,
          "target_group_size (" + std::to_string(target) +
              ") is below min_group_size (" +
              std::to_string(options.min_group_size) +
              "): no group could ever assemble");
  }
  using std::chrono::milliseconds;
  auto positive = [&](milliseconds d, const char* name) {
    check(d.count() > 0, std::string(name) + " must be positive, got " +
                             std::to_string(d.count()) + " ms");
  };
  check(options.min_matchmaking_time.count() >= 0,
        "min_matchmaking_time must not be negative");
  positive(options.request_timeout, "request_timeout");
  if (options.next_chunk_timeout)
    positive(*options.next_chunk_timeout, "next_chunk_timeout");
  if (options.allreduce_timeout)
    positive(*options.allreduce_timeout, "allreduce_timeout");
  if (options.sender_timeout)
    positive(*options.sender_timeout, "sender_timeout");
  if (options.reducer_timeout)
    positive(*options.reducer_timeout, "reducer_timeout");
  auto t = resolve_timeouts(options);
  check(t.reducer > t.sender,
        "reducer_timeout (" + std::to_string(t.reducer.count()) +
            " ms) must exceed sender_timeout (" +
            std::to_string(t.sender.count()) +
            " ms): a reducer excludes a silent sender only after "
            "sender_timeout, and the others must still be waiting then");
  check(std::isfinite(options.averaging_alpha) && options.averaging_alpha > 0,
        "averaging_alpha must be finite and positive, got " +
            std::to_string(options.averaging_alpha));
  check(options.part_size_bytes > 0 &&
            options.part_size_bytes <= max_part_size_bytes,
        "part_size_bytes must be in [1, " +
            std::to_string(max_part_size_bytes) + "], got " +
            std::to_string(options.part_size_bytes));
  check(options.compression.min_compressed_numel >= 0,
        "compression: min_compressed_numel must not be negative");
  for (const auto& c : options.tensor_compression)
    check(c.min_compressed_numel >= 0,
          "tensor_compression: min_compressed_numel must not be negative");
  if (options.bandwidth)
    check(std::isfinite(*options.bandwidth) && *options.bandwidth >= 0,
          "bandwidth must be finite and not negative, got " +
              std::to_string(*options.bandwidth));
  check(!(options.client_mode && options.auxiliary),
        "client_mode and auxiliary exclude each other: an auxiliary peer "
        "reduces for others, which must be able to call it");
  check(!(options.client_mode && options.allow_state_sharing.value_or(false)),
        "allow_state_sharing needs incoming calls, which client_mode refuses");
  positive(options.declare_state_period, "declare_state_period");
  if (problems.empty())
    return {};
  std::string text = "invalid averager options:";
  for (auto& p : problems)
    text += "\n  " + p;
  return make_error(errc::invalid_argument, std::move(text));
}

} // namespace colony::averaging
