// call_button: pull cords, SOS buttons, a terminal's call key (一键通). Two ways to press:
// `pressed` (Boolean, a state: a Modbus discrete input or coil, a latched cord; its
// rising edge is a press, so a 1 Hz poll of a held button is one press) and `action`
// (String, an event: zigbee2mqtt's {"action":"emergency"}, an HTTP terminal; every
// call or test action is a press, repeats included, for the AlarmBook to fold). Other
// actions (a remote's arm/disarm keys) are not calls. A press is a test when the device
// says so (a test action) or falls within the sensor's test_hours (the weekly test of
// the cords), in the facility's local time of the press itself.
//
// This file only says which readings are presses; what a press becomes (a new alarm, a
// repeat folded in) is the AlarmBook's business (gateway/alarm). No facility metric is
// derived here: alarms have their own lane.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/model/sensor_kind.h"
#include "gateway/opening_hours.h"

namespace gateway::model {

namespace {

bool Contains(const std::vector<std::string>& list, const std::string& v) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

class CallButton final : public SensorKindRules {
 public:
  void Configure(const SensorConfig& c, FacilityState&, SensorState& s) const override {
    s.call_actions = c.call_actions;
    s.test_actions = c.test_actions;
    s.test_hours = c.test_hours;
  }

  void Consume(FacilityState& f, SensorState& s, const Reading& r, Emitter&) const override {
    if (r.point == "pressed") {
      auto v = AsBool(r.value);
      if (!v) return LogWrongType(f, s, r);
      const bool was = s.flag.value.value_or(false);
      if (!s.flag.Offer(*v, r.ts_ms)) return;  // older than the state we have
      if (*v && !was) RecordPress(f, s, r, "call", InTestHours(f, s, r.ts_ms));
      return;
    }
    if (r.point == "action") {
      const auto* a = std::get_if<std::string>(&r.value);
      if (!a) return LogWrongType(f, s, r);
      if (Contains(s.test_actions, *a)) return RecordPress(f, s, r, "call", true);
      if (Contains(s.call_actions, *a)) return RecordPress(f, s, r, "call", InTestHours(f, s, r.ts_ms));
      if (!a->empty()) spdlog::debug("facility {}: {} action '{}' is not a call", f.id, s.id, a->substr(0, 64));
    }
  }

 private:
  static bool InTestHours(const FacilityState& f, const SensorState& s, int64_t ts) {
    return !s.test_hours.empty() && IsOpenAt(s.test_hours, f.tz.ToLocal(ts));
  }
};

}  // namespace

bool CallButtonMayPress(const SensorState& s, const Reading& r) {
  if (r.point == "action") return std::holds_alternative<std::string>(r.value);
  if (r.point == "pressed") return AsBool(r.value).value_or(false) && !s.flag.value.value_or(false);
  return false;
}

void RecordPress(FacilityState& f, const SensorState& s, const Reading& r, const std::string& kind, bool test) {
  if (!f.presses) return;
  f.presses->push_back(AlarmPress{f.id, s.id, s.location, kind, test, r.replayed, r.ts_ms});
}

const SensorKindRules& CallButtonRules() {
  static const CallButton rules;
  return rules;
}

}  // namespace gateway::model
