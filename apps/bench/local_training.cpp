#include "apps/bench/local_training.hpp"

#include "actors/trainer/training_loop.hpp"
#include "messages/error.hpp"

#include <chrono>
#include <fstream>

namespace colony::apps {

caf::expected<local_training_outcome>
train_locally(const trainer::trainer_options& options, uint64_t steps) {
  auto began = std::chrono::steady_clock::now();
  auto loop = trainer::training_loop::make(options, {});
  if (!loop)
    return loop.error();
  for (uint64_t i = 0; i < steps; ++i)
    if (auto step = (*loop)->step(); !step)
      return step.error();
  auto ev = (*loop)->evaluate(0);
  if (!ev)
    return ev.error();
  local_training_outcome out;
  out.accuracy = ev->accuracy;
  out.steps = (*loop)->steps();
  out.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began)
          .count();
  return out;
}

caf::error write_text_file(const std::string& path, const std::string& text) {
  std::ofstream out{path};
  out << text;
  if (!out)
    return make_error(errc::io_error, "cannot write " + path);
  return {};
}

} // namespace colony::apps
