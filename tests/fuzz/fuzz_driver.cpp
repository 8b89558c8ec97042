// A mutation driver for fuzz targets built without libFuzzer (g++, as in
// CI): deterministic, no coverage feedback. It understands the subset of
// libFuzzer's command line the scripts and ctest use, so one command runs
// either engine:
//
//   fuzz_X [-runs=N] [-seed=S] [-max_len=L] [--write-seeds=DIR] [PATH...]
//
// It runs the built-in seeds and every file in PATH (files or directories)
// unmutated, then N mutated inputs, each a stack of libFuzzer-like
// mutations of a seed or file. Without -runs and with PATHs it only replays
// them (reproducing a crash). A finding aborts (sanitizer report, FUZZ_CHECK).

#include "fuzz_target.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv);
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

using colony::fuzz::bytes;

bytes read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return bytes(std::istreambuf_iterator<char>(in), {});
}

void add_path(const std::string& arg, std::vector<bytes>& pool) {
  namespace fs = std::filesystem;
  if (fs::is_directory(arg)) {
    std::vector<fs::path> files;
    for (auto& entry : fs::directory_iterator(arg))
      if (entry.is_regular_file())
        files.push_back(entry.path());
    std::sort(files.begin(), files.end()); // same order, same run
    for (auto& f : files)
      pool.push_back(read_file(f));
  } else if (fs::exists(arg)) {
    pool.push_back(read_file(arg));
  } else {
    std::fprintf(stderr, "no such file or directory: %s\n", arg.c_str());
    std::exit(2);
  }
}

/// Integers that break size arithmetic, as libFuzzer's table has them.
constexpr uint64_t interesting[] = {0,
                                    1,
                                    2,
                                    7,
                                    8,
                                    16,
                                    32,
                                    64,
                                    0x7f,
                                    0x80,
                                    0xff,
                                    0x100,
                                    0xffff,
                                    0x10000,
                                    0x7fffffff,
                                    0x80000000,
                                    0xfffffff8,
                                    0xffffffff,
                                    0x100000000,
                                    0x7fffffffffffffff,
                                    0x8000000000000000,
                                    0xffffffffffffffff};

class mutator {
 public:
  mutator(uint64_t seed, size_t max_len) : rng_(seed), max_len_(max_len) {}

  size_t below(size_t n) { return n == 0 ? 0 : rng_() % n; }

  /// A stack of 1 to 16 mutations of `in`, spliced with `other` sometimes.
  bytes mutate(bytes in, const bytes& other) {
    auto count = size_t{1} << below(5);
    for (size_t i = 0; i < count; ++i)
      mutate_once(in, other);
    if (in.size() > max_len_)
      in.resize(max_len_);
    return in;
  }

