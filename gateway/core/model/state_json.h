// The facility model's running state as JSON: what the Pipeline commits with every
// batch (meta key "model_state") so that after a crash the state and the buffer agree.
// Called by FacilityModel::SaveState/LoadState only (core's loop thread).
#pragma once

#include "core/model/model_state.h"
#include "gateway/status.h"

namespace gateway::model {

Json SaveFacility(const FacilityState& f);
// Into a facility reset to its configured state. `version` is the state's version:
// 1 (today's counts only) is read into the days map.
Status LoadFacility(const Json& j, int version, FacilityState& f);

}  // namespace gateway::model
