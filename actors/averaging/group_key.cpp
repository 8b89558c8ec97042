#include "actors/averaging/group_key.hpp"

#include "messages/error.hpp"

#include <numeric>

namespace colony::averaging {

namespace {

/// SplitMix64 (Steele, Lea, Flood 2014), seeded by a group id; the exact
/// steps are part of the protocol (see draw_buckets in the header).
class group_rng {
 public:
  explicit group_rng(const group_id& id) noexcept {
    for (size_t word = 0; word < id.size() / 8; ++word) {
      uint64_t w = 0;
      for (size_t b = 0; b < 8; ++b)
        w |= static_cast<uint64_t>(id[word * 8 + b]) << (8 * b);
      state_ = mix(state_ ^ w);
    }
  }

  uint64_t next() noexcept {
    state_ += 0x9e3779b97f4a7c15ull;
    return mix(state_);
  }

  /// Uniform in [0, n), n > 0.
  uint64_t below(uint64_t n) noexcept {
    uint64_t threshold = (0 - n) % n; // 2^64 mod n
    for (;;) {
      uint64_t r = next();
      if (r >= threshold)
        return r % n;
    }
  }

 private:
  static uint64_t mix(uint64_t z) noexcept {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

  uint64_t state_ = 0;
};

/// Bits that index `buckets` buckets: ceil(log2(buckets)).
size_t index_bits(size_t buckets) noexcept {
  size_t n = 0;
  while ((size_t{1} << n) < buckets)
    ++n;
  return n;
}

} // namespace

caf::error validate_group_bits(std::string_view bits) {
  if (bits.size() > max_group_bits)
    return make_error(errc::invalid_argument,
                      "group bits longer than " +
                          std::to_string(max_group_bits) + " characters");
  for (char c : bits)
    if (c != '0' && c != '1')
      return make_error(errc::invalid_argument,
                        "group bits must be '0' and '1' only, got \"" +
                            std::string{bits} + "\"");
  return {};
}

caf::error validate_prefix(std::string_view prefix) {
  if (prefix.empty())
    return make_error(errc::invalid_argument, "averaging prefix is empty");
  if (prefix.size() > max_prefix_size)
    return make_error(errc::invalid_argument,
                      "averaging prefix longer than " +
                          std::to_string(max_prefix_size) + " bytes");
  // The key's '.' separates the prefix from the bits.
  if (prefix.find('.') != std::string_view::npos)
    return make_error(errc::invalid_argument,
                      "averaging prefix must not contain '.', got \"" +
                          std::string{prefix} + "\"");
  return {};
}

caf::expected<std::string> make_group_key(std::string_view prefix,
                                          std::string_view bits) {
  if (auto err = validate_prefix(prefix))
    return err;
  if (auto err = validate_group_bits(bits))
    return err;
  std::string key{prefix};
  key += ".0b";
  key += bits;
  return key;
}

size_t moshpit_buckets(size_t group_size,
                       std::optional<size_t> target_group_size) {
  if (target_group_size)
    return *target_group_size;
  return size_t{1} << index_bits(group_size);
}

caf::expected<std::vector<size_t>>
draw_buckets(const group_id& id, size_t group_size, size_t buckets) {
  if (buckets > max_moshpit_buckets)
    return make_error(errc::invalid_argument,
                      std::to_string(buckets) + " Moshpit buckets, at most " +
                          std::to_string(max_moshpit_buckets));
  if (group_size > buckets)
    return make_error(errc::invalid_argument,
                      "a group of " + std::to_string(group_size) +
                          " cannot draw distinct indices from " +
                          std::to_string(buckets) + " buckets");
  std::vector<size_t> pool(buckets);
  std::iota(pool.begin(), pool.end(), size_t{0});
  group_rng rng{id};
  for (size_t i = 0; i < group_size; ++i)
    std::swap(pool[i], pool[i + rng.below(buckets - i)]);
  pool.resize(group_size);
  return pool;
}

caf::expected<std::string>
next_group_bits(std::string_view bits, const group_id& id, size_t index,
                size_t group_size, std::optional<size_t> target_group_size) {
  if (auto err = validate_group_bits(bits))
    return err;
  if (index >= group_size)
    return make_error(errc::invalid_argument,
                      "member index " + std::to_string(index) +
                          " outside a group of " + std::to_string(group_size));
  auto buckets = moshpit_buckets(group_size, target_group_size);
  auto drawn = draw_buckets(id, group_size, buckets);
  if (!drawn)
    return std::move(drawn.error());
  if (bits.empty())
    return std::string{};
  auto width = index_bits(buckets);
  std::string shifted{bits};
  for (size_t b = width; b-- > 0;)
    shifted += ((*drawn)[index] >> b) & 1 ? '1' : '0';
  return shifted.substr(shifted.size() - bits.size());
}

caf::expected<std::string>
next_group_bits(std::string_view bits, const group_info& group,
                const peer_id& self, std::optional<size_t> target_group_size) {
  auto index = group.index_of(self);
  if (!index)
    return make_error(errc::invalid_argument,
                      "peer " + self.short_id() + " is not in the group");
  return next_group_bits(bits, group.id, *index, group.members.size(),
                         target_group_size);
}

} // namespace colony::averaging
