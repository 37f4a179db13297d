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
// Event time (docs/report-format.md): what a reading changes is stamped with, and
// counted in the local day of, the reading's own timestamp; a late or backfilled
// reading counts in its own day exactly as if it had come live. The gateway Clock
// (`now_ms`) only stamps what is a fact of the present moment (opening hours, a sensor
// falling silent, the configured capacity) and announces a local midnight the
// readings have not crossed yet. Each sensor kind and facility type has its rules in a
// file of its own under core/model/.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gateway/alarm.h"
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
  std::string status;       // OCPP status; "" until the charge point sends one
  double power_kw = 0;
};

struct EquipmentSnapshot {
  std::string id;
  bool in_use = false;
  uint32_t sessions_today = 0;
};

// The facility's residents' satisfaction today (core/model/feedback_terminal.cc).
struct FeedbackSnapshot {
  struct Button {
    std::string name;
    int score = 0;
    uint64_t responses = 0;
    double share = 0;
  };
  bool present = false;  // the facility has a feedback terminal
  uint64_t responses = 0;
  std::optional<double> index;  // 0..100; absent without responses
  bool significant = false;     // responses >= min_responses
  uint32_t min_responses = 0;
  std::vector<Button> buttons;
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
  FeedbackSnapshot feedback;
};

class FacilityModel {
 public:
  // Fails when a facility's timezone cannot be loaded.
  static Result<std::unique_ptr<FacilityModel>> Create(const Config& config);
  ~FacilityModel();

  // At start-up (after LoadState): what is taken at now_ms, the configured capacity
  // and status/open. Nothing that came from a reading is re-emitted: the buffer's
  // latest values (and so the births) keep it with the timestamp it was taken at.
  void EmitAll(int64_t now_ms, std::vector<Reading>& out);

  // Consumes one batch of raw readings from the drivers. Appends the facility metrics
  // those readings feed to `out`, every time (platforms expect the regular update), each
  // stamped with the ts of the reading that fed it; within one call a metric appears at
  // most once per (facility, metric, ts), with its final value, so the two points of one
  // door-counter sample give one occupancy/current. The raw readings are not copied:
  // the Pipeline stores them as they are. Readings for unknown facilities or sensors are
  // left alone and counted by the Pipeline.
  // Presses of call buttons and alarm points go to `presses` (when given), in time order.
  void Process(const std::vector<Reading>& raw, std::vector<Reading>& out,
               std::vector<AlarmPress>* presses = nullptr);

  // Whether this reading may be a press (so the pipeline commits it at once rather than
  // at the group-commit interval): an action, or a pressed/alarm point turning true.
  bool MayRaiseAlarm(const Reading& r) const;

  // Time passes: opening hours flip status/open, sensors not heard for their silence
  // bound go offline, and a local midnight the readings have not crossed yet is
  // announced (the daily counts as 0, stamped at it) without changing the counts.
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
