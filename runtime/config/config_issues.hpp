#pragma once

// The one collector of problems for every reader of a TOML config (node
// configs, swarm specs, harness scenarios): each problem with its place, all
// of them reported at once so a user fixes a file in one round.

#include <caf/error.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace colony {

/// Where a config value was written: `SOURCE:LINE:COLUMN` in a file, the
/// file as a whole (`SOURCE`, line 0), or a command-line override such as
/// `--set node.listen`.
struct config_place {
  std::string source;
  /// 1-based; 0 for the whole source or an override.
  uint32_t line = 0;
  uint32_t column = 0;
  /// Overrides are reported after every problem of the file.
  bool from_override = false;

  /// The place where `region` (toml++'s `source_region`, or anything with
  /// `begin.line` and `begin.column`) begins in `source`.
  template <class Region>
  [[nodiscard]] static config_place in(std::string source,
                                       const Region& region) {
    return config_place{std::move(source), region.begin.line,
                        region.begin.column, false};
  }

  /// The place of a command-line override named `name` (`--set KEY`).
  [[nodiscard]] static config_place of_override(std::string name) {
    return config_place{std::move(name), 0, 0, true};
  }

  /// `SOURCE:LINE:COLUMN`, or `SOURCE` alone when there is no line.
  [[nodiscard]] std::string text() const;
};

/// Collects the problems of one config. Not thread-safe.
class config_issues {
 public:
  /// Most problems reported in one error; the rest are counted.
  static constexpr size_t max_reported = 20;

  /// A collector for the problems of the file `source` (named by `place`
  /// and `add_at`); empty when places are always given whole.
  explicit config_issues(std::string source = {})
      : source_(std::move(source)) {}

  /// The file the collector was made for.
  [[nodiscard]] const std::string& source() const noexcept { return source_; }

  /// The place where `region` (a toml++ `source_region`) begins in
  /// `source()`.
  template <class Region>
  [[nodiscard]] config_place place(const Region& region) const {
    return config_place::in(source_, region);
  }

  /// Records a problem at `region` of `source()`.
  template <class Region>
  void add_at(const Region& region, std::string reason) {
    add(place(region), std::move(reason));
  }

  /// Records that the value at `where` is wrong because of `reason`.
  void add(config_place where, std::string reason);

  /// Moves every problem of `other` into this collector.
  void append(config_issues&& other);

  [[nodiscard]] bool empty() const noexcept { return issues_.empty(); }
  [[nodiscard]] size_t size() const noexcept { return issues_.size(); }

  /// One line per problem, `PLACE: reason`: file problems first, in file
  /// order (problems of the whole file before those of a line), then
  /// override problems in the order they were found. At most `max_reported`
  /// lines, then a count of the rest.
  [[nodiscard]] std::string text() const;

  /// `errc::bad_config` with `text()` as its reason.
  [[nodiscard]] caf::error to_error() const;

 private:
  std::string source_;
  std::vector<std::pair<config_place, std::string>> issues_;
};

} // namespace colony
