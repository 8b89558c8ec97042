#include "messages/tensor_codec.hpp"

#include "messages/flat_builder.hpp"

#include "messages/error.hpp"

#include <ATen/ATen.h>
#include <ATen/Parallel.h> // at::get_num_threads
#include <c10/util/Exception.h>
#include <c10/util/Half.h>
#include <capnp/any.h>
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#if defined(__x86_64__)
#  include <cpuid.h>
#  include <immintrin.h>
#endif
#if defined(__linux__)
#  include <sys/mman.h>
#  include <unistd.h>
#endif

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <string>
#include <system_error>
#include <thread>

// The wire is little-endian; raw tensor bytes are copied as they are.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "colony's tensor codec assumes a little-endian host");

namespace colony {

namespace {

// -- constants ---------------------------------------------------------------

/// Largest finite float16 value; the float16 codecs clamp to +-this.
constexpr float fp16_max = 65504.0f;

/// Floor of the per-row std of scaled_float16 (float32 epsilon, as hivemind),
/// so that constant rows do not divide by zero.
constexpr float scaled_std_floor = std::numeric_limits<float>::epsilon();

/// Buckets of the 8-bit codecs (one byte per element).
constexpr int n_buckets = 256;

/// uniform_8bit: the buckets cover mean +- range_in_sigmas / 2 std.
constexpr double range_in_sigmas = 6.0;

/// quantile_8bit: values sampled to estimate the bucket borders (hivemind
/// averages quantiles of chunks instead). Sorting them takes ~1 ms. On randn
/// the resulting MSE matches that of exact quantiles on average (measured
/// over 20 tensors of 2^20 values: 7.46e-4 vs 7.47e-4); the spread from
/// tensor to tensor (7.0e-4 .. 7.9e-4) is larger than the sampling's.
constexpr int64_t quantile_sample_size = 1 << 17;

/// Elements a thread gets at least in the parallel loops: starting a
/// thread costs ~30 us, processing 2^18 elements ~0.3-1 ms.
constexpr int64_t grain = 1 << 18;

/// Largest Data field Cap'n Proto can hold (element count has 29 bits).
constexpr uint64_t max_data_bytes = (1ull << 29) - 1;

// -- dtypes ------------------------------------------------------------------

struct dtype_info {
  wire::DType wire;
  at::ScalarType scalar;
  size_t itemsize;
  bool floating;
};

constexpr dtype_info dtypes[] = {
    {wire::DType::FLOAT32, at::kFloat, 4, true},
    {wire::DType::FLOAT16, at::kHalf, 2, true},
    {wire::DType::BFLOAT16, at::kBFloat16, 2, true},
    {wire::DType::FLOAT64, at::kDouble, 8, true},
    {wire::DType::INT64, at::kLong, 8, false},
    {wire::DType::INT32, at::kInt, 4, false},
    {wire::DType::UINT8, at::kByte, 1, false},
    {wire::DType::BOOL, at::kBool, 1, false},
};

const dtype_info* find_dtype(at::ScalarType scalar) noexcept {
  for (auto& info : dtypes)
    if (info.scalar == scalar)
      return &info;
  return nullptr;
}

const dtype_info* find_dtype(wire::DType type) noexcept {
  for (auto& info : dtypes)
    if (info.wire == type)
      return &info;
  return nullptr;
}

std::optional<compression_type> from_wire(wire::Compression c) noexcept {
  switch (c) {
  case wire::Compression::NONE:
    return compression_type::none;
  case wire::Compression::FLOAT16:
    return compression_type::float16;
  case wire::Compression::SCALED_FLOAT16:
    return compression_type::scaled_float16;
  case wire::Compression::UNIFORM8BIT:
    return compression_type::uniform_8bit;
  case wire::Compression::QUANTILE8BIT:
    return compression_type::quantile_8bit;
  }
  return std::nullopt;
}

wire::Compression to_wire(compression_type c) noexcept {
  switch (c) {
  case compression_type::none:
    return wire::Compression::NONE;
  case compression_type::float16:
    return wire::Compression::FLOAT16;
  case compression_type::scaled_float16:
    return wire::Compression::SCALED_FLOAT16;
  case compression_type::uniform_8bit:
    return wire::Compression::UNIFORM8BIT;
  case compression_type::quantile_8bit:
    return wire::Compression::QUANTILE8BIT;
  }
  return wire::Compression::NONE;
}

// -- layout: what a codec puts on the wire for a given shape -----------------

/// Sizes of a tensor's encoded form.
struct encoded_layout {
  uint64_t data_bytes = 0;
  uint64_t rows = 0;       ///< entries of means and stds (scaled_float16)
  bool has_lookup = false; ///< 256-entry lookup (8-bit codecs)
};

encoded_layout layout_of(compression_type codec, uint64_t numel,
                         uint64_t last_dim, size_t itemsize) {
  encoded_layout out;
  switch (codec) {
  case compression_type::none:
    out.data_bytes = numel * itemsize;
    break;
  case compression_type::float16:
    out.data_bytes = numel * 2;
    break;
  case compression_type::scaled_float16:
    out.data_bytes = numel * 2;
    out.rows = numel == 0 ? 0 : numel / last_dim;
    break;
  case compression_type::uniform_8bit:
  case compression_type::quantile_8bit:
    out.data_bytes = numel;
    out.has_lookup = true;
    break;
  }
  return out;
}

uint64_t words_for_bytes(uint64_t bytes) {
  return (bytes + 7) / 8;
}

/// Words `encode_tensor` adds to a message for `layout` and `ndims`, not
/// counting the Tensor struct itself.
uint64_t payload_words(const encoded_layout& layout, size_t ndims) {
  return ndims + words_for_bytes(layout.data_bytes) +
         2 * words_for_bytes(layout.rows * 4) +
         (layout.has_lookup ? words_for_bytes(n_buckets * 4) : 0);
}

// -- parallel loops ----------------------------------------------------------

// LibTorch's at::parallel_for cannot be used here: with its OpenMP backend
// (Debian's build) it is header-only and runs serially in any translation
// unit compiled without -fopenmp, as colony's are. So the codecs split
// large loops over plain threads, as many as at::get_num_threads() allows
// (torch::set_num_threads applies), fork-join per call. Nested calls run
// inline on the calling worker.

thread_local bool in_split_worker = false;

/// Calls `f(begin, end)` on disjoint chunks covering [0, n), in parallel
/// when there are at least 2 * `grain` items, and returns the results in
/// chunk order.
template <class R, class F>
std::vector<R> split(int64_t n, int64_t grain_size, const F& f) {
  int64_t chunks = 1;
  if (!in_split_worker && n >= 2 * grain_size)
    chunks = std::min<int64_t>(at::get_num_threads(), n / grain_size);
  std::vector<R> results(static_cast<size_t>(std::max<int64_t>(chunks, 1)));
  auto run = [&](int64_t c) {
    results[static_cast<size_t>(c)] = f(n * c / chunks, n * (c + 1) / chunks);
  };
  if (chunks <= 1) {
    run(0);
    return results;
  }
  std::vector<std::thread> workers;
  workers.reserve(static_cast<size_t>(chunks - 1));
  int64_t started = 1;
  try {
    for (; started < chunks; ++started)
      workers.emplace_back([&run, started] {
        in_split_worker = true;
        run(started);
      });
  } catch (const std::system_error&) {
    // No more threads: this thread does the remaining chunks itself.
  }
  in_split_worker = true;
  run(0);
  for (int64_t c = started; c < chunks; ++c)
    run(c);
  in_split_worker = false;
  for (auto& w : workers)
    w.join();
  return results;
}

/// `f(begin, end)` over [0, n) in parallel chunks (see `split`).
template <class F>
void split_for(int64_t n, int64_t grain_size, const F& f) {
  split<char>(n, grain_size, [&](int64_t b, int64_t e) {
    f(b, e);
    return char{0};
  });
}

// -- numeric kernels (float32 in, contiguous) --------------------------------

/// Sums `value(i)` for i in [begin, end) with 8 float lanes per block of
/// 1024 elements (vectorizable) and a double across blocks (accurate).
template <class F>
double blocked_sum(int64_t begin, int64_t end, F&& value) {
  constexpr int64_t block = 1024;
  double total = 0;
  for (int64_t b = begin; b < end; b += block) {
    int64_t e = std::min(end, b + block);
    float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = b;
    for (; i + 8 <= e; i += 8)
      for (int k = 0; k < 8; ++k)
        lanes[k] += value(i + k);
    double part = 0;
    for (; i < e; ++i)
      part += value(i);
    for (float lane : lanes)
      part += lane;
    total += part;
  }
  return total;
}

/// Parallel sum of `value(i)` over [0, n); runs inline inside a parallel
/// loop (e.g. per row of scaled_float16).
template <class F>
double parallel_sum(int64_t n, F value) {
  auto parts = split<double>(
      n, grain, [&](int64_t b, int64_t e) { return blocked_sum(b, e, value); });
  double total = 0;
  for (double part : parts)
    total += part;
  return total;
}

struct moments {
  double mean = 0;
  double sum_sq = 0; ///< sum of squared deviations from the mean
};

moments moments_of(const float* src, int64_t n) {
  moments m;
  if (n == 0)
    return m;
  m.mean = parallel_sum(n, [src](int64_t i) { return src[i]; }) /
           static_cast<double>(n);
  float mean = static_cast<float>(m.mean);
  m.sum_sq = parallel_sum(n, [src, mean](int64_t i) {
    float d = src[i] - mean;
    return d * d;
  });
  return m;
}

inline uint16_t to_half_bits(float x) {
  // Clamp first (as hivemind), so large values do not become infinities.
  // NaN passes through both comparisons unchanged.
  x = x < -fp16_max ? -fp16_max : (x > fp16_max ? fp16_max : x);
  return c10::detail::fp16_ieee_from_fp32_value(x);
}

inline float from_half_bits(uint16_t h) {
  return c10::detail::fp16_ieee_to_fp32_value(h);
}

// float <-> float16 conversion runs at memory speed with the F16C
// instructions (x86 since 2012) and ~10x slower in portable code, which
// LibTorch's helpers compile to branches. The F16C paths are compiled for
// that target alone and chosen at run time, so the binary stays portable.
// Both round to nearest even; only NaN payloads may differ.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#  define COLONY_F16C_DISPATCH 1

bool have_f16c() noexcept {
  // cpuid for F16C: clang 14's __builtin_cpu_supports does not know it
  // (scripts/fuzz.sh builds this file with clang). "avx" also checks that
  // the OS saves the AVX registers.
  static const bool yes = [] {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    return __builtin_cpu_supports("avx") &&
           __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_F16C) != 0;
  }();
  return yes;
}

/// dst = float16(clamp((src - shift) * scale)), 8 at a time.
__attribute__((target("avx,f16c"))) int64_t
to_halves_f16c(const float* src, int64_t n, uint16_t* dst, float shift,
               float scale) {
  const __m256 lo = _mm256_set1_ps(-fp16_max);
  const __m256 hi = _mm256_set1_ps(fp16_max);
  const __m256 sh = _mm256_set1_ps(shift);
  const __m256 sc = _mm256_set1_ps(scale);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 x = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(src + i), sh), sc);
    // max/min return their second operand if either is NaN: NaN stays.
    x = _mm256_min_ps(hi, _mm256_max_ps(lo, x));
    _mm_storeu_si128(
        reinterpret_cast<__m128i*>(dst + i),
        _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  return i;
}

