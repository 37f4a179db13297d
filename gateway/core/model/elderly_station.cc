// Elderly day-care and service station (日间照料中心, 综合为老服务中心): check-ins are
// how it counts the elderly it served.
#include "core/model/facility_type.h"

namespace gateway::model {

namespace {

class ElderlyStation final : public FacilityTypeRules {
 public:
  void Configure(const FacilityConfig&, FacilityState& f) const override { f.DeclareDaily("checkins/count", false); }
};

}  // namespace

const FacilityTypeRules& ElderlyStationRules() {
  static const ElderlyStation rules;
  return rules;
}

}  // namespace gateway::model
