// Clock: the seam through which components read wall time, so tests control it.
//
// Wall time is UTC epoch milliseconds (what goes on the wire). Implementations must be
// safe to call from any thread.
#pragma once

#include <cstdint>

namespace gateway {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowMs() const = 0;
};

// The real clock: std::chrono::system_clock.
class SystemClock final : public Clock {
 public:
  int64_t NowMs() const override;
  static const SystemClock& Instance();
};

}  // namespace gateway