/// dst = float(src) * scale + shift (or exactly float(src) if !affine).
template <bool affine>
__attribute__((target("avx,f16c"))) int64_t
from_halves_f16c(const uint16_t* src, int64_t n, float* dst, float scale,
                 float shift) {
  const __m256 sc = _mm256_set1_ps(scale);
  const __m256 sh = _mm256_set1_ps(shift);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 x = _mm256_cvtph_ps(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i)));
    if (affine)
      x = _mm256_add_ps(_mm256_mul_ps(x, sc), sh);
    _mm256_storeu_ps(dst + i, x);
  }
  return i;
}
#endif

/// dst[i] = float16(clamp((src[i] - shift) * scale)), in parallel.
void to_halves(const float* src, int64_t n, uint16_t* dst, float shift,
               float scale) {
  split_for(n, grain, [&](int64_t b, int64_t e) {
    int64_t done = 0;
#ifdef COLONY_F16C_DISPATCH
    if (have_f16c())
      done = to_halves_f16c(src + b, e - b, dst + b, shift, scale);
#endif
    for (int64_t i = b + done; i < e; ++i)
      dst[i] = to_half_bits((src[i] - shift) * scale);
  });
}

/// dst[i] = float(src[i]) * scale + shift, in parallel; exact conversion
/// (keeping -0) if `affine` is false.
template <bool affine>
void from_halves(const uint16_t* src, int64_t n, float* dst, float scale,
                 float shift) {
  split_for(n, grain, [&](int64_t b, int64_t e) {
    int64_t done = 0;
#ifdef COLONY_F16C_DISPATCH
    if (have_f16c())
      done = from_halves_f16c<affine>(src + b, e - b, dst + b, scale, shift);
#endif
    for (int64_t i = b + done; i < e; ++i)
      dst[i] = affine ? from_half_bits(src[i]) * scale + shift
                      : from_half_bits(src[i]);
  });
}

