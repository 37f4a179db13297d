// SensorKindRules: how the readings of one sensor kind count for its facility. One file
// per kind (door_counter.cc, occupancy_sensor.cc, seat.cc, counting_terminal.cc,
// charge_point.cc, equipment.cc, feedback_terminal.cc, call_button.cc); a new kind is one
// more file and one line in RulesFor().
//
// Rules are stateless singletons: all state lives in the SensorState and
// FacilityState they are handed (model_state.h). Called only by the FacilityModel, on
// the core's event-loop thread.
#pragma once

#include <cstdint>
#include <optional>

#include "core/facility_model.h"
#include "core/model/model_state.h"

namespace gateway::model {

class SensorKindRules {
 public:
  virtual ~SensorKindRules() = default;

  // At Create, once per sensor of this kind: sizes its state and declares the daily
  // metrics it feeds (FacilityState::DeclareDaily).
  virtual void Configure(const SensorConfig& config, FacilityState& f, SensorState& s) const;

  // One raw reading of this sensor (never the drivers' "online"), in time order within
  // a batch. Publishes what it changes through `em`, stamped with the reading's ts.
  virtual void Consume(FacilityState& f, SensorState& s, const Reading& r, Emitter& em) const = 0;

  // When this kind may count the people present: its rank among the kinds a facility
  // has (lower wins; a measurement beats a count, a count beats seats), or nullopt.
  virtual std::optional<int> OccupancyRank() const { return std::nullopt; }
  // The people present when this kind is the facility's occupancy source.
  virtual uint64_t FacilityOccupancy(const FacilityState& f) const;
  // This sensor's share of it (the default FacilityOccupancy sums them).
  virtual uint64_t SensorOccupancy(const SensorState&) const { return 0; }

  // What the status page shows of this sensor beyond online/last heard.
  virtual void Describe(const FacilityState&, const SensorState&, int64_t /*day*/, FacilitySnapshot&) const {}
};

const SensorKindRules& RulesFor(SensorKind kind);

// Cumulative counters (door counters, meal and check-in terminals): the increment
// since the sensor's last sample of `r.point`, or nullopt for a sample older than that
// one (its people are already in the newer sample's step). The first sample is a
// baseline (0). 32- and 16-bit wraps are followed; a drop elsewhere is a device reset,
// counted from 0; an implausible jump re-bases without counting.
std::optional<uint64_t> CountStep(const FacilityState& f, SensorState& s, const Reading& r, uint64_t value);

// Publishes a facility's satisfaction figures of `day` (feedback/{button}/share,
// feedback/index), stamped ts (feedback_terminal.cc).
void EmitFeedbackFigures(const FacilityState& f, int64_t day, int64_t ts, Emitter& em);

// Alarm points (alarm_point.cc): `alarm/{name}` on any sensor, Boolean; turning true is a
// press of kind {name}. Returns whether the reading was one (and is consumed).
inline constexpr const char* kAlarmPointPrefix = "alarm/";
bool ConsumeAlarmPoint(FacilityState& f, SensorState& s, const Reading& r);
// Records a press for the AlarmBook (call_button.cc).
void RecordPress(FacilityState& f, const SensorState& s, const Reading& r, const std::string& kind, bool test);
// call_button.cc: whether a reading of a call button may be a press (cheap, no change).
bool CallButtonMayPress(const SensorState& s, const Reading& r);

// Logs (at debug) a value whose type does not fit the point.
void LogWrongType(const FacilityState& f, const SensorState& s, const Reading& r);

}  // namespace gateway::model
