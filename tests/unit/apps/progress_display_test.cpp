#include "apps/output/progress_display.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace colony::apps {
namespace {

progress_view sample_view() {
  progress_view v;
  v.label = "trainer-1";
  v.step = 420;
  v.total_steps = 1000;
  v.elapsed_s = 65;
  v.train_loss = 0.5123;
  v.samples_per_s = 1830.4;
  v.live_experts = 32;
  v.test_accuracy = 0.841;
  return v;
}

/// What `body` wrote to a temporary FILE.
template <class F>
std::string captured(F body) {
  std::FILE* f = std::tmpfile();
  body(f);
  std::fflush(f);
  std::rewind(f);
  std::string text;
  for (int c = std::fgetc(f); c != EOF; c = std::fgetc(f))
    text += static_cast<char>(c);
  std::fclose(f);
  return text;
}

TEST(progress_display, formats_durations) {
  EXPECT_EQ(format_duration(0), "0:00");
  EXPECT_EQ(format_duration(65.9), "1:05");
  EXPECT_EQ(format_duration(3725), "1:02:05");
  EXPECT_EQ(format_duration(-3), "0:00");
}

TEST(progress_display, fraction_takes_the_larger_of_steps_and_time) {
  auto v = sample_view();
  EXPECT_DOUBLE_EQ(*progress_fraction(v), 0.42);
  v.total_s = 100;
  EXPECT_DOUBLE_EQ(*progress_fraction(v), 0.65);
  v.total_steps = 0;
  v.total_s = 0;
  EXPECT_FALSE(progress_fraction(v));
  v.total_steps = 10; // past the end: full
  EXPECT_DOUBLE_EQ(*progress_fraction(v), 1.0);
}

TEST(progress_display, bar_and_plain_lines) {
  auto v = sample_view();
  EXPECT_EQ(format_progress_bar(v, 10, 200),
            "trainer-1 [####......] 420/1000 steps  1:05  loss 0.512  1830 "
            "samples/s  32 experts  acc 84.10%");
  EXPECT_EQ(format_progress_line(v),
            "trainer-1 step 420/1000  1:05  loss 0.512  1830 samples/s  32 "
            "experts  failed 0.0%  acc 84.10%");
  v.total_steps = 0;
  v.test_accuracy.reset();
  v.failed_calls = 0.125;
  EXPECT_EQ(format_progress_bar(v, 10, 200),
            "trainer-1 420 steps  1:05  loss 0.512  1830 samples/s  32 experts"
            "  failed 12.5%");
  EXPECT_EQ(format_progress_bar(v, 10, 12).size(), 12u);
}

TEST(progress_display, plain_mode_limits_lines_but_not_evaluations) {
  using clock = progress_display::clock;
  auto t0 = clock::now();
  auto text = captured([&](std::FILE* f) {
    progress_display d(f, false, std::chrono::seconds(10));
    auto v = sample_view();
    d.update({v}, false, t0); // printed
    v.step = 430;
    d.update({v}, false, t0 + std::chrono::seconds(1)); // held back
    v.step = 440;
    d.update({v}, true, t0 + std::chrono::seconds(2)); // evaluation
    v.step = 450;
    d.update({v}, false, t0 + std::chrono::seconds(3)); // held back
    d.finish();                                         // printed
  });
  EXPECT_NE(text.find("step 420/1000"), std::string::npos);
  EXPECT_EQ(text.find("step 430/1000"), std::string::npos);
  EXPECT_NE(text.find("step 440/1000"), std::string::npos);
  EXPECT_NE(text.find("step 450/1000"), std::string::npos);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3);
}

TEST(progress_display, interactive_mode_redraws_lines_in_place) {
  auto text = captured([&](std::FILE* f) {
    progress_display d(f, true);
    auto a = sample_view();
    auto b = sample_view();
    b.label = "trainer-2";
    d.update({a, b}, false);
    d.update({a, b}, false);
    d.finish();
  });
  EXPECT_NE(text.find("\r"), std::string::npos);
  EXPECT_NE(text.find("\x1b[1A"), std::string::npos); // back up one line
  EXPECT_NE(text.find("trainer-2"), std::string::npos);
  EXPECT_EQ(text.back(), '\n');
}

} // namespace
} // namespace colony::apps