void encode_float16(const float* src, int64_t n, uint16_t* dst) {
  to_halves(src, n, dst, 0.0f, 1.0f); // x - 0 and x * 1 are exact
}

void decode_float16(const uint16_t* src, int64_t n, float* dst) {
  from_halves<false>(src, n, dst, 1.0f, 0.0f);
}

/// scaled_float16: normalizes each row of `last` elements, writes float16
/// to `dst` and each row's mean and std to `means` / `stds`.
void encode_scaled_float16(const float* src, int64_t rows, int64_t last,
                           uint16_t* dst, float* means, float* stds) {
  int64_t row_grain = std::max<int64_t>(1, grain / std::max<int64_t>(last, 1));
  split_for(rows, row_grain, [&](int64_t rb, int64_t re) {
    for (int64_t r = rb; r < re; ++r) {
      const float* x = src + r * last;
      uint16_t* y = dst + r * last;
      auto m = moments_of(x, last);
      float mean = static_cast<float>(m.mean);
      auto sd = static_cast<float>(std::sqrt(m.sum_sq / last));
      if (!(sd >= scaled_std_floor)) // also NaN: keeps the division finite
        sd = scaled_std_floor;
      // Runs inline when rows are already spread over the threads.
      to_halves(x, last, y, mean, 1.0f / sd);
      means[r] = mean;
      stds[r] = sd;
    }
  });
}

/// Per-bucket sums and counts of the original values, for the lookup table.
struct bucket_sums {
  std::array<double, n_buckets> sum{};
  std::array<int64_t, n_buckets> count{};

  bucket_sums& operator+=(const bucket_sums& other) {
    for (int k = 0; k < n_buckets; ++k) {
      sum[k] += other.sum[k];
      count[k] += other.count[k];
    }
    return *this;
  }
};

/// Writes the bucket of each element to `dst` and returns the lookup table:
/// the average original value of each bucket (0 for empty buckets).
/// `buckets_of(x, len, q)` computes the buckets of `len` <= 1024 elements.
template <class Buckets>
std::array<float, n_buckets> quantize(const float* src, int64_t n, uint8_t* dst,
                                      const Buckets& buckets_of) {
  auto parts = split<bucket_sums>(n, grain, [&](int64_t b, int64_t e) {
    bucket_sums acc;
    constexpr int64_t block = 1024;
    uint8_t q[block];
    for (int64_t i = b; i < e; i += block) {
      int64_t len = std::min(block, e - i);
      // Quantize a block first (vectorizable), then accumulate it.
      buckets_of(src + i, len, q);
      std::memcpy(dst + i, q, static_cast<size_t>(len));
      for (int64_t k = 0; k < len; ++k) {
        acc.sum[q[k]] += src[i + k];
        acc.count[q[k]] += 1;
      }
    }
    return acc;
  });
  bucket_sums sums;
  for (auto& part : parts)
    sums += part;
  std::array<float, n_buckets> lookup{};
  for (int k = 0; k < n_buckets; ++k)
    if (sums.count[k] > 0)
      lookup[k] = static_cast<float>(sums.sum[k] / sums.count[k]);
  return lookup;
}

