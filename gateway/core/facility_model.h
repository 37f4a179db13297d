// FacilityModel: turns raw sensor readings into the facility metrics of the wire
// contract (occupancy/current, occupancy/ratio, visits/entries, status/open,
// meals/served, checkins/count, connectors/*, sessions/*, equipment/*,
// sensors/{id}/online).
//
// Owned by the Pipeline and called only on the core's event-loop thread. It keeps the
// running state (counter baselines, occupancy, today's counts) in memory and
// serialises it with SaveState() so the Pipeline commits it in the same SQLite
// transaction as the readings that produced it: after SIGKILL the state and the
// buffer agree, and nothing is counted twice.
//
// Time is the reading's timestamp for what a reading changes, and `now_ms` (the
// gateway Clock) for what happens by itself: local midnight, opening and closing,
// sensors falling silent.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gateway/config.h"
#include "gateway/local_time.h"
#include "gateway/reading.h"

namespace gateway {

// Per-sensor detail for the status page and /metrics.
struct SensorSnapshot {
  std::string id;
  SensorKind kind = SensorKind::kDoorCounter;
  bool online = false;
  int64_t last_heard_ms = -1;  // on the gateway Clock; -1 = never heard
};

struct ConnectorSnapshot {
  uint32_t number = 0;      // facility-wide, as in connectors/{n}/status
  std::string sensor_id;    // the charge point
  std::string status;       // OCPP status; "Unavailable" before the charge point spoke
  double power_kw = 0;
};

struct EquipmentSnapshot {
  std::string id;
  bool in_use = false;
  uint32_t sessions_today = 0;
};

struct FacilitySnapshot {
  std::string id;
  std::string name;
  FacilityType type = FacilityType::kCanteen;
  uint32_t capacity = 0;
  uint32_t occupancy = 0;
  bool open = false;
  uint64_t entries_today = 0;
  uint32_t sensors_total = 0;
  uint32_t sensors_online = 0;
  uint32_t meals_today = 0;
  uint32_t checkins_today = 0;
  std::vector<SensorSnapshot> sensors;
  std::vector<ConnectorSnapshot> connectors;
  std::vector<EquipmentSnapshot> equipment;
};

class FacilityModel {
 public:
  // Fails when a facility's timezone cannot be loaded.
  static Result<std::unique_ptr<FacilityModel>> Create(const Config& config);
  ~FacilityModel();

  // The derived metrics for every facility with their current values, stamped now_ms.
  // Called once at start-up (after LoadState) so the buffer and the births always hold
  // the full set, including occupancy/capacity.
  void EmitAll(int64_t now_ms, std::vector<Reading>& out);

  // Consumes one batch of raw readings from the drivers. Appends the facility metrics
  // those readings feed to `out`, every time (platforms expect the regular update), each
  // stamped with the ts of the reading that fed it; within one call a metric appears at
  // most once per (facility, metric, ts), with its final value, so the two points of one
  // door-counter sample give one occupancy/current. The raw readings are not copied:
  // the Pipeline stores them as they are. Readings for unknown facilities or sensors are
  // left alone and counted by the Pipeline.
  void Process(const std::vector<Reading>& raw, std::vector<Reading>& out);

  // Time passes: local midnight resets the daily counts, opening hours flip
  // status/open, sensors not heard for their silence bound go offline.
  void Tick(int64_t now_ms, std::vector<Reading>& out);

  bool KnowsSensor(const std::string& facility_id, const std::string& sensor_id) const;

  std::string SaveState() const;                    // JSON
  Status LoadState(const std::string& json);        // tolerant: unknown ids ignored

  std::vector<FacilitySnapshot> Snapshot() const;

 private:
  FacilityModel();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gateway
