// libFuzzer's entry points for a target of fuzz_target.hpp (both engines
// call these). `--write-seeds=DIR` writes the target's built-in seeds into
// DIR first; libFuzzer then reads DIR when it is also given as the corpus
// (it calls LLVMFuzzerInitialize before it reads any corpus).

#include "fuzz_target.hpp"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

void write_seeds(const std::string& dir) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  auto all = colony::fuzz::seeds();
  for (size_t i = 0; i < all.size(); ++i) {
    char name[32];
    std::snprintf(name, sizeof(name), "seed-%03zu", i);
    std::ofstream out(fs::path(dir) / name, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(all[i].data()),
              static_cast<std::streamsize>(all[i].size()));
    if (!out) {
      std::fprintf(stderr, "cannot write seeds into %s\n", dir.c_str());
      std::exit(2);
    }
  }
  std::fprintf(stderr, "wrote %zu seeds into %s\n", all.size(), dir.c_str());
}

void print_outcomes() {
  std::fprintf(stderr, "outcomes:");
  for (auto& [what, n] : colony::fuzz::outcomes())
    std::fprintf(stderr, " %s %llu", what.c_str(),
                 static_cast<unsigned long long>(n));
  std::fprintf(stderr, "\n");
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  // libFuzzer ends with exit() after -runs; the driver returns from main.
  std::atexit(print_outcomes);
  constexpr const char flag[] = "--write-seeds=";
  for (int i = 1; i < *argc; ++i)
    if (std::strncmp((*argv)[i], flag, sizeof(flag) - 1) == 0)
      write_seeds((*argv)[i] + sizeof(flag) - 1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  colony::fuzz::run_one(data, size);
  return 0;
}
