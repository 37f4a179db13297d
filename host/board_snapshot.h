// BoardSnapshot: what the town board shows, read from PostgreSQL as one JSON document:
// every gateway (online or offline, when the host last heard from it) and every
// facility with its live values (occupancy, capacity, open, today's counts, connectors).
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

#include "gateway/status.h"

namespace host {

// JSON: {"now_ms", "groups", "gateways": [...], "facilities": [...]} (docs/town-host.md).
gateway::Result<std::string> BoardSnapshotJson(PGconn* conn, const std::vector<std::string>& groups, int64_t now_ms);

}  // namespace host
