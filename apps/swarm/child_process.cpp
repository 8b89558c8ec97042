#include "apps/swarm/child_process.hpp"

#include "messages/error.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <fstream>
#include <spawn.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace colony::apps {

caf::expected<child_process>
child_process::spawn(const std::vector<std::string>& argv,
                     const std::string& log_path) {
  if (argv.empty())
    return make_error(errc::invalid_argument, "empty command");
  std::vector<char*> args;
  for (auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (!log_path.empty()) {
    posix_spawn_file_actions_addopen(&actions, 1, log_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
  }
  // The child must not inherit blocked shutdown signals.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  // A process group of its own: a Ctrl-C at the terminal reaches only the
  // parent, which stops its children in the order it chooses (trainers
  // before the servers they still need for their final evaluation).
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
  pid_t pid = -1;
  auto rc = posix_spawn(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0)
    return make_error(errc::io_error,
                      "cannot start " + argv[0] + ": " + std::strerror(rc));
  child_process result;
  result.pid_ = pid;
  return result;
}

child_process::child_process(child_process&& other) noexcept
    : pid_(other.pid_), status_(other.status_) {
  other.pid_ = -1;
}

child_process& child_process::operator=(child_process&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0)
      stop();
    pid_ = other.pid_;
    status_ = other.status_;
    other.pid_ = -1;
  }
  return *this;
}

child_process::~child_process() {
  if (pid_ > 0)
    stop();
}

void child_process::signal(int sig) const {
  if (pid_ > 0)
    ::kill(pid_, sig);
}

int child_process::wait_for(std::chrono::milliseconds timeout) {
  if (pid_ <= 0)
    return status_;
  auto end = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int st = 0;
    auto rc = ::waitpid(pid_, &st, WNOHANG);
    if (rc == pid_) {
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      pid_ = -1;
      return status_;
    }
    if (rc < 0 && errno != EINTR) {
      pid_ = -1;
      return status_;
    }
    if (std::chrono::steady_clock::now() >= end)
      return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

int child_process::stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0)
    return status_;
  signal(SIGCONT); // a frozen child cannot handle SIGTERM
  signal(SIGTERM);
  auto rc = wait_for(grace);
  if (rc >= 0)
    return rc;
  signal(SIGKILL);
  return wait_for(std::chrono::seconds(10));
}

caf::expected<std::string>
wait_for_file_line(const std::string& path, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    std::ifstream in(path);
    std::string line;
    if (in && std::getline(in, line) && !line.empty())
      return line;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return make_error(errc::timeout, "no line in " + path + " after " +
                                       std::to_string(timeout.count()) + " ms");
}

std::string self_executable() {
  char buf[4096];
  auto n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0)
    return "colony";
  return std::string(buf, static_cast<size_t>(n));
}

std::string tail_of_file(const std::string& path, size_t max_lines) {
  std::ifstream in{path};
  std::deque<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(std::move(line));
    if (lines.size() > max_lines)
      lines.pop_front();
  }
  std::string text;
  for (const auto& l : lines)
    text += "  " + l + "\n";
  return text;
}

} // namespace colony::apps
