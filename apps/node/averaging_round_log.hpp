#pragma once

// One line per step of a hosted averager, in the node's log, that a
// checker (the harness) reads back: the group, this member's weight, and
// the sums of its flat vector over each member's span before and after the
// round. With the sums of every member of a group, a reader can tell
// whether each span holds the weighted mean of some set of contributors, or
// its own value. Pure: formatting and parsing only.
//
// Format, on one line after the logger's prefix (fields separated by one
// space, `error=` last and taking the rest of the line):
//   averaging-round t=UNIX_S prefix=P peer=ID ok=1 group=HEX index=I
//     weight=W members=ID,ID,... pre=S,S,... post=S,S,... averaged=A kept=K
//   averaging-round t=UNIX_S prefix=P peer=ID ok=0 error=TEXT

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace colony {

/// The marker that starts a round line.
constexpr std::string_view averaging_round_marker = "averaging-round ";

/// What one step of a hosted averager did.
struct averaging_round_record {
  /// Unix time (s) at which the step ended.
  double t = 0;
  std::string prefix;
  /// This node's peer id.
  std::string peer;
  bool ok = false;
  /// Why the step failed (ok = false).
  std::string error;
  /// The group id, hex; the members' peer ids in group order; this node's
  /// position among them.
  std::string group;
  std::vector<std::string> members;
  size_t index = 0;
  double weight = 1;
  /// Per member span (group order): the sum of this node's elements over
  /// it before and after the round (float64).
  std::vector<double> pre;
  std::vector<double> post;
  size_t averaged_parts = 0;
  size_t kept_parts = 0;
};

/// The line of `record`, marker included, no newline.
[[nodiscard]] std::string format_round_line(const averaging_round_record& r);

/// The record in `line` (anything may precede the marker); nullopt if the
/// line has no marker or a malformed field.
[[nodiscard]] std::optional<averaging_round_record>
parse_round_line(std::string_view line);

} // namespace colony
