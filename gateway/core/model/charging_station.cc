// Public EV charging station: its occupancy is its connectors with a car at them, and
// its capacity (when none is configured) the number of connectors.
#include "core/model/facility_type.h"

namespace gateway::model {

namespace {

class ChargingStation final : public FacilityTypeRules {
 public:
  void Configure(const FacilityConfig&, FacilityState& f) const override {
    f.DeclareDaily("sessions/completed", false);
  }
  std::optional<SensorKind> FallbackOccupancy() const override { return SensorKind::kChargePoint; }
};

}  // namespace

const FacilityTypeRules& ChargingStationRules() {
  static const ChargingStation rules;
  return rules;
}

}  // namespace gateway::model
