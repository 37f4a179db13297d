// The registry of facility types (facility_type.h); each type's rules are in a file
// of its own.
#include "core/model/facility_type.h"

namespace gateway::model {

const FacilityTypeRules& CanteenRules();
const FacilityTypeRules& ElderlyStationRules();
const FacilityTypeRules& ChargingStationRules();
const FacilityTypeRules& FitnessPointRules();

const FacilityTypeRules& RulesFor(FacilityType type) {
  switch (type) {
    case FacilityType::kCanteen: return CanteenRules();
    case FacilityType::kElderlyStation: return ElderlyStationRules();
    case FacilityType::kChargingStation: return ChargingStationRules();
    case FacilityType::kFitnessPoint: return FitnessPointRules();
  }
  return CanteenRules();  // unreachable: the enum is closed
}

}  // namespace gateway::model
