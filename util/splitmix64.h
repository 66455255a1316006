// SplitMix64's finaliser: a cheap, well-mixed 64-bit hash. Counter-based
// randomness (the sampler's per-(seed, position) draws, the trainer's
// per-(seed, step) batches) is built on it, so that a draw depends only on
// its own counter and never on a shared generator's history.
#ifndef TINYLM_UTIL_SPLITMIX64_H_
#define TINYLM_UTIL_SPLITMIX64_H_

#include <cstdint>

namespace tinylm {

inline uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace tinylm

#endif  // TINYLM_UTIL_SPLITMIX64_H_
