// The facility model's running state, shared by the files that count each sensor kind
// (sensor_kind.h) and shape each facility type (facility_type.h); FacilityModel
// (core/facility_model.h) owns it and is its only caller, on the core's event-loop
// thread.
//
// Event time: what a reading changes is stamped with, and counted in the local day of,
// the reading's own timestamp. `event_day` is the newest local day the facility's
// readings have reached; a reading of an older day (late, or a backfill) is still
// counted in its own day, which `days` keeps for history.late_days. The gateway clock
// only announces a midnight the readings have not crossed yet (Tick), without changing
// this state, so a day fed late or replayed counts exactly like a day fed live.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "gateway/alarm.h"
#include "gateway/config.h"
#include "gateway/local_time.h"
#include "gateway/reading.h"

namespace gateway::model {

using Json = nlohmann::json;

constexpr int64_t kNever = std::numeric_limits<int64_t>::min();

std::optional<int64_t> AsInteger(const Value& v);
std::optional<uint64_t> AsCounter(const Value& v);  // any non-negative integer
std::optional<bool> AsBool(const Value& v);         // bool, or a coil's 0/1
std::optional<double> AsNumber(const Value& v);

// The newest sample by timestamp: a late sample must not undo a newer one.
template <typename T>
struct Latest {
  std::optional<T> value;
  int64_t ts = kNever;
  bool Offer(T v, int64_t at) {
    if (value && at < ts) return false;
    value = std::move(v);
    ts = at;
    return true;
  }
};

struct CounterState {
  uint64_t last = 0;
  int64_t ts = kNever;
};

struct ConnectorState {
  Latest<std::string> status;  // absent until the charge point's first status
  Latest<float> power_kw;
  Latest<double> energy_kwh;
};

struct SensorState {
  // From the config.
  std::string id;
  SensorKind kind = SensorKind::kDoorCounter;
  int64_t silent_ms = 0;
  uint32_t connector_base = 0;  // facility-wide number of this charge point's connector 0
  int64_t repeat_ms = 0;        // feedback terminals: presses this close count once
  std::string location;                  // shown with its alarms
  std::vector<std::string> call_actions;  // call buttons (call_button.cc)
  std::vector<std::string> test_actions;
  std::vector<OpeningPeriod> test_hours;

  // Running state (saved with the facility state).
  int64_t last_heard_ms = kNever;
  bool online = false;
  std::map<std::string, CounterState> counters;  // cumulative points, by point; present = has a baseline
  Latest<int64_t> occupancy;                      // occupancy sensors
  Latest<bool> flag;                              // seat occupied, equipment in_use
  std::vector<ConnectorState> connectors;         // charge points, sized from the config
  std::vector<int64_t> presses;                   // feedback terminals: the last counted presses, ascending
  std::map<std::string, bool> alarm_points;       // alarm/{name} points (alarm_point.cc): last state

  bool reset_logged = false;  // not saved: only spares the log

  void ResetRunning();
};

// A "since local midnight" count the facility publishes (visits/entries, meals/served,
// equipment/{id}/sessions...): its wire type is UInt64 or UInt32.
struct DailyMetric {
  std::string name;
  bool wide = false;  // UInt64 (visits/entries), else UInt32
};

class Emitter;

// The facility's feedback terminals (feedback_terminal.cc): their buttons (the same for
// all of them) and the day's minimum of answers for a significant index.
struct FeedbackSetup {
  std::vector<FeedbackButton> buttons;
  uint32_t min_responses = 20;
};

struct FacilityState {
  explicit FacilityState(TimeZone zone) : tz(std::move(zone)) {}

  // From the config.
  std::string id;
  std::string name;
  FacilityType type = FacilityType::kCanteen;
  uint32_t capacity = 0;
  TimeZone tz;
  std::vector<OpeningPeriod> opening_hours;
  std::optional<SensorKind> occupancy_source;  // which kind counts the people present
  std::vector<SensorState> sensors;
  std::unordered_map<std::string, size_t> sensor_index;
  std::vector<DailyMetric> daily;  // declared by the kinds and the facility type
  FeedbackSetup feedback;          // buttons empty: no feedback terminal
  int keep_days = 8;               // days kept for late readings: history.late_days + 1

  // Running state (saved).
  int64_t event_day = kNever;  // newest local day the readings have reached
  std::map<int64_t, std::map<std::string, uint64_t>> days;  // day -> daily metric -> count
  int64_t door_occupancy = 0;  // running sum of the door counters
  int64_t door_reset_ms = kNever;  // the midnight it last returned to 0
  int64_t announced_day = kNever;  // newest midnight Tick announced ahead of the readings
  std::optional<bool> open;        // as last published (status/open)

  // Where presses go while the model consumes a batch (set by FacilityModel::Process,
  // not saved): the AlarmBook's input.
  std::vector<AlarmPress>* presses = nullptr;

  // Caches of event_day's [start, end) in UTC ms.
  int64_t day_start_ms = 0;
  int64_t day_end_ms = 0;

  void DeclareDaily(std::string metric, bool wide);
  void ResetRunning();
  void SetEventDay(int64_t day_number, int64_t some_ms_of_day);
  int64_t DayOf(int64_t utc_ms) const;
  int64_t DayStartOf(int64_t day_number) const;
  bool ClosedAtStartOf(int64_t day_start_ms) const;

  // Moves the facility's event day forward to that of ts (never back): a new day starts
  // its counts at 0, published at its midnight, and a door-counted facility closed at
  // that midnight starts again from 0 people.
  void ObserveTime(int64_t ts, Emitter& em);
  // Adds to a since-midnight count of ts's local day and publishes that day's value,
  // stamped ts. Days older than keep_days before the event day are not counted (the
  // pipeline refuses readings that old).
  void AddToDay(const std::string& metric, int64_t ts, uint64_t delta, Emitter& em);
  uint64_t DayCount(int64_t day, const std::string& metric) const;
  void PruneDays(int64_t newest_day);

  // The people present as the occupancy source counts them (sensor_kind.h).
  uint32_t CurrentOccupancy() const;
  float Ratio(uint32_t current) const { return capacity > 0 ? float(current) / float(capacity) : 0.0f; }
  void EmitOccupancy(Emitter& em, int64_t ts) const;
  // Publishes every daily metric as 0 at a local midnight.
  void EmitDayStart(int64_t midnight, Emitter& em) const;
};

// Collects derived readings so that one call emits a metric at most once per
// (facility, metric, ts): a later write at the same key replaces the value in place.
class Emitter {
 public:
  explicit Emitter(std::vector<Reading>& out) : out_(out) {}
  void Emit(const std::string& facility_id, const std::string& point, Value value, int64_t ts);
  void EmitDaily(const std::string& facility_id, const DailyMetric& m, uint64_t count, int64_t ts);

 private:
  std::vector<Reading>& out_;
  std::unordered_map<std::string, size_t> index_;
};

}  // namespace gateway::model