std::array<float, n_buckets> encode_uniform_8bit(const float* src, int64_t n,
                                                 uint8_t* dst) {
  auto m = moments_of(src, n);
  double sd = n > 1 ? std::sqrt(m.sum_sq / static_cast<double>(n - 1)) : 0.0;
  double scale = range_in_sigmas * sd / n_buckets;
  // A constant tensor has scale 0: every value lands in the middle bucket,
  // whose lookup entry is then that exact value.
  if (!(scale > 0) || !std::isfinite(scale))
    scale = 1.0;
  auto mean = static_cast<float>(m.mean);
  auto inv = static_cast<float>(1.0 / scale);
  constexpr float offset = n_buckets / 2;
  return quantize(src, n, dst, [=](const float* x, int64_t len, uint8_t* q) {
    // Locals, not the closure's members, which uint8 stores may alias.
    const float m = mean;
    const float s = inv;
    for (int64_t k = 0; k < len; ++k) {
      float v = (x[k] - m) * s + offset + 0.5f;
      // Written so that NaN lands in bucket 0 rather than in a UB cast.
      v = v > 0.0f ? v : 0.0f;
      v = v < 255.0f ? v : 255.0f;
      q[k] = static_cast<uint8_t>(v);
    }
  });
}

/// Sorts floats (no NaN) by an LSD radix sort on order-preserving integer
/// keys, 3 passes of 11 bits: ~1 ms for the 2^17-value quantile sample,
/// ~10x faster than std::sort.
void radix_sort(std::vector<float>& values) {
  size_t n = values.size();
  std::vector<uint32_t> keys(n);
  std::vector<uint32_t> tmp(n);
  for (size_t i = 0; i < n; ++i) {
    uint32_t u;
    std::memcpy(&u, &values[i], sizeof(u));
    // Negative floats order reversed by magnitude: invert them; positive
    // ones go above all negative ones: set the sign bit.
    keys[i] = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
  }
  constexpr int bits = 11;
  constexpr uint32_t mask = (1u << bits) - 1;
  for (int shift = 0; shift < 32; shift += bits) {
    std::vector<size_t> pos(mask + 2, 0);
    for (auto k : keys)
      ++pos[((k >> shift) & mask) + 1];
    for (size_t d = 1; d < pos.size(); ++d)
      pos[d] += pos[d - 1];
    for (auto k : keys)
      tmp[pos[(k >> shift) & mask]++] = k;
    keys.swap(tmp);
  }
  for (size_t i = 0; i < n; ++i) {
    uint32_t k = keys[i];
    uint32_t u = (k & 0x80000000u) ? (k & 0x7fffffffu) : ~k;
    std::memcpy(&values[i], &u, sizeof(u));
  }
}

/// Finds the bucket of a value among 256 buckets separated by 255 sorted
/// borders: the number of borders strictly below it (torch.bucketize).
///
/// A binary search per element mispredicts half of its 8 branches. Instead
/// a table over 4096 equal cells between the first and last border gives,
/// for the cell of x, the range of possible answers: cell() is monotone, so
/// borders in lower cells are below x and borders in higher cells above it.
/// For smooth data a cell holds at most two borders, and two branch-free
/// steps finish the search; denser cells fall back to a binary search.
class bucket_finder {
 public:
  explicit bucket_finder(const std::array<float, n_buckets - 1>& borders) {
    std::copy(borders.begin(), borders.end(), borders_.begin());
    // Padding read by the branch-free steps; never below a value.
    borders_[n_buckets - 1] = std::numeric_limits<float>::infinity();
    borders_[n_buckets] = std::numeric_limits<float>::infinity();
    lo_ = borders.front();
    // inf or NaN for degenerate borders: cell() stays monotone, and all
    // borders land in one cell, which the binary search then handles.
    inv_width_ = cells / (borders.back() - borders.front());
    std::array<uint32_t, cells + 1> count{};
    for (float b : borders)
      ++count[static_cast<size_t>(cell(b, lo_, inv_width_)) + 1];
    uint32_t sum = 0;
    for (int c = 0; c <= cells; ++c) {
      sum += count[static_cast<size_t>(c)];
      start_[static_cast<size_t>(c)] = static_cast<uint8_t>(sum);
    }
  }

  /// Writes the buckets of x[0 .. len) to q.
  void operator()(const float* x, int64_t len, uint8_t* q) const noexcept {
    // Locals: the uint8 stores to q may alias any member as far as the
    // compiler knows, which would reload them for every element.
    const float lo = lo_;
    const float inv_width = inv_width_;
    const float* borders = borders_.data();
    const uint8_t* start = start_.data();
    for (int64_t k = 0; k < len; ++k) {
      float v = x[k];
      auto c = static_cast<size_t>(cell(v, lo, inv_width));
      uint32_t i = start[c];
      uint32_t end = start[c + 1];
      if (end - i <= 2) {
        i += static_cast<uint32_t>(borders[i] < v);
        i += static_cast<uint32_t>(borders[i] < v);
      } else {
        i = static_cast<uint32_t>(
            std::lower_bound(borders + i, borders + end, v) - borders);
      }
      q[k] = static_cast<uint8_t>(i);
    }
  }

 private:
  static constexpr int cells = 4096;

  [[nodiscard]] static int cell(float x, float lo, float inv_width) noexcept {
    float v = (x - lo) * inv_width;
    // Written so that NaN lands in cell 0 (whose range starts at 0).
    v = v > 0.0f ? v : 0.0f;
    v = v < cells - 1 ? v : static_cast<float>(cells - 1);
    return static_cast<int>(v);
  }

  std::array<float, n_buckets + 1> borders_;
  float lo_ = 0;
  float inv_width_ = 0;
  /// start_[c]: borders in cells below c; borders in cell c are
  /// start_[c] .. start_[c + 1] - 1. uint8 suffices: at most 255 borders.
  std::array<uint8_t, cells + 1> start_;
};

