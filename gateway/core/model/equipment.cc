// equipment: in_use, one piece of fitness equipment. A use starts when in_use goes
// true (also on a first sample that says so: a use we had not seen start), counted in
// equipment/{id}/sessions of the day it started.
#include "core/model/sensor_kind.h"

namespace gateway::model {

namespace {

std::string SessionsMetric(const SensorState& s) { return "equipment/" + s.id + "/sessions"; }

class Equipment final : public SensorKindRules {
 public:
  void Configure(const SensorConfig&, FacilityState& f, SensorState& s) const override {
    f.DeclareDaily(SessionsMetric(s), false);
  }

  void Consume(FacilityState& f, SensorState& s, const Reading& r, Emitter& em) const override {
    if (r.point != "in_use") return;
    auto v = AsBool(r.value);
    if (!v) return LogWrongType(f, s, r);
    const bool was_in_use = s.flag.value && *s.flag.value;
    if (!s.flag.Offer(*v, r.ts_ms)) return;
    em.Emit(f.id, "equipment/" + s.id + "/in_use", *v, r.ts_ms);
    f.AddToDay(SessionsMetric(s), r.ts_ms, *v && !was_in_use ? 1 : 0, em);
    if (f.occupancy_source == SensorKind::kEquipment) f.EmitOccupancy(em, r.ts_ms);
  }

  uint64_t SensorOccupancy(const SensorState& s) const override { return s.flag.value && *s.flag.value ? 1 : 0; }

  void Describe(const FacilityState& f, const SensorState& s, int64_t day, FacilitySnapshot& out) const override {
    out.equipment.push_back(
        {s.id, s.flag.value.value_or(false), uint32_t(std::min<uint64_t>(f.DayCount(day, SessionsMetric(s)), UINT32_MAX))});
  }
};

}  // namespace

const SensorKindRules& EquipmentRules() {
  static const Equipment rules;
  return rules;
}

}  // namespace gateway::model
