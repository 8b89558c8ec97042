#include "runtime/process_memory.hpp"

#include <cstdio>
#include <unistd.h>

namespace colony {

uint64_t resident_set_bytes() noexcept {
  auto* f = std::fopen("/proc/self/statm", "r");
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

} // namespace colony