/// Estimates the k/256 quantiles (k = 1..255) from a sample, with linear
/// interpolation between order statistics (numpy's default).
std::array<float, n_buckets - 1> quantile_borders(std::vector<float>& sample) {
  radix_sort(sample);
  std::array<float, n_buckets - 1> borders;
  auto last = static_cast<double>(sample.size() - 1);
  for (int k = 1; k < n_buckets; ++k) {
    double pos = last * k / n_buckets;
    auto lo = static_cast<size_t>(pos);
    size_t hi = std::min(lo + 1, sample.size() - 1);
    double frac = pos - static_cast<double>(lo);
    borders[static_cast<size_t>(k - 1)] = static_cast<float>(
        sample[lo] + (static_cast<double>(sample[hi]) - sample[lo]) * frac);
  }
  return borders;
}

std::array<float, n_buckets> encode_quantile_8bit(const float* src, int64_t n,
                                                  uint8_t* dst) {
  if (n == 0)
    return {};
  // Sample: one value at a pseudo-random position in each of `m` equal
  // strata (deterministic seed, so encoding is reproducible). Stratifying
  // keeps the sample spread over the tensor even if its rows differ.
  std::vector<float> sample;
  if (n <= quantile_sample_size) {
    sample.assign(src, src + n);
  } else {
    int64_t m = quantile_sample_size;
    sample.resize(static_cast<size_t>(m));
    uint64_t state = 0x9e3779b97f4a7c15ull;
    for (int64_t s = 0; s < m; ++s) {
      // splitmix64
      uint64_t z = (state += 0x9e3779b97f4a7c15ull);
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      z ^= z >> 31;
      int64_t begin = n * s / m;
      int64_t width = n * (s + 1) / m - begin;
      sample[static_cast<size_t>(s)] =
          src[begin + static_cast<int64_t>(z % static_cast<uint64_t>(width))];
    }
  }
  // NaNs have no place in an order; they are no quantiles anyway.
  sample.erase(std::remove_if(sample.begin(), sample.end(),
                              [](float x) { return std::isnan(x); }),
               sample.end());
  if (sample.empty())
    sample.push_back(0.0f);
  bucket_finder find{quantile_borders(sample)};
  return quantize(src, n, dst, find);
}

void decode_8bit(const uint8_t* src, int64_t n, const float* lookup,
                 float* dst) {
  split_for(n, grain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      dst[i] = lookup[src[i]];
  });
}

// -- memory ------------------------------------------------------------------

/// Buffers from this size on ask for transparent huge pages.
/// `at::empty`, with huge pages for large tensors (see above).
at::Tensor empty_tensor(at::IntArrayRef sizes, at::TensorOptions options) {
  auto t = at::empty(sizes, options);
  prefer_huge_pages(t.data_ptr(), t.nbytes());
  return t;
}

// -- encoding ----------------------------------------------------------------

/// The float32 values a lossy codec reads: the tensor itself if it is
/// float32 already, else one converted copy.
at::Tensor as_float32(const at::Tensor& t) {
  return t.scalar_type() == at::kFloat ? t : t.to(at::kFloat);
}

caf::error encode_impl(const at::Tensor& tensor, compression_type codec,
                       wire::Tensor::Builder out) {
  if (!tensor.defined())
    return make_error(errc::invalid_argument, "cannot encode an undefined "
                                              "tensor");
  if (tensor.layout() != at::kStrided)
    return make_error(errc::invalid_argument,
                      "only dense (strided) tensors can be encoded");
  auto* info = find_dtype(tensor.scalar_type());
  if (info == nullptr)
    return make_error(errc::unknown_dtype,
                      std::string{"dtype "} +
                          c10::toString(tensor.scalar_type()) +
                          " has no wire encoding");
  if (codec != compression_type::none && !info->floating)
    return make_error(errc::unsupported_codec,
                      std::string{"codec "} + to_string(codec) +
                          " applies to floating dtypes only, not " +
                          c10::toString(tensor.scalar_type()));
  auto t = tensor.detach();
  if (!t.device().is_cpu())
    t = t.cpu();
  auto numel = static_cast<uint64_t>(t.numel());
  auto last = static_cast<uint64_t>(t.dim() > 0 ? t.size(-1) : 1);
  auto layout = layout_of(codec, numel, last, info->itemsize);
  if (layout.data_bytes > max_data_bytes)
    return make_error(errc::too_large,
                      "encoded tensor has " +
                          std::to_string(layout.data_bytes) +
                          " bytes, above the wire's limit of " +
                          std::to_string(max_data_bytes) + " per tensor");
  out.setDtype(info->wire);
  out.setCompression(to_wire(codec));
  auto shape = out.initShape(static_cast<unsigned>(t.dim()));
  for (int64_t d = 0; d < t.dim(); ++d)
    shape.set(static_cast<unsigned>(d), t.size(d));
  auto data = out.initData(static_cast<unsigned>(layout.data_bytes));
  auto n = static_cast<int64_t>(numel);
  if (n == 0) {
    if (layout.has_lookup)
      out.initLookup(n_buckets);
    return {};
  }
  if (codec == compression_type::none) {
    if (t.is_contiguous()) {
      std::memcpy(data.begin(), t.data_ptr(), layout.data_bytes);
    } else {
      // Gather the strided elements straight into the message.
      at::from_blob(data.begin(), t.sizes(), t.options()).copy_(t);
    }
    return {};
  }
  t = t.contiguous();
  switch (codec) {
  case compression_type::none:
    break; // done above
  case compression_type::float16: {
    auto f = as_float32(t);
    encode_float16(f.data_ptr<float>(), n,
                   reinterpret_cast<uint16_t*>(data.begin()));
    break;
  }
  case compression_type::scaled_float16: {
    auto f = as_float32(t);
    auto rows = static_cast<int64_t>(layout.rows);
    std::vector<float> stats(static_cast<size_t>(2 * rows));
    encode_scaled_float16(f.data_ptr<float>(), rows, static_cast<int64_t>(last),
                          reinterpret_cast<uint16_t*>(data.begin()),
                          stats.data(), stats.data() + rows);
    auto means = out.initMeans(static_cast<unsigned>(rows));
    auto stds = out.initStds(static_cast<unsigned>(rows));
    for (unsigned r = 0; r < static_cast<unsigned>(rows); ++r) {
      means.set(r, stats[r]);
      stds.set(r, stats[rows + r]);
    }
    break;
  }
  case compression_type::uniform_8bit:
  case compression_type::quantile_8bit: {
    auto f = as_float32(t);
    auto* dst = reinterpret_cast<uint8_t*>(data.begin());
    auto lookup = codec == compression_type::uniform_8bit
                      ? encode_uniform_8bit(f.data_ptr<float>(), n, dst)
                      : encode_quantile_8bit(f.data_ptr<float>(), n, dst);
    auto list = out.initLookup(n_buckets);
    for (unsigned k = 0; k < n_buckets; ++k)
      list.set(k, lookup[k]);
    break;
  }
  }
  return {};
}

