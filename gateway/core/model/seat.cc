// seat: occupied, one seat or room. Without a door counter or an occupancy sensor the
// seats taken are the people present (a canteen's tables, a day-care centre's beds).
#include "core/model/sensor_kind.h"

namespace gateway::model {

namespace {

class Seat final : public SensorKindRules {
 public:
  void Consume(FacilityState& f, SensorState& s, const Reading& r, Emitter& em) const override {
    if (r.point != "occupied") return;
    auto v = AsBool(r.value);
    if (!v) return LogWrongType(f, s, r);
    if (!s.flag.Offer(*v, r.ts_ms)) return;
    if (f.occupancy_source == SensorKind::kSeat) f.EmitOccupancy(em, r.ts_ms);
  }
  std::optional<int> OccupancyRank() const override { return 2; }
  uint64_t SensorOccupancy(const SensorState& s) const override { return s.flag.value && *s.flag.value ? 1 : 0; }
};

}  // namespace

const SensorKindRules& SeatRules() {
  static const Seat rules;
  return rules;
}

}  // namespace gateway::model
