#pragma once

#include <cstddef>

namespace colony {

/// Memory the C allocator keeps for reuse instead of returning it to the
/// kernel. Tensors of an expert batch are megabytes each; by default glibc
/// maps and unmaps such blocks per allocation, and every fresh page faults
/// and is zeroed again (measured: ~15% of a ffn forward+backward spent in
/// the kernel, 20% more samples/s without it).
struct tensor_allocator_options {
  /// Blocks up to this size come from the heap and are reused (glibc's
  /// ceiling for this setting is 32 MiB on 64-bit).
  size_t mmap_threshold_bytes = size_t{32} << 20;
  /// Free memory at the top of a heap kept before it is given back.
  size_t trim_threshold_bytes = size_t{512} << 20;
  /// Allocator arenas. Threads other than the main one otherwise get arenas
  /// of 64 MiB heaps that ignore the settings above for large blocks: the
  /// device thread computing in its own arena ran 16% slower than the same
  /// code on the main thread. Colony's threads allocate little else, so
  /// one shared arena costs no measurable contention.
  int arenas = 1;
};

/// Tunes the process's allocator for tensor-sized blocks. Call once, early
/// (before threads allocate). Returns false if the C library refused.
bool tune_tensor_allocator(const tensor_allocator_options& options = {});

} // namespace colony