// -- decoding ----------------------------------------------------------------

caf::error with_context(const caf::error& err, const std::string& prefix) {
  if (err.category() != colony_error_category)
    return err;
  std::string reason;
  if (err.context().match_elements<std::string>())
    reason = err.context().get_as<std::string>(0);
  return make_error(static_cast<errc>(err.code()), prefix + reason);
}

/// The float16 values of `bytes`: in place if 2-byte aligned (always, for
/// data in a capnp message, which is word-aligned), else a copy.
class aligned_halves {
 public:
  aligned_halves(const uint8_t* bytes, uint64_t count) {
    if (reinterpret_cast<uintptr_t>(bytes) % alignof(uint16_t) == 0) {
      ptr_ = reinterpret_cast<const uint16_t*>(bytes);
    } else {
      copy_.resize(count);
      std::memcpy(copy_.data(), bytes, count * sizeof(uint16_t));
      ptr_ = copy_.data();
    }
  }

  [[nodiscard]] const uint16_t* data() const noexcept { return ptr_; }

 private:
  std::vector<uint16_t> copy_;
  const uint16_t* ptr_ = nullptr;
};

caf::expected<at::Tensor> decode_impl(wire::Tensor::Reader in,
                                      const tensor_limits& limits,
                                      std::shared_ptr<const void> keep_alive) {
  auto* info = find_dtype(in.getDtype());
  if (info == nullptr)
    return make_error(errc::unknown_dtype,
                      "unknown dtype " +
                          std::to_string(static_cast<int>(in.getDtype())));
  auto codec = from_wire(in.getCompression());
  if (!codec)
    return make_error(errc::unsupported_codec,
                      "unknown compression " + std::to_string(static_cast<int>(
                                                   in.getCompression())));
  if (*codec != compression_type::none && !info->floating)
    return make_error(errc::unsupported_codec, std::string{"compression "} +
                                                   to_string(*codec) +
                                                   " does not apply to dtype " +
                                                   c10::toString(info->scalar));
  // Shape: bounded before anything is allocated.
  auto shape = in.getShape();
  if (shape.size() > limits.max_dims)
    return make_error(errc::too_large, std::to_string(shape.size()) +
                                           " dims, limit is " +
                                           std::to_string(limits.max_dims));
  std::vector<int64_t> sizes(shape.size());
  uint64_t numel = 1;
  uint64_t bound = 1; // product with zero dims counted as 1 (see limits)
  for (unsigned d = 0; d < shape.size(); ++d) {
    int64_t dim = shape[d];
    if (dim < 0)
      return make_error(errc::bad_shape,
                        "negative dimension " + std::to_string(dim));
    auto udim = static_cast<uint64_t>(dim);
    if (udim > limits.max_numel ||
        std::max<uint64_t>(udim, 1) > limits.max_numel / bound)
      return make_error(errc::too_large, "shape exceeds the limit of " +
                                             std::to_string(limits.max_numel) +
                                             " elements");
    bound *= std::max<uint64_t>(udim, 1);
    numel *= udim;
    sizes[d] = dim;
  }
  if (bound > limits.max_numel)
    return make_error(errc::too_large, "shape exceeds the limit of " +
                                           std::to_string(limits.max_numel) +
                                           " elements");
  // numel <= max_numel, but max_numel may be configured up to 2^64.
  if (numel > std::numeric_limits<uint64_t>::max() / 8)
    return make_error(errc::too_large, "shape too large");
  auto last = static_cast<uint64_t>(sizes.empty() ? 1 : sizes.back());
  auto layout = layout_of(*codec, numel, last, info->itemsize);
  auto data = in.getData();
  if (data.size() != layout.data_bytes)
    return make_error(errc::bad_shape, "data has " +
                                           std::to_string(data.size()) +
                                           " bytes, shape and codec imply " +
                                           std::to_string(layout.data_bytes));
  // Codec side data, checked before the output is allocated.
  capnp::List<float>::Reader means, stds, lookup;
  if (*codec == compression_type::scaled_float16) {
    means = in.getMeans();
    stds = in.getStds();
    if (means.size() != layout.rows || stds.size() != layout.rows)
      return make_error(errc::malformed,
                        "scaled_float16 needs " + std::to_string(layout.rows) +
                            " means and stds, got " +
                            std::to_string(means.size()) + " and " +
                            std::to_string(stds.size()));
  }
  if (layout.has_lookup) {
    lookup = in.getLookup();
    if (lookup.size() != n_buckets && numel > 0)
      return make_error(errc::malformed, std::string{to_string(*codec)} +
                                             " needs " +
                                             std::to_string(n_buckets) +
                                             " lookup entries, got " +
                                             std::to_string(lookup.size()));
  }
  auto options = at::TensorOptions().dtype(info->scalar);
  auto n = static_cast<int64_t>(numel);
  if (n == 0)
    return at::empty(sizes, options);
  const auto* bytes = data.begin();
  if (*codec == compression_type::none) {
    if (info->scalar == at::kBool) {
      // Any byte but 0 or 1 is an invalid bool in LibTorch.
      if (std::any_of(bytes, bytes + n, [](uint8_t b) { return b > 1; }))
        return make_error(errc::malformed, "bool tensor holds a byte other "
                                           "than 0 or 1");
    }
    auto addr = reinterpret_cast<uintptr_t>(bytes);
    if (keep_alive != nullptr && addr % info->itemsize == 0) {
      // Zero-copy: the tensor aliases the message bytes and keeps their
      // buffer alive. LibTorch wants a mutable pointer; see the header for
      // the read-only contract.
      auto* ptr = const_cast<capnp::byte*>(bytes);
      return at::from_blob(
          ptr, sizes,
          [owner = std::move(keep_alive)](void*) mutable { owner.reset(); },
          options);
    }
    auto result = empty_tensor(sizes, options);
    std::memcpy(result.data_ptr(), bytes, layout.data_bytes);
    return result;
  }
  if (*codec == compression_type::float16 && info->scalar == at::kHalf) {
    // The encoder's bits are the result (after its clamp): one copy.
    auto half = empty_tensor(sizes, options);
    std::memcpy(half.data_ptr(), bytes, layout.data_bytes);
    return half;
  }
  // Lossy codecs: decode to float32, then to the original dtype if needed.
  auto result = empty_tensor(sizes, options.dtype(at::kFloat));
  auto* dst = result.data_ptr<float>();
  switch (*codec) {
  case compression_type::none:
    break; // handled above
  case compression_type::float16: {
    auto halves = aligned_halves(bytes, numel);
    decode_float16(halves.data(), n, dst);
    break;
  }
  case compression_type::scaled_float16: {
    auto halves = aligned_halves(bytes, numel);
    auto rows = static_cast<int64_t>(layout.rows);
    auto len = static_cast<int64_t>(last);
    std::vector<float> stats(static_cast<size_t>(2 * rows));
    for (unsigned r = 0; r < static_cast<unsigned>(rows); ++r) {
      stats[r] = means[r];
      stats[rows + r] = stds[r];
    }
    int64_t row_grain = std::max<int64_t>(1, grain / std::max<int64_t>(len, 1));
    split_for(rows, row_grain, [&](int64_t rb, int64_t re) {
      for (int64_t r = rb; r < re; ++r) {
        float mean = stats[r];
        float sd = stats[rows + r];
        from_halves<true>(halves.data() + r * len, len, dst + r * len, sd,
                          mean);
      }
    });
    break;
  }
  case compression_type::uniform_8bit:
  case compression_type::quantile_8bit: {
    std::array<float, n_buckets> table;
    for (unsigned k = 0; k < n_buckets; ++k)
      table[k] = lookup[k];
    decode_8bit(bytes, n, table.data(), dst);
    break;
  }
  }
  if (info->scalar != at::kFloat)
    return result.to(info->scalar);
  return result;
}

