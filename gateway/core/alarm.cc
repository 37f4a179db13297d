#include "gateway/alarm.h"

namespace gateway {

const char* AlarmStateName(AlarmState s) {
  switch (s) {
    case AlarmState::kRaised: return "raised";
    case AlarmState::kEscalated: return "escalated";
    case AlarmState::kAcknowledged: return "acknowledged";
  }
  return "raised";
}

}  // namespace gateway
