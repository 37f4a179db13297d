// FacilityTypeRules: what a facility type adds to what its sensors count. One file per
// type (canteen.cc, elderly_station.cc, charging_station.cc, fitness_point.cc).
//
// Stateless singletons, called by the FacilityModel at Create only (core's loop thread).
#pragma once

#include <optional>

#include "core/model/model_state.h"

namespace gateway::model {

class FacilityTypeRules {
 public:
  virtual ~FacilityTypeRules() = default;
  // Declares the daily metrics the type always publishes (a canteen's meals/served,
  // even before its meal terminal is installed).
  virtual void Configure(const FacilityConfig&, FacilityState&) const {}
  // The sensor kind that counts people when no kind with an OccupancyRank is present
  // (a charging station's connectors, a fitness point's equipment).
  virtual std::optional<SensorKind> FallbackOccupancy() const { return std::nullopt; }
};

const FacilityTypeRules& RulesFor(FacilityType type);

}  // namespace gateway::model
