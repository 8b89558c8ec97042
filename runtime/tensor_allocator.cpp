#include "runtime/tensor_allocator.hpp"

#include <malloc.h>

namespace colony {

bool tune_tensor_allocator(const tensor_allocator_options& options) {
  // Setting either value also turns off glibc's dynamic adjustment of the
  // mmap threshold, which would otherwise undo this after the first free.
  bool ok = mallopt(M_MMAP_THRESHOLD,
                    static_cast<int>(options.mmap_threshold_bytes)) == 1;
  ok = mallopt(M_TRIM_THRESHOLD,
               static_cast<int>(options.trim_threshold_bytes)) == 1 &&
       ok;
  ok = mallopt(M_ARENA_MAX, options.arenas) == 1 && ok;
  return ok;
}

} // namespace colony
