// common/rng.h: splitmix must keep its exact values, since phantom cases and augmentation streams derive from it.
#include "common/rng.h"

#include <gtest/gtest.h>

namespace {

TEST(Rng, SplitmixKnownValues) {
  // 0 -> the first output of the reference SplitMix64 generator seeded with 0.
  EXPECT_EQ(vyolo::splitmix(0), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(vyolo::splitmix(1), 0x910a2dec89025cc1ULL);
  EXPECT_EQ(vyolo::splitmix(42), 0xbdd732262feb6e95ULL);
  EXPECT_EQ(vyolo::splitmix(~0ULL), 0xe4d971771b652c20ULL);
}

}  // namespace