/// Classifies an exception escaping Cap'n Proto or LibTorch; `otherwise` is
/// the code for LibTorch errors other than allocation failures.
caf::error from_exception(const std::exception_ptr& ptr, const char* what,
                          errc otherwise) {
  try {
    std::rethrow_exception(ptr);
  } catch (const kj::Exception& e) {
    std::string text = e.getDescription().cStr();
    // Reader limits hit: "Exceeded message traversal limit", "expected
    // nestingLimit > 0 ... too deeply-nested". Not bad bytes, but too much.
    if (text.find("traversal limit") != std::string::npos ||
        text.find("nestingLimit") != std::string::npos)
      return make_error(errc::too_large, std::string{what} + ": " + text);
    return make_error(errc::malformed, std::string{what} + ": " + text);
  } catch (const std::bad_alloc&) {
    return make_error(errc::too_large, std::string{what} + ": out of memory");
  } catch (const c10::Error& e) {
    std::string text = e.what_without_backtrace();
    // LibTorch's allocator reports failure as c10::Error, not bad_alloc.
    auto code = text.find("allocate memory") != std::string::npos
                    ? errc::too_large
                    : otherwise;
    return make_error(code, std::string{what} + ": " + text);
  } catch (const std::exception& e) {
    return make_error(errc::malformed, std::string{what} + ": " + e.what());
  } catch (...) {
    return make_error(errc::malformed, std::string{what} + ": unknown error");
  }
}

} // namespace

const char* to_string(compression_type type) noexcept {
  switch (type) {
  case compression_type::none:
    return "none";
  case compression_type::float16:
    return "float16";
  case compression_type::scaled_float16:
    return "scaled_float16";
  case compression_type::uniform_8bit:
    return "uniform_8bit";
  case compression_type::quantile_8bit:
    return "quantile_8bit";
  }
  return "unknown";
}

std::optional<compression_type>
parse_compression_type(std::string_view name) noexcept {
  for (auto type : all_compression_types)
    if (name == to_string(type))
      return type;
  return std::nullopt;
}

caf::error encode_tensor(const at::Tensor& tensor, compression_type codec,
                         wire::Tensor::Builder out) {
  try {
    return encode_impl(tensor, codec, out);
  } catch (...) {
    return from_exception(std::current_exception(), "encoding tensor",
                          errc::invalid_argument);
  }
}

