// BoardSnapshot: what the town board shows, read from PostgreSQL as one JSON document:
// every gateway (online or offline, when the host last heard from it) and every
// facility with its live values (occupancy, capacity, open, today's counts, connectors),
// and first of all the open alarms (emergency calls not yet acknowledged, from the
// `alarms` table), oldest first, test presses after the real calls.
// Only `live_values` is read for figures, and it never holds a historical sample, so a
// value a gateway sends late is stored but never shown as live. Type and name are the
// newest stated (facility/type, facility/name), historical or not: they are facts about
// the facility, not measurements of the moment.
//
// A pure read on the caller's connection; the town board's thread calls it.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <string>
#include <vector>

#include "gateway/local_time.h"
#include "gateway/status.h"

namespace host {

// JSON: {"now_ms", "groups", "timezone", "alarms": [...], "gateways": [...], "facilities": [...]}
// (docs/town-host.md). Alarm times are also given as local text in `tz`, the facilities' zone.
gateway::Result<std::string> BoardSnapshotJson(PGconn* conn, const std::vector<std::string>& groups, int64_t now_ms,
                                               const gateway::TimeZone& tz);

// "YYYY-MM-DD HH:MM:SS" of a UTC epoch ms in a zone.
std::string LocalTimeText(const gateway::TimeZone& tz, int64_t utc_ms);

}  // namespace host
