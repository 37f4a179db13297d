#include "core/model/sensor_kind.h"

#include <spdlog/spdlog.h>

namespace gateway::model {

namespace {

// A 32-bit counter that goes down from its top sixteenth wrapped; from anywhere lower
// it was reset (device reboot, battery change) and counted again from 0.
constexpr uint64_t kWrapZone = 0xF0000000ull;
constexpr uint64_t kTwoPow32 = 1ull << 32;
constexpr uint64_t kTwoPow16 = 1ull << 16;
constexpr uint64_t kWrapZone16 = kTwoPow16 - 1024;
// More than this in one step is not people walking through a door but a swapped or
// re-programmed device: counting it would put thousands of phantom visits in a report.
constexpr uint64_t kMaxCounterStep = 100000;

}  // namespace

// Defined in the kinds' own files.
const SensorKindRules& DoorCounterRules();
const SensorKindRules& OccupancySensorRules();
const SensorKindRules& SeatRules();
const SensorKindRules& MealTerminalRules();
const SensorKindRules& CheckinTerminalRules();
const SensorKindRules& ChargePointRules();
const SensorKindRules& EquipmentRules();
const SensorKindRules& FeedbackTerminalRules();
const SensorKindRules& CallButtonRules();

const SensorKindRules& RulesFor(SensorKind kind) {
  switch (kind) {
    case SensorKind::kDoorCounter: return DoorCounterRules();
    case SensorKind::kOccupancy: return OccupancySensorRules();
    case SensorKind::kSeat: return SeatRules();
    case SensorKind::kMealTerminal: return MealTerminalRules();
    case SensorKind::kCheckinTerminal: return CheckinTerminalRules();
    case SensorKind::kChargePoint: return ChargePointRules();
    case SensorKind::kEquipment: return EquipmentRules();
    case SensorKind::kFeedbackTerminal: return FeedbackTerminalRules();
    case SensorKind::kCallButton: return CallButtonRules();
  }
  return DoorCounterRules();  // unreachable: the enum is closed
}

void SensorKindRules::Configure(const SensorConfig&, FacilityState&, SensorState&) const {}

uint64_t SensorKindRules::FacilityOccupancy(const FacilityState& f) const {
  uint64_t n = 0;
  for (const auto& s : f.sensors) {
    if (&RulesFor(s.kind) == this) n += SensorOccupancy(s);
  }
  return n;
}

std::optional<uint64_t> CountStep(const FacilityState& f, SensorState& s, const Reading& r, uint64_t value) {
  auto [it, first] = s.counters.try_emplace(r.point);
  CounterState& c = it->second;
  if (first) {
    // Nothing is known of what the device counted before we first heard it.
    c.last = value;
    c.ts = r.ts_ms;
    return 0;
  }
  if (r.ts_ms < c.ts) {
    spdlog::debug("facility {}: {}/{} sample at {} is older than the last one; not counted", f.id, s.id, r.point,
                  r.ts_ms);
    return std::nullopt;
  }
  uint64_t delta = 0;
  if (value >= c.last) {
    delta = value - c.last;
  } else if (c.last >= kWrapZone && c.last < kTwoPow32 && value < kTwoPow32) {
    delta = kTwoPow32 - c.last + value;
  } else if (c.last >= kWrapZone16 && c.last < kTwoPow16 && value < kTwoPow16 - kWrapZone16) {
    // A 16-bit register counter (Modbus) wraps often. The zone is narrow, since such a
    // counter is polled every few seconds: a reset near the top is rarely mistaken for it.
    delta = kTwoPow16 - c.last + value;
  } else {
    delta = value;
    if (!s.reset_logged) {
      spdlog::info("facility {}: counter {}/{} went back from {} to {}: device reset, counting from 0 (further "
                   "resets of this sensor are logged at debug)",
                   f.id, s.id, r.point, c.last, value);
      s.reset_logged = true;
    } else {
      spdlog::debug("facility {}: counter {}/{} reset ({} -> {})", f.id, s.id, r.point, c.last, value);
    }
  }
  if (delta > kMaxCounterStep) {
    spdlog::warn("facility {}: counter {}/{} jumped by {} in one step ({} -> {}); not counted, new baseline", f.id,
                 s.id, r.point, delta, c.last, value);
    delta = 0;
  }
  c.last = value;
  c.ts = r.ts_ms;
  return delta;
}

void LogWrongType(const FacilityState& f, const SensorState& s, const Reading& r) {
  spdlog::debug("facility {}: {}/{} has a value of type {} that does not fit; ignored", f.id, s.id, r.point,
                DataTypeName(DataTypeOf(r.value)));
}

}  // namespace gateway::model
