// OpeningHours: whether a facility is open at a local time, from its configured periods.
//
// A period whose close is at or before its open runs past midnight: it is open from
// `open` on its weekdays until `close` on the following day. No periods means always
// open. Pure functions; any thread.
#pragma once

#include <vector>

#include "gateway/config.h"
#include "gateway/local_time.h"

namespace gateway {

bool IsOpenAt(const std::vector<OpeningPeriod>& periods, const LocalDateTime& local);

}  // namespace gateway
