// AlarmStore: the emergency calls (gateway/include/gateway/alarm.h) in the buffer file,
// one row per alarm, so that an alarm survives kill -9 and power cuts at every step.
//
// Why in the buffer file and not as readings: an alarm is a record that changes
// (raised, folded presses, escalated, acknowledged) and must be found again by id when
// the host acknowledges it; and writing it in the same SQLite transaction as the reading
// that raised it means the press is accepted exactly when its alarm is on disk. The
// AlarmBook (gateway/alarm) decides what is written; the Pipeline calls WriteAlarms
// inside its commit (Outbox::TxnHook), and the `report` command reads them back.
//
// Pure functions over a SqliteDb; the caller owns the connection and its thread (the
// core's loop thread, or the `report` command's read-only connection).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gateway/alarm.h"
#include "gateway/status.h"
#include "store/sqlite_db.h"

namespace gateway::store {

// Inserts or replaces each alarm's row (the caller hands the alarm as it now is).
Status WriteAlarms(SqliteDb& db, const std::vector<Alarm>& alarms);

// What the AlarmBook needs after a restart: every open alarm, every alarm whose last
// change the broker has not acknowledged, each sensor's newest alarm (for folding
// repeated presses across a restart), and every alarm raised since since_ms (to know a
// press delivered again).
Result<std::vector<Alarm>> ReadAlarmsToResume(SqliteDb& db, int64_t since_ms);

// One alarm as stored, or nullopt when the buffer has no row of it (the pipeline's
// commit compares it with the change it writes, core/pipeline.cc).
Result<std::optional<Alarm>> ReadAlarm(SqliteDb& db, const std::string& facility, const std::string& id);

// The alarms of one facility raised in [from_ms, to_ms), oldest first (the reports).
Result<std::vector<Alarm>> ReadAlarmsRaised(SqliteDb& db, const std::string& facility, int64_t from_ms,
                                            int64_t to_ms);

// Deletes closed alarms raised before `before_ms` (the history's retention).
Status PurgeAlarmsBefore(SqliteDb& db, int64_t before_ms);

}  // namespace gateway::store
