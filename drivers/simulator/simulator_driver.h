// SimulatorDriver: a deterministic stand-in for a facility's sensors, for demos,
// tests and benchmarks.
//
// For every sensor whose `driver` is "simulator" it produces the points a real sensor
// of that kind would (see SensorKind in gateway/config.h), following daily patterns
// per facility type: canteen lunch and supper peaks, day-care daytime attendance,
// charging sessions with realistic arrivals, durations and power (7 kW AC, 60 kW DC),
// fitness morning and evening peaks, and occasional sensor dropouts.
//
// Samples lie on a fixed grid of simulated time: sample k is taken at
// start + k * interval_s, and which values it has depends only on the seed and k, so a
// run is reproducible whatever the machine's speed. The grid advances `speed` times
// faster than real time; SimulatedClock tells the rest of the gateway the simulated
// time so that "local midnight" and opening hours follow the simulation.
//
// Threads: constructed, started and stopped on the core's event-loop thread; its
// timer runs there too. It only calls ReadingSink::Submit.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gateway/clock.h"
#include "gateway/config.h"
#include "gateway/driver.h"

namespace simulator {

// Simulated wall time: start_ms + (real elapsed) * speed. Thread-safe (immutable).
class SimulatedClock final : public gateway::Clock {
 public:
  SimulatedClock(int64_t start_ms, double speed);
  int64_t NowMs() const override;
  int64_t start_ms() const { return start_ms_; }
  double speed() const { return speed_; }

 private:
  int64_t start_ms_;
  double speed_;
  std::chrono::steady_clock::time_point real_start_;
};

// What the simulator has produced so far, per facility and local day, so tests can
// compare reports and platform data against the ground truth.
struct GeneratedTotals {
  uint64_t entries = 0;
  uint64_t exits = 0;
  uint64_t meals = 0;
  uint64_t checkins = 0;
  uint64_t charging_sessions = 0;
  uint64_t equipment_sessions = 0;
  uint64_t readings = 0;
};

class SimulatorDriver final : public gateway::Driver {
 public:
  // clock must be the SimulatedClock built from the same config (see MakeClock).
  SimulatorDriver(boost::asio::io_context& io, const gateway::Config& config,
                  const SimulatedClock& clock);
  ~SimulatorDriver() override;

  // The clock the whole gateway uses when the simulator is enabled: starts at
  // simulator.start (local time of the first facility's zone, or gateway.timezone),
  // or now when start is empty.
  static gateway::Result<std::unique_ptr<SimulatedClock>> MakeClock(const gateway::Config& config);

  std::string Name() const override { return "simulator"; }
  gateway::Status Start(gateway::ReadingSink& sink) override;
  void Stop() override;

  // Keyed by facility id, then local day "YYYY-MM-DD". Event-loop thread only.
  const std::map<std::string, std::map<std::string, GeneratedTotals>>& totals() const;

  // Pure: the readings of sample k (exposed for unit tests of determinism).
  std::vector<gateway::Reading> SampleForTest(uint64_t k);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace simulator
