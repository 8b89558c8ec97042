#include "actors/trainer/expert_grid.hpp"

#include "actors/moe/expert_uid.hpp"
#include "messages/error.hpp"

namespace colony::trainer {

caf::expected<expert_grid> parse_expert_grid(std::string_view pattern) {
  auto parsed = moe::expert_pattern::parse(pattern);
  if (!parsed)
    return parsed.error();
  expert_grid grid;
  grid.uid_prefix = parsed->name() + ".";
  for (const auto& [begin, end] : parsed->ranges()) {
    // The gating layer has one logit per coordinate, counted from 0.
    if (begin != 0)
      return make_error(errc::invalid_argument,
                        "grid '" + std::string{pattern} +
                            "': every dimension must be a range [0:N]");
    grid.size.push_back(end);
  }
  return grid;
}

} // namespace colony::trainer
