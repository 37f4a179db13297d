// door_counter: entries_total and exits_total, cumulative. Entries are the facility's
// visits; entries minus exits, never below 0, is its running occupancy, which starts
// again from 0 at a local midnight the facility is closed at (model_state.cc).
#include "core/model/sensor_kind.h"

namespace gateway::model {

namespace {

class DoorCounter final : public SensorKindRules {
 public:
  void Configure(const SensorConfig&, FacilityState& f, SensorState&) const override {
    f.DeclareDaily("visits/entries", true);
  }

  void Consume(FacilityState& f, SensorState& s, const Reading& r, Emitter& em) const override {
    const bool entries = r.point == "entries_total";
    if (!entries && r.point != "exits_total") return;
    auto v = AsCounter(r.value);
    if (!v) return LogWrongType(f, s, r);
    auto delta = CountStep(f, s, r, *v);
    if (!delta) return;
    if (entries) f.AddToDay("visits/entries", r.ts_ms, *delta, em);
    // People who came or went before the last midnight reset are not in the new count.
    if (f.door_reset_ms != kNever && r.ts_ms < f.door_reset_ms) return;
    if (entries) {
      f.door_occupancy += int64_t(*delta);
    } else {
      f.door_occupancy = std::max<int64_t>(0, f.door_occupancy - int64_t(*delta));
    }
    if (f.occupancy_source == SensorKind::kDoorCounter) f.EmitOccupancy(em, r.ts_ms);
  }

  std::optional<int> OccupancyRank() const override { return 1; }
  uint64_t FacilityOccupancy(const FacilityState& f) const override {
    return uint64_t(std::max<int64_t>(0, f.door_occupancy));
  }
};

}  // namespace

const SensorKindRules& DoorCounterRules() {
  static const DoorCounter rules;
  return rules;
}

}  // namespace gateway::model
