#include "uplink/backoff.h"

#include <algorithm>

namespace gateway::uplink {

Backoff::Backoff(int min_ms, int max_ms, uint64_t seed)
    : min_ms_(std::max(1, min_ms)), max_ms_(std::max(min_ms_, max_ms)), rng_(seed) {}

int Backoff::NextDelayMs() {
  // Doubling stops at the cap; the shift is bounded so it cannot overflow.
  int64_t cap = static_cast<int64_t>(min_ms_) << std::min(attempt_, 30);
  cap = std::min<int64_t>(cap, max_ms_);
  ++attempt_;
  int64_t half = cap / 2;
  std::uniform_int_distribution<int64_t> jitter(0, cap - half);
  return static_cast<int>(half + jitter(rng_));
}

}  // namespace gateway::uplink
