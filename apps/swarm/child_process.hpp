#pragma once

#include <caf/expected.hpp>

#include <chrono>
#include <string>
#include <sys/types.h>
#include <vector>

namespace colony::apps {

/// A child process that is stopped when this object goes away: SIGTERM,
/// then SIGKILL if it does not exit within a grace period. Used by the
/// benchmarks, the tests and (later) the fault-injection harness.
class child_process {
 public:
  /// Starts `argv[0]` with `argv`; stdout/stderr go to `log_path` if given.
  static caf::expected<child_process>
  spawn(const std::vector<std::string>& argv, const std::string& log_path = {});

  child_process() = default;
  child_process(child_process&& other) noexcept;
  child_process& operator=(child_process&& other) noexcept;
  ~child_process();

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }

  /// Sends `sig` to the child.
  void signal(int sig) const;

  /// Waits up to `timeout` for the child to exit. Returns its exit status
  /// (128+signal if killed) or -1 if it is still running.
  int wait_for(std::chrono::milliseconds timeout);

  /// SIGTERM, wait up to `grace`, then SIGKILL. Returns the exit status.
  int stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

 private:
  pid_t pid_ = -1;
  int status_ = -1;
};

/// Waits until `path` holds a non-empty line and returns it (e.g. an address
/// file written by `colony run --address-file`).
caf::expected<std::string>
wait_for_file_line(const std::string& path, std::chrono::milliseconds timeout);

/// The last lines of the file at `path` (at most `max_lines`, each indented
/// by two spaces), for error messages that point at a process's log.
[[nodiscard]] std::string tail_of_file(const std::string& path,
                                       size_t max_lines = 10);

/// Path of the running executable (/proc/self/exe).
std::string self_executable();

} // namespace colony::apps
