#include "runtime/log_tally.hpp"

#include <atomic>
#include <memory>

namespace colony {

namespace {

std::atomic<uint64_t> warnings_seen{0};
std::atomic<uint64_t> errors_seen{0};

// Counts with atomics only: loggers of many actors write at once, and a
// count needs no formatting, so the sink takes no lock.
class tally_sink final : public spdlog::sinks::sink {
 public:
  void log(const spdlog::details::log_msg& msg) override {
    if (msg.level >= spdlog::level::err)
      errors_seen.fetch_add(1, std::memory_order_relaxed);
    else if (msg.level == spdlog::level::warn)
      warnings_seen.fetch_add(1, std::memory_order_relaxed);
  }
  void flush() override {}
  void set_pattern(const std::string&) override {}
  void set_formatter(std::unique_ptr<spdlog::formatter>) override {}
};

} // namespace

log_tally process_log_tally() noexcept {
  return {warnings_seen.load(std::memory_order_relaxed),
          errors_seen.load(std::memory_order_relaxed)};
}

spdlog::sink_ptr log_tally_sink() {
  static const spdlog::sink_ptr sink = std::make_shared<tally_sink>();
  return sink;
}

} // namespace colony
