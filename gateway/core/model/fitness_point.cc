// Smart fitness point (智慧健身点): its occupancy is its equipment in use, and its
// capacity (when none is configured) the number of pieces.
#include "core/model/facility_type.h"

namespace gateway::model {

namespace {

class FitnessPoint final : public FacilityTypeRules {
 public:
  std::optional<SensorKind> FallbackOccupancy() const override { return SensorKind::kEquipment; }
};

}  // namespace

const FacilityTypeRules& FitnessPointRules() {
  static const FitnessPoint rules;
  return rules;
}

}  // namespace gateway::model