caf::error encode_tensor_filled(at::ScalarType dtype, at::IntArrayRef shape,
                                compression_type codec,
                                const std::function<void(at::Tensor&)>& fill,
                                wire::Tensor::Builder out) {
  try {
    auto* info = find_dtype(dtype);
    if (codec != compression_type::none || info == nullptr) {
      auto t = at::empty(shape, at::TensorOptions{}.dtype(dtype));
      fill(t);
      return encode_impl(t, codec, out);
    }
    uint64_t numel = 1;
    for (auto d : shape)
      numel *= static_cast<uint64_t>(d);
    auto bytes = numel * info->itemsize;
    if (bytes > max_data_bytes)
      return make_error(errc::too_large,
                        "encoded tensor has " + std::to_string(bytes) +
                            " bytes, above the wire's limit of " +
                            std::to_string(max_data_bytes) + " per tensor");
    out.setDtype(info->wire);
    out.setCompression(to_wire(codec));
    auto dims = out.initShape(static_cast<unsigned>(shape.size()));
    for (size_t d = 0; d < shape.size(); ++d)
      dims.set(static_cast<unsigned>(d), shape[d]);
    auto data = out.initData(static_cast<unsigned>(bytes));
    if (numel == 0)
      return {};
    auto target =
        at::from_blob(data.begin(), shape, at::TensorOptions{}.dtype(dtype));
    fill(target);
    return {};
  } catch (...) {
    return from_exception(std::current_exception(), "encoding tensor",
                          errc::invalid_argument);
  }
}

caf::expected<at::Tensor>
decode_tensor(wire::Tensor::Reader in, const tensor_limits& limits,
              std::shared_ptr<const void> keep_alive) {
  try {
    return decode_impl(in, limits, std::move(keep_alive));
  } catch (...) {
    return from_exception(std::current_exception(), "decoding tensor",
                          errc::malformed);
  }
}

uint64_t tensor_blob_words(const at::Tensor& tensor, compression_type codec) {
  if (!tensor.defined())
    return 0;
  auto* info = find_dtype(tensor.scalar_type());
  auto numel = static_cast<uint64_t>(tensor.numel());
  auto last = static_cast<uint64_t>(tensor.dim() > 0 ? tensor.size(-1) : 1);
  return words_for_bytes(
      layout_of(codec, numel, last, info ? info->itemsize : 8).data_bytes);
}

uint64_t tensor_message_words(const at::Tensor& tensor,
                              compression_type codec) {
  constexpr uint64_t tensor_words = wire::Tensor::_capnpPrivate::dataWordSize +
                                    wire::Tensor::_capnpPrivate::pointerCount;
  if (!tensor.defined())
    return tensor_words;
  auto* info = find_dtype(tensor.scalar_type());
  auto numel = static_cast<uint64_t>(tensor.numel());
  auto last = static_cast<uint64_t>(tensor.dim() > 0 ? tensor.size(-1) : 1);
  auto layout = layout_of(codec, numel, last, info ? info->itemsize : 8);
  return tensor_words +
         payload_words(layout, static_cast<size_t>(tensor.dim()));
}

caf::expected<envelope> encode_tensors(const std::vector<at::Tensor>& tensors,
                                       compression_type codec) {
  try {
    // Size the first segment for the whole message, so that it is built
    // in place in the envelope's buffer: root pointer, TensorList, the
    // list's tag word, then per tensor its struct and payload.
    constexpr uint64_t list_words =
        wire::TensorList::_capnpPrivate::dataWordSize +
        wire::TensorList::_capnpPrivate::pointerCount;
    uint64_t words = 1 + list_words + 1;
    for (auto& t : tensors)
      words += tensor_message_words(t, codec);
    flat_builder builder{words};
    auto list = builder.message().initRoot<wire::TensorList>().initTensors(
        static_cast<unsigned>(tensors.size()));
    for (size_t i = 0; i < tensors.size(); ++i)
      if (auto err =
              encode_tensor(tensors[i], codec, list[static_cast<unsigned>(i)]))
        return with_context(err, "tensor " + std::to_string(i) + ": ");
    return builder.finish();
  } catch (...) {
    return from_exception(std::current_exception(), "encoding tensors",
                          errc::invalid_argument);
  }
}

caf::expected<std::vector<at::Tensor>>
decode_tensors(const envelope& message, const tensor_limits& limits,
               const reader_limits& reader) {
  try {
    if (message.size() % sizeof(capnp::word) != 0 ||
        reinterpret_cast<uintptr_t>(message.data()) % sizeof(capnp::word) != 0)
      return make_error(errc::malformed,
                        "message is not a whole number of aligned words");
    capnp::FlatArrayMessageReader in{message.words(), reader.options()};
    auto list = in.getRoot<wire::TensorList>().getTensors();
    std::vector<at::Tensor> out;
    // The count is bounded by the traversal limit, not by memory: reserve
    // no more than a small number up front.
    out.reserve(std::min<size_t>(list.size(), 64));
    std::shared_ptr<const void> keep_alive = message.buffer();
    for (unsigned i = 0; i < list.size(); ++i) {
      auto t = decode_tensor(list[i], limits, keep_alive);
      if (!t)
        return with_context(t.error(), "tensor " + std::to_string(i) + ": ");
      out.push_back(std::move(*t));
    }
    return out;
  } catch (...) {
    return from_exception(std::current_exception(), "decoding tensors",
                          errc::malformed);
  }
}

std::optional<wire::DType> to_wire_dtype(at::ScalarType dtype) noexcept {
  if (auto* info = find_dtype(dtype))
    return info->wire;
  return std::nullopt;
}

std::optional<at::ScalarType> from_wire_dtype(wire::DType dtype) noexcept {
  if (auto* info = find_dtype(dtype))
    return info->scalar;
  return std::nullopt;
}

wire::Compression to_wire_compression(compression_type codec) noexcept {
  return to_wire(codec);
}

std::optional<compression_type>
from_wire_compression(wire::Compression codec) noexcept {
  return from_wire(codec);
}

} // namespace colony
