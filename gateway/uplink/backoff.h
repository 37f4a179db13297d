// Backoff: capped exponential delays with jitter for reconnect attempts (MQTT now,
// OCPP later), reset after a success.
//
// Jitter spreads the reconnects of hundreds of gateways that lost the same broker at
// the same moment. "Equal jitter": each delay is half the capped exponential plus a
// random share of the other half, so it never drops below min/2 nor exceeds max.
// Not thread-safe: owned by one component on its thread.
#pragma once

#include <cstdint>
#include <random>

namespace gateway::uplink {

class Backoff {
 public:
  Backoff(int min_ms, int max_ms, uint64_t seed = std::random_device{}());
  int NextDelayMs();
  void Reset() { attempt_ = 0; }
  int attempt() const { return attempt_; }

 private:
  int min_ms_;
  int max_ms_;
  int attempt_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace gateway::uplink