 private:
  void mutate_once(bytes& b, const bytes& other) {
    switch (below(12)) {
    case 0: // erase a range
      if (!b.empty()) {
        auto pos = below(b.size());
        auto n = 1 + below(std::min<size_t>(b.size() - pos, 16));
        b.erase(b.begin() + pos, b.begin() + pos + n);
      }
      break;
    case 1: { // insert random bytes
      auto pos = below(b.size() + 1);
      auto n = 1 + below(16);
      bytes extra(n);
      for (auto& x : extra)
        x = static_cast<uint8_t>(rng_());
      b.insert(b.begin() + pos, extra.begin(), extra.end());
      break;
    }
    case 2: // set a byte
      if (!b.empty())
        b[below(b.size())] = static_cast<uint8_t>(rng_());
      break;
    case 3: // flip a bit
      if (!b.empty())
        b[below(b.size())] ^= static_cast<uint8_t>(1u << below(8));
      break;
    case 4:
    case 5: { // an interesting integer, mostly at a word boundary
      static constexpr size_t widths[] = {1, 2, 4, 8};
      auto width = widths[below(4)];
      if (b.size() < width)
        break;
      auto pos = below(b.size() - width + 1);
      if (below(2) == 0)
        pos &= ~size_t{3};
      auto value = interesting[below(std::size(interesting))];
      if (below(4) == 0)
        value = ~value + 1;                       // and the negatives
      std::memcpy(b.data() + pos, &value, width); // little-endian low bytes
      break;
    }
    case 6: { // add a small number to a 32-bit word (counts, offsets)
      if (b.size() < 4)
        break;
      auto pos = below(b.size() / 4) * 4;
      uint32_t value;
      std::memcpy(&value, b.data() + pos, 4);
      value += static_cast<uint32_t>(below(33)) - 16;
      std::memcpy(b.data() + pos, &value, 4);
      break;
    }
    case 7: { // copy a range over another
      if (b.size() < 2)
        break;
      auto from = below(b.size());
      auto to = below(b.size());
      auto n = 1 + below(std::min(b.size() - from, b.size() - to));
      std::memmove(b.data() + to, b.data() + from, n);
      break;
    }
    case 8: { // splice: a prefix of this with a suffix of the other
      if (other.empty())
        break;
      auto keep = below(b.size() + 1);
      auto from = below(other.size());
      b.resize(keep);
      b.insert(b.end(), other.begin() + from, other.end());
      break;
    }
    case 9: // truncate, mostly to whole words
      if (!b.empty()) {
        auto n = below(b.size());
        if (below(4) != 0)
          n &= ~size_t{7};
        b.resize(n);
      }
      break;
    case 10: { // duplicate a range (repeated segments, lists)
      if (b.empty())
        break;
      auto pos = below(b.size());
      auto n = 1 + below(std::min<size_t>(b.size() - pos, 64));
      bytes chunk(b.begin() + pos, b.begin() + pos + n);
      b.insert(b.begin() + pos, chunk.begin(), chunk.end());
      break;
    }
    default: // shuffle a few bytes
      if (b.size() >= 2) {
        auto pos = below(b.size() - 1);
        auto n = 2 + below(std::min<size_t>(b.size() - pos - 1, 7));
        std::shuffle(b.begin() + pos, b.begin() + pos + n, rng_);
      }
      break;
    }
  }

  std::mt19937_64 rng_;
  size_t max_len_;
};

} // namespace

int main(int argc, char** argv) {
  LLVMFuzzerInitialize(&argc, &argv);
  long long runs = -1;
  uint64_t seed = 1;
  size_t max_len = 0;
  std::vector<bytes> pool = colony::fuzz::seeds();
  size_t builtin = pool.size();
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("-runs=", 0) == 0)
      runs = std::stoll(arg.substr(6));
    else if (arg.rfind("-seed=", 0) == 0)
      seed = std::stoull(arg.substr(6));
    else if (arg.rfind("-max_len=", 0) == 0)
      max_len = std::stoull(arg.substr(9));
    else if (arg.rfind("-", 0) == 0)
      continue; // libFuzzer's other flags and --write-seeds
    else
      add_path(arg, pool);
  }
  if (runs < 0)
    runs = pool.size() > builtin ? 0 : 100000;
  if (max_len == 0) // room to grow, as libFuzzer's default
    for (auto& p : pool)
      max_len = std::max({max_len, 2 * p.size(), size_t{4096}});
  auto start = std::chrono::steady_clock::now();
  for (auto& input : pool)
    LLVMFuzzerTestOneInput(input.data(), input.size());
  mutator m{seed, max_len};
  for (long long i = 0; i < runs; ++i) {
    auto& base = pool[m.below(pool.size())];
    auto& other = pool[m.below(pool.size())];
    auto input = m.mutate(base, other);
    LLVMFuzzerTestOneInput(input.data(), input.size());
  }
  double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  std::printf("Done %lld mutated inputs (+%zu unmutated) in %.1f s, seed %llu, "
              "max_len %zu\n",
              runs, pool.size(), secs, static_cast<unsigned long long>(seed),
              max_len);
  return 0;
}
