// See malloc_policy.h.
#include "core/malloc_policy.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace ds2 {

void retain_freed_memory(size_t mmap_threshold, size_t trim_threshold) {
#if defined(__GLIBC__)
  // Setting either disables glibc's dynamic adjustment of both (mallopt(3)).
  mallopt(M_MMAP_THRESHOLD, static_cast<int>(mmap_threshold));
  mallopt(M_TRIM_THRESHOLD, static_cast<int>(trim_threshold));
#else
  (void)mmap_threshold;
  (void)trim_threshold;
#endif
}

}  // namespace ds2
