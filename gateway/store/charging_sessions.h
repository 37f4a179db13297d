// ChargingSessions: the finished charging sessions (OCPP transactions) of the charging
// stations, one row each, kept in the buffer file for the utilisation reports.
//
// Why a table of its own: the hourly rollups (store/history.h) count sessions as runs of
// connector states, which is all a status-only charge point gives; an OCPP charge point
// also says when a transaction started and stopped, what its meter read and why it
// stopped, and an evaluation team asks for exactly that list. The OCPP driver reports
// each finished transaction once as the DataSet point `connector/{n}/transaction`
// (docs/wire-format.md); History picks those rows out of each committed batch and writes
// them here inside the same transaction, so a session is stored exactly when the batch
// that carried it is. The idTag arrives here only as the driver's salted hash.
//
// Pure functions over a SqliteDb; the caller owns the connection and its thread (the
// core's loop thread through History, or the `report` command's read-only connection).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gateway/reading.h"
#include "gateway/status.h"
#include "store/sqlite_db.h"

namespace gateway::store {

struct ChargingSession {
  std::string facility;
  std::string sensor;           // the charge point
  uint32_t connector = 0;       // the charge point's own connector number (1-based)
  int64_t transaction_id = 0;
  int64_t day = 0;              // local day number of the start, in the facility's zone
  int64_t start_ms = 0;         // UTC epoch ms
  int64_t stop_ms = 0;
  double meter_start_kwh = 0;
  double meter_stop_kwh = 0;
  double energy_kwh = 0;
  std::string stop_reason;      // OCPP 1.6 Reason (Local, EVDisconnected, Remote, ...)
  std::string id_tag_hash;      // never the idTag itself
  bool operator==(const ChargingSession&) const = default;
};

// The session a `connector/{n}/transaction` reading carries, or nullopt when the reading
// is something else. A reading that has the point's name but not the columns of the
// contract is an error (the caller logs and counts it; the batch itself is kept).
Result<std::optional<ChargingSession>> SessionFromReading(const Reading& r);

// Inserts sessions; one already stored (same charge point, transaction and start, as when
// a charge point repeats a StopTransaction after a reconnect) is left as it is.
Status InsertSessions(SqliteDb& db, const std::vector<ChargingSession>& sessions);

// Deletes the sessions that started before local day `day` (the history's retention).
Status PurgeSessionsBefore(SqliteDb& db, int64_t day);

// Sessions of one facility that started on local days day_from..day_to, oldest first.
Result<std::vector<ChargingSession>> ReadSessions(SqliteDb& db, const std::string& facility, int64_t day_from,
                                                  int64_t day_to);

}  // namespace gateway::store
