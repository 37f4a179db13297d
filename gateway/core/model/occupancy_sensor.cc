// occupancy: people present, measured directly (a camera, a radar). Measured beats
// counted: where a facility has one, it is the occupancy source; several add up.
#include "core/model/sensor_kind.h"

namespace gateway::model {

namespace {

class OccupancySensor final : public SensorKindRules {
 public:
  void Consume(FacilityState& f, SensorState& s, const Reading& r, Emitter& em) const override {
    if (r.point != "occupancy") return;
    auto v = AsInteger(r.value);
    if (!v || *v < 0) return LogWrongType(f, s, r);
    if (!s.occupancy.Offer(*v, r.ts_ms)) return;
    if (f.occupancy_source == SensorKind::kOccupancy) f.EmitOccupancy(em, r.ts_ms);
  }
  std::optional<int> OccupancyRank() const override { return 0; }
  uint64_t SensorOccupancy(const SensorState& s) const override {
    return s.occupancy.value ? uint64_t(*s.occupancy.value) : 0;
  }
};

}  // namespace

const SensorKindRules& OccupancySensorRules() {
  static const OccupancySensor rules;
  return rules;
}

}  // namespace gateway::model
