#include "apps/bench/moshpit_grid.hpp"

#include "actors/averaging/group_key.hpp"
#include "messages/error.hpp"

namespace colony::apps {

caf::expected<moshpit_grid> make_moshpit_grid(size_t peers, size_t group_size) {
  if (group_size < 2 || (group_size & (group_size - 1)) != 0)
    return make_error(errc::invalid_argument,
                      "group size must be a power of two >= 2, got " +
                          std::to_string(group_size));
  if (peers < 2)
    return make_error(errc::invalid_argument, "a grid needs 2 peers or more");
  moshpit_grid grid;
  while ((size_t{1} << grid.coordinate_bits) < group_size)
    ++grid.coordinate_bits;
  size_t capacity = group_size;
  while (capacity < peers) {
    capacity *= group_size;
    ++grid.dims;
  }
  grid.key_bits = (grid.dims - 1) * grid.coordinate_bits;
  if (grid.key_bits > averaging::max_group_bits)
    return make_error(errc::invalid_argument, "grid keys too long");
  return grid;
}

std::string initial_bits(const moshpit_grid& grid, size_t index) {
  auto row = index >> grid.coordinate_bits;
  std::string bits(grid.key_bits, '0');
  for (size_t b = 0; b < grid.key_bits; ++b)
    if (b < 64 && ((row >> b) & 1) != 0)
      bits[grid.key_bits - 1 - b] = '1';
  return bits;
}

} // namespace colony::apps
