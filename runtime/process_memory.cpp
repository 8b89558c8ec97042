#include "runtime/process_memory.hpp"

#include <cstdio>
#include <unistd.h>

namespace colony {

namespace {

uint64_t resident_set_bytes_of(const char* statm) noexcept {
  auto* f = std::fopen(statm, "r");
  if (f == nullptr)
    return 0;
  unsigned long long total_pages = 0;
  unsigned long long resident_pages = 0;
  auto read = std::fscanf(f, "%llu %llu", &total_pages, &resident_pages);
  std::fclose(f);
  if (read != 2)
    return 0;
  auto page = ::sysconf(_SC_PAGESIZE);
  return resident_pages * static_cast<uint64_t>(page > 0 ? page : 4096);
}

} // namespace

uint64_t resident_set_bytes() noexcept {
  return resident_set_bytes_of("/proc/self/statm");
}

uint64_t resident_set_bytes(pid_t pid) noexcept {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/statm", static_cast<int>(pid));
  return resident_set_bytes_of(path);
}

uint64_t peak_resident_set_bytes(pid_t pid) noexcept {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/status", static_cast<int>(pid));
  auto* f = std::fopen(path, "r");
  if (f == nullptr)
    return 0;
  char line[256];
  unsigned long long kib = 0;
  bool found = false;
  while (std::fgets(line, sizeof(line), f) != nullptr)
    if (std::sscanf(line, "VmHWM: %llu kB", &kib) == 1) {
      found = true;
      break;
    }
  std::fclose(f);
  return found ? kib * 1024 : 0;
}

} // namespace colony
