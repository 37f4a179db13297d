// Elderly canteen (长者食堂): meals served is one of its evaluation figures, published
// from the first day even before a meal terminal reports (0 meals is then the truth of
// the wire, and the report shows where no terminal reported).
#include "core/model/facility_type.h"

namespace gateway::model {

namespace {

class Canteen final : public FacilityTypeRules {
 public:
  void Configure(const FacilityConfig&, FacilityState& f) const override { f.DeclareDaily("meals/served", false); }
};

}  // namespace

const FacilityTypeRules& CanteenRules() {
  static const Canteen rules;
  return rules;
}

}  // namespace gateway::model
