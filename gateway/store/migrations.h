// Migrations: the buffer's schema as numbered up/down steps, applied through
// PRAGMA user_version (as EVerest libocpp does), so an upgraded gateway opens an
// older buffer file without losing what it holds, and a downgrade is possible.
//
// Called by the store on its own thread during Open.
#pragma once

#include "gateway/status.h"
#include "store/sqlite_db.h"

namespace gateway::store {

int LatestSchemaVersion();
Result<int> SchemaVersion(SqliteDb& db);
// Moves the schema up or down one step at a time, each step in its own transaction.
Status MigrateTo(SqliteDb& db, int target_version);

}  // namespace gateway::store
