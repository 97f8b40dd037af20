#include "common/allocator.h"

#include <cstdlib>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace vyolo {

bool tune_allocator() {
  if (const char* e = std::getenv("VYOLO_MALLOC_DEFAULT"); e && *e && *e != '0') return false;
#if defined(__GLIBC__)
  // Both are needed: the threshold alone still trims freed tops back to the kernel, the trim setting alone turns the
  // dynamic threshold off at its 128 KiB start (measured 10x slower).
  const bool a = mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1;
  const bool b = mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1;
  return a && b;
#else
  return false;
#endif
}

}  // namespace vyolo
