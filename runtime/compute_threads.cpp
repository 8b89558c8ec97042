#include "runtime/compute_threads.hpp"

#include <ATen/Parallel.h>

#include <thread>

namespace colony {

size_t set_compute_threads(size_t threads) {
  if (threads == 0)
    threads = std::max(1u, std::thread::hardware_concurrency());
  at::set_num_threads(static_cast<int>(threads));
  return static_cast<size_t>(at::get_num_threads());
}

} // namespace colony
