#pragma once

// Progress of one or more trainers on stdout: on a terminal, one line per
// trainer redrawn in place (bar, steps, time, loss, samples/s, live
// experts, accuracy); otherwise plain lines, at most one per interval plus
// every evaluation, so logs stay readable.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

namespace colony::apps {

/// What one progress line shows.
struct progress_view {
  std::string label;
  uint64_t step = 0;
  /// 0: unknown.
  uint64_t total_steps = 0;
  double elapsed_s = 0;
  /// 0: unknown.
  double total_s = 0;
  double train_loss = 0;
  double samples_per_s = 0;
  uint32_t live_experts = 0;
  /// Share of failed expert calls, [0, 1].
  double failed_calls = 0;
  std::optional<double> test_accuracy;
  /// Collaborative training: the epoch and the swarm's samples per second.
  std::optional<uint64_t> epoch;
  double swarm_samples_per_s = 0;
};

/// `65` -> `1:05`, `3725` -> `1:02:05`.
[[nodiscard]] std::string format_duration(double seconds);

/// The share of the run done: the larger of steps and time against their
/// totals, in [0, 1]; nullopt if neither total is known.
[[nodiscard]] std::optional<double> progress_fraction(const progress_view& v);

/// A terminal line: `LABEL [#####.....] 420/1000 steps 1:05 loss 0.512 ...`
/// (the bar only when a total is known), at most `width` characters.
[[nodiscard]] std::string format_progress_bar(const progress_view& v,
                                              size_t bar_width, size_t width);

/// A log line: `LABEL step 420/1000 1:05 loss 0.512 1830 samples/s
/// 32 experts failed 0.0% acc 84.10%`.
[[nodiscard]] std::string format_progress_line(const progress_view& v);

/// True if stdout is a terminal.
[[nodiscard]] bool stdout_is_terminal();

class progress_display {
 public:
  using clock = std::chrono::steady_clock;

  /// Writes to `out`; `interactive` redraws in place (a terminal), else
  /// plain lines at most every `plain_interval`.
  progress_display(
      std::FILE* out, bool interactive,
      std::chrono::milliseconds plain_interval = std::chrono::seconds(10));

  progress_display(const progress_display&) = delete;
  progress_display& operator=(const progress_display&) = delete;

  /// Shows `views` (one per trainer). `important` (e.g. an evaluation)
  /// forces a plain line out now. `now` is for tests.
  void update(const std::vector<progress_view>& views, bool important,
              clock::time_point now = clock::now());

  /// Ends the display: the last state stays on screen (interactive) or is
  /// printed once more if not yet (plain).
  void finish();

 private:
  void draw(const std::vector<progress_view>& views);

  std::FILE* out_;
  bool interactive_;
  std::chrono::milliseconds plain_interval_;
  std::optional<clock::time_point> last_plain_;
  size_t drawn_lines_ = 0;
  std::vector<progress_view> pending_; // not yet printed (plain mode)
  bool finished_ = false;
};

} // namespace colony::apps
