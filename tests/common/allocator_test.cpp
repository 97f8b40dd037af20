#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "common/allocator.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VYOLO_ASAN_CLANG 1
#endif
#endif

TEST(Allocator, TunedOnGlibcAndSwitchableOff) {
  setenv("VYOLO_MALLOC_DEFAULT", "1", 1);
  EXPECT_FALSE(vyolo::tune_allocator());
  unsetenv("VYOLO_MALLOC_DEFAULT");
#if defined(__SANITIZE_ADDRESS__) || defined(VYOLO_ASAN_CLANG)
  // ASan's allocator replaces glibc's: mallopt does nothing there and says so (tools/sanitize.sh runs this test).
  EXPECT_FALSE(vyolo::tune_allocator());
#elif defined(__GLIBC__)
  EXPECT_TRUE(vyolo::tune_allocator());
  // Blocks of activation size still allocate, fill and free normally afterwards.
  for (int i = 0; i < 4; ++i) {
    std::vector<float> v(size_t(20) << 20, 1.0f);
    EXPECT_EQ(v[v.size() - 1], 1.0f);
  }
#else
  EXPECT_FALSE(vyolo::tune_allocator());
#endif
}
