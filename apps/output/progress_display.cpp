#include "apps/output/progress_display.hpp"

#include <algorithm>
#include <cmath>
#include <sys/ioctl.h>
#include <unistd.h>

namespace colony::apps {

namespace {

/// Columns of the terminal on `fd`, or a default that fits most.
size_t terminal_width(int fd) {
  winsize ws{};
  if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10)
    return ws.ws_col;
  return 120;
}

std::string printf_string(const char* format, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), format, value);
  return buffer;
}

std::string steps_text(const progress_view& v) {
  auto text = std::to_string(v.step);
  if (v.total_steps > 0)
    text += "/" + std::to_string(v.total_steps);
  return text;
}

/// The figures after the step count, shared by both forms.
std::string figures(const progress_view& v, bool with_failures) {
  std::string text = format_duration(v.elapsed_s);
  if (v.total_s > 0)
    text += "/" + format_duration(v.total_s);
  text += "  loss " + printf_string("%.3f", v.train_loss);
  text += "  " + printf_string("%.0f", v.samples_per_s) + " samples/s";
  if (v.epoch) {
    text += "  epoch " + std::to_string(*v.epoch);
    if (v.swarm_samples_per_s > 0)
      text += " (swarm " + printf_string("%.0f", v.swarm_samples_per_s) +
              " samples/s)";
  }
  text += "  " + std::to_string(v.live_experts) + " experts";
  if (with_failures || v.failed_calls > 0)
    text += "  failed " + printf_string("%.1f", 100 * v.failed_calls) + "%";
  if (v.test_accuracy)
    text += "  acc " + printf_string("%.2f", 100 * *v.test_accuracy) + "%";
  return text;
}

} // namespace

std::string format_duration(double seconds) {
  auto total = static_cast<long long>(std::max(0.0, std::floor(seconds)));
  auto h = total / 3600;
  auto m = (total % 3600) / 60;
  auto s = total % 60;
  char buffer[32];
  if (h > 0)
    std::snprintf(buffer, sizeof(buffer), "%lld:%02lld:%02lld", h, m, s);
  else
    std::snprintf(buffer, sizeof(buffer), "%lld:%02lld", m, s);
  return buffer;
}

std::optional<double> progress_fraction(const progress_view& v) {
  std::optional<double> fraction;
  if (v.total_steps > 0)
    fraction = static_cast<double>(v.step) / static_cast<double>(v.total_steps);
  if (v.total_s > 0)
    fraction = std::max(fraction.value_or(0.0), v.elapsed_s / v.total_s);
  if (fraction)
    fraction = std::clamp(*fraction, 0.0, 1.0);
  return fraction;
}

std::string format_progress_bar(const progress_view& v, size_t bar_width,
                                size_t width) {
  std::string text = v.label.empty() ? "" : v.label + " ";
  if (auto fraction = progress_fraction(v)) {
    auto filled = static_cast<size_t>(
        std::lround(*fraction * static_cast<double>(bar_width)));
    text += "[" + std::string(filled, '#') +
            std::string(bar_width - filled, '.') + "] ";
  }
  text += steps_text(v) + " steps  " + figures(v, false);
  if (text.size() > width)
    text.resize(width);
  return text;
}

std::string format_progress_line(const progress_view& v) {
  std::string text = v.label.empty() ? "" : v.label + " ";
  return text + "step " + steps_text(v) + "  " + figures(v, true);
}

bool stdout_is_terminal() {
  return ::isatty(STDOUT_FILENO) == 1;
}

progress_display::progress_display(std::FILE* out, bool interactive,
                                   std::chrono::milliseconds plain_interval)
    : out_(out), interactive_(interactive), plain_interval_(plain_interval) {}

void progress_display::update(const std::vector<progress_view>& views,
                              bool important, clock::time_point now) {
  if (finished_)
    return;
  if (interactive_) {
    draw(views);
    return;
  }
  pending_ = views;
  if (!important && last_plain_ && now - *last_plain_ < plain_interval_)
    return;
  last_plain_ = now;
  for (const auto& v : pending_)
    std::fprintf(out_, "%s\n", format_progress_line(v).c_str());
  pending_.clear();
  std::fflush(out_);
}

void progress_display::draw(const std::vector<progress_view>& views) {
  // Back to the first line drawn last time, then overwrite each line.
  if (drawn_lines_ > 1)
    std::fprintf(out_, "\x1b[%zuA", drawn_lines_ - 1);
  auto width = terminal_width(fileno(out_)) - 1;
  for (size_t i = 0; i < views.size(); ++i) {
    std::fprintf(out_, "\r%s\x1b[K%s",
                 format_progress_bar(views[i], 24, width).c_str(),
                 i + 1 < views.size() ? "\n" : "");
  }
  drawn_lines_ = views.size();
  std::fflush(out_);
}

void progress_display::finish() {
  if (finished_)
    return;
  finished_ = true;
  if (interactive_) {
    if (drawn_lines_ > 0)
      std::fprintf(out_, "\n");
  } else {
    for (const auto& v : pending_)
      std::fprintf(out_, "%s\n", format_progress_line(v).c_str());
  }
  std::fflush(out_);
}

} // namespace colony::apps
