#pragma once

// A collaborative trainer's parameters in a few numbers, logged once per
// epoch so that a checker (the fault-injection harness) can tell whether the
// trainers of a run hold the same parameters at the same epoch. A hash would
// not do: an all-reduce leaves the members equal only up to rounding (each
// adds the delta `mean - own` to its own values). So the digest is the L2
// norm plus a random projection (a count sketch: each element, times a
// fixed random sign, adds to one of `parameter_sketch_size` fixed random
// buckets), whose difference between two trainers estimates the L2
// distance of their parameters. Pure: formatting, parsing and comparing only.
//
// Format, on one line after the logger's prefix:
//   collaborative-epoch t=UNIX_S epoch=E loaded=0|1 norm=N sketch=S,S,...

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace colony::trainer {

/// The marker that starts an epoch line.
constexpr std::string_view parameter_digest_marker = "collaborative-epoch ";

/// Rows of the sketch: the relative error of the distance estimate is about
/// 1/sqrt(2K), 18% at 16 rows; enough to tell rounding (1e-7) from a
/// divergence (1e-3 and up).
constexpr size_t parameter_sketch_size = 16;

/// Seed of the sketch's buckets and signs: the same in every trainer.
constexpr uint64_t parameter_sketch_seed = 0x5eed'd16e'57ull;

/// One trainer's parameters when it reached an epoch.
struct parameter_digest {
  /// Unix time (s) at which the trainer reached the epoch.
  double t = 0;
  uint64_t epoch = 0;
  /// It reached the epoch by loading the state from a peer (a late joiner,
  /// a restarted or thawed trainer) rather than by an optimizer step.
  bool loaded_state = false;
  /// L2 norm of the flat parameter vector (float64).
  double norm = 0;
  /// The sketch: `parameter_sketch_size` projections.
  std::vector<double> sketch;
};

/// The line of `d`, marker included, no newline.
[[nodiscard]] std::string format_digest_line(const parameter_digest& d);

/// The digest in `line` (anything may precede the marker); nullopt if the
/// line has no marker or a malformed field.
[[nodiscard]] std::optional<parameter_digest>
parse_digest_line(std::string_view line);

/// Estimated L2 distance of the two parameter vectors relative to the
/// larger norm: the larger of the sketch distance and the difference of the
/// norms (a lower bound of the true distance). Infinite if the sketches
/// differ in size; 0 for two zero vectors.
[[nodiscard]] double relative_distance(const parameter_digest& a,
                                       const parameter_digest& b) noexcept;

} // namespace colony::trainer
