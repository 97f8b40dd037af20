#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "common/allocator.h"

TEST(Allocator, TunedOnGlibcAndSwitchableOff) {
  setenv("VYOLO_MALLOC_DEFAULT", "1", 1);
  EXPECT_FALSE(vyolo::tune_allocator());
  unsetenv("VYOLO_MALLOC_DEFAULT");
#if defined(__GLIBC__)
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
