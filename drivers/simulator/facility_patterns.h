// Facility patterns: the simulator's model of what happens in a facility, sample by
// sample, with no Asio and no I/O so that it can be unit-tested and replayed.
//
// A Simulation holds one FacilitySim per configured facility. Step(t) advances every
// facility to the sample taken at simulated UTC time t and returns the readings its
// "simulator" sensors report then, plus what happened (entries, meals, sessions...) for
// the ground-truth totals. Every random draw comes from generators seeded from
// (seed, facility index, sensor index, stream), and the steps must be taken in grid
// order, so the readings of sample k depend only on the config, the seed and k.
//
// Ownership: a Simulation copies what it needs from the Config. It is not thread-safe;
// the driver owns it and uses it on the event-loop thread.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gateway/config.h"
#include "gateway/local_time.h"
#include "gateway/reading.h"
#include "gateway/status.h"

namespace simulator {

// ---------------------------------------------------------------------------------------
// Daily patterns (pure functions of local time).

// People arriving per hour per unit of capacity at a facility of this type, at this local
// time, before the day's random factor. Charging stations use ChargingArrivalPerHour.
double PeopleArrivalRatePerHour(gateway::FacilityType type, const gateway::LocalDateTime& local);

// Chance per hour that a free connector gets a car, at this local time.
double ChargingArrivalPerHour(const gateway::LocalDateTime& local, bool dc);

// Capacity assumed when the config leaves it 0 (the rates above scale with it).
uint32_t DefaultCapacity(gateway::FacilityType type);

// OCPP 1.6 ChargePointStatus values the simulator produces.
enum class ConnectorStatus {
  kAvailable,
  kPreparing,
  kCharging,
  kSuspendedEV,
  kFinishing,
  kFaulted,
  kUnavailable,  // while the facility is closed
};
const char* ConnectorStatusName(ConnectorStatus s);

// ---------------------------------------------------------------------------------------
// Deterministic random numbers. Hand-written draws on top of mt19937_64 (whose output
// the standard fixes) rather than std::*_distribution (whose algorithms differ between
// standard libraries), so a seed gives the same run on every build.
class Rng {
 public:
  Rng() = default;
  explicit Rng(uint64_t seed) : engine_(seed) {}
  // Seed mixed from a few identifiers (seed, facility index, sensor index, stream).
  static Rng For(uint64_t seed, uint64_t a, uint64_t b, uint64_t stream);

  double Uniform();                       // [0, 1)
  double Uniform(double lo, double hi);   // [lo, hi)
  int64_t UniformInt(int64_t lo, int64_t hi);  // [lo, hi], inclusive
  bool Chance(double p) { return Uniform() < p; }
  uint32_t Poisson(double lambda);

 private:
  std::mt19937_64 engine_;
};

// What happened in one facility in one sample; summed per local day by the driver.
struct FacilityEvents {
  uint64_t entries = 0;             // increments of simulated door counters
  uint64_t exits = 0;
  uint64_t meals = 0;               // increments of simulated meal terminals
  uint64_t checkins = 0;            // increments of simulated check-in terminals
  uint64_t charging_sessions = 0;   // sessions started on simulated connectors
  uint64_t equipment_sessions = 0;  // false -> true of simulated equipment
  uint64_t feedback = 0;            // button presses on simulated feedback terminals
  uint64_t readings = 0;            // readings emitted (sensors not in a dropout)
};

struct FacilityStepResult {
  size_t facility_index = 0;
  int64_t local_day = 0;  // local day number of the sample in the facility's zone
  FacilityEvents events;
};

struct SimulationOptions {
  uint64_t seed = 1;
  int64_t interval_ms = 60000;
  double dropout_probability = 0;
};

class FacilitySim;

class Simulation {
 public:
  // Fails when a facility's time zone (or gateway.timezone) cannot be loaded.
  static gateway::Result<std::unique_ptr<Simulation>> Create(const gateway::Config& config,
                                                             const SimulationOptions& options);
  ~Simulation();

  // Advances every facility to the sample at t_ms (which must be one interval after the
  // previous step) and appends the readings of that sample to `out`.
  void Step(int64_t t_ms, std::vector<gateway::Reading>& out,
            std::vector<FacilityStepResult>* results = nullptr);

  size_t facility_count() const { return facilities_.size(); }
  const std::string& facility_id(size_t i) const;
  // People present now in facility i (ground truth, for tests).
  uint32_t present(size_t i) const;

 private:
  Simulation() = default;
  std::vector<std::unique_ptr<FacilitySim>> facilities_;
};

}  // namespace simulator
