// SplitMix64 (Steele, Lea, Flood 2014): the one seed mixer behind every reproducible random stream (phantom cases,
// augmentation samples). Derived seeds must stay bit-identical across releases, or synthetic data and training
// runs change, so this is the only copy.
#pragma once
#include <cstdint>

namespace vyolo {

// One SplitMix64 step on `x`: well-spread 64 bits even for neighbouring inputs (case 0, 1, 2 ...).
inline uint64_t splitmix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace vyolo
