// `colony bench compression`: encode + decode throughput, error and size of
// each tensor codec on float32 randn, against memcpy of the same bytes.

#include "apps/bench/sample_statistics.hpp"
#include "apps/cli/commands.hpp"
#include "messages/error.hpp"
#include "messages/tensor_codec.hpp"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace colony::apps {

namespace {

struct bench_compression_args {
  bool json = false;
  /// float32 elements of the input tensor.
  int64_t numel = 10'000'000;
  /// Timed rounds; each round runs memcpy and then every codec once.
  int repeats = 5;
};

using clock_type = std::chrono::steady_clock;

struct codec_result {
  std::vector<double> encode_s;
  std::vector<double> decode_s;
  std::vector<double> total_s;
  std::vector<double> ratio; ///< memcpy time / codec time, per round
  double mse = 0;
  size_t encoded_bytes = 0;
};

int run_bench(const bench_compression_args& args) {
  if (args.numel <= 0 || args.repeats <= 0) {
    std::fprintf(stderr, "--numel and --repeats must be positive\n");
    return 2;
  }
  // Explicit, so results do not depend on OMP_NUM_THREADS or LibTorch's
  // default (this is torch::set_num_threads).
  auto threads =
      static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(threads);

  // Rows of 1000 when possible: scaled_float16 normalizes per row.
  std::vector<int64_t> shape = {args.numel};
  if (args.numel % 1000 == 0 && args.numel > 1000)
    shape = {args.numel / 1000, 1000};
  at::manual_seed(0);
  auto x = at::randn(shape);
  auto bytes = static_cast<size_t>(args.numel) * sizeof(float);

  // Baseline: memcpy of the same bytes into a buffer that is already
  // faulted in (the codecs' output buffers are fresh, which favors memcpy).
  std::vector<char> copy(bytes);
  std::memset(copy.data(), 1, bytes);
  std::vector<double> memcpy_s;

  std::vector<codec_result> results(std::size(all_compression_types));
  for (int round = -1; round < args.repeats; ++round) { // round -1: warm-up
    auto start = clock_type::now();
    std::memcpy(copy.data(), x.data_ptr(), bytes);
    double base = seconds_since(start);
    if (round >= 0)
      memcpy_s.push_back(base);
    for (size_t c = 0; c < results.size(); ++c) {
      auto codec = all_compression_types[c];
      auto t0 = clock_type::now();
      auto env = encode_tensors({x}, codec);
      double enc = seconds_since(t0);
      if (!env) {
        std::fprintf(stderr, "%s: encode failed: %s\n", to_string(codec),
                     describe(env.error()).c_str());
        return 1;
      }
      auto t1 = clock_type::now();
      auto out = decode_tensors(*env, tensor_limits{});
      double dec = seconds_since(t1);
      if (!out || out->size() != 1) {
        std::fprintf(stderr, "%s: decode failed: %s\n", to_string(codec),
                     out ? "wrong count" : describe(out.error()).c_str());
        return 1;
      }
      auto& r = results[c];
      if (round < 0) {
        // Error and size once, outside the timed rounds.
        r.mse = (out->at(0) - x).square().mean().item<double>();
        r.encoded_bytes = env->size();
        continue;
      }
      r.encode_s.push_back(enc);
      r.decode_s.push_back(dec);
      r.total_s.push_back(enc + dec);
      r.ratio.push_back(base / (enc + dec));
    }
  }

  auto gbps = [&](double s) {
    return s > 0 ? bytes / s / 1e9 : 0.0;
  };
  double base_s = median(memcpy_s);
  if (args.json) {
    std::string out =
        "{\"bench\":\"compression\",\"numel\":" + std::to_string(args.numel) +
        ",\"shape\":[";
    for (size_t i = 0; i < shape.size(); ++i)
      out += (i ? "," : "") + std::to_string(shape[i]);
    char buf[512];
    std::snprintf(buf, sizeof(buf),
                  "],\"input_bytes\":%zu,\"threads\":%d,\"repeats\":%d,"
                  "\"baseline\":{\"name\":\"memcpy\",\"median_ms\":%.3f,"
                  "\"gbps\":%.3f},\"codecs\":{",
                  bytes, threads, args.repeats, base_s * 1e3, gbps(base_s));
    out += buf;
    for (size_t c = 0; c < results.size(); ++c) {
      auto& r = results[c];
      double total = median(r.total_s);
      std::snprintf(
          buf, sizeof(buf),
          "%s\"%s\":{\"median_ms\":%.3f,\"gbps\":%.3f,\"encode_gbps\":%.3f,"
          "\"decode_gbps\":%.3f,\"ratio_to_memcpy\":%.3f,\"mse\":%.3g,"
          "\"encoded_bytes\":%zu,\"compression_ratio\":%.3f}",
          c ? "," : "", to_string(all_compression_types[c]), total * 1e3,
          gbps(total), gbps(median(r.encode_s)), gbps(median(r.decode_s)),
          median(r.ratio), r.mse, r.encoded_bytes,
          static_cast<double>(bytes) / static_cast<double>(r.encoded_bytes));
      out += buf;
    }
    out += "}}";
    std::printf("%s\n", out.c_str());
  } else {
    std::printf("compression of %lld float32 randn (%.1f MB), %d threads, "
                "median of %d rounds\n",
                static_cast<long long>(args.numel), bytes / 1e6, threads,
                args.repeats);
    std::printf("memcpy baseline: %.2f ms, %.2f GB/s\n\n", base_s * 1e3,
                gbps(base_s));
    std::printf("%-15s %9s %10s %10s %10s %9s %10s %12s\n", "codec", "ms",
                "GB/s", "enc GB/s", "dec GB/s", "/memcpy", "MSE", "bytes");
    for (size_t c = 0; c < results.size(); ++c) {
      auto& r = results[c];
      double total = median(r.total_s);
      std::printf("%-15s %9.2f %10.2f %10.2f %10.2f %9.3f %10.3g %12zu\n",
                  to_string(all_compression_types[c]), total * 1e3, gbps(total),
                  gbps(median(r.encode_s)), gbps(median(r.decode_s)),
                  median(r.ratio), r.mse, r.encoded_bytes);
    }
    std::printf("\nGB/s = float32 input bytes / (encode + decode) time; "
                "/memcpy = codec throughput relative to memcpy.\n");
  }
  return 0;
}

} // namespace

void add_bench_compression_command(CLI::App& bench) {
  auto args = std::make_shared<bench_compression_args>();
  auto* cmd = bench.add_subcommand(
      "compression", "tensor codecs: encode+decode GB/s, MSE and size against "
                     "memcpy");
  cmd->add_option("--numel", args->numel, "float32 elements to encode")
      ->capture_default_str();
  cmd->add_option("--repeats", args->repeats, "timed rounds (median)")
      ->capture_default_str();
  cmd->add_flag("--json", args->json, "print one JSON line");
  cmd->callback([args] { exit_with(run_bench(*args)); });
}

} // namespace colony::apps
