// Alarm points: `alarm/{name}` (Boolean) on a sensor of any kind, for devices that raise
// an alarm beside what they measure (a radar's fall detection: alarm/fall). Its rising
// edge is a press of kind {name}; the point is also stored and published as a raw point
// like any other (sensors/{id}/alarm/fall), so the device's own state stays visible.
#include "core/model/sensor_kind.h"

namespace gateway::model {

bool ConsumeAlarmPoint(FacilityState& f, SensorState& s, const Reading& r) {
  if (r.point.rfind(kAlarmPointPrefix, 0) != 0) return false;
  const std::string name = r.point.substr(std::char_traits<char>::length(kAlarmPointPrefix));
  auto v = AsBool(r.value);
  if (!v || name.empty()) {
    LogWrongType(f, s, r);
    return true;
  }
  bool& last = s.alarm_points[name];
  const bool was = last;
  last = *v;
  if (*v && !was) RecordPress(f, s, r, name, false);
  return true;
}

}  // namespace gateway::model
