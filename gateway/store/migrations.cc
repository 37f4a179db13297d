#include "store/migrations.h"

#include <string>
#include <vector>

namespace gateway::store {

namespace {

struct Migration {
  const char* up;
  const char* down;
};

// Version N is reached by applying kMigrations[N-1].up. Never edit a step that has
// shipped: add a new one.
const std::vector<Migration> kMigrations = {
    // 1: the outbox. A reading row is small on purpose (SD cards wear out): the
    // facility and metric name live once in `metric`, rows point at them.
    {R"sql(
      CREATE TABLE metric (
        id        INTEGER PRIMARY KEY,
        facility  TEXT NOT NULL,
        name      TEXT NOT NULL,
        datatype  INTEGER NOT NULL,
        last_value ANY,
        last_ts   INTEGER,
        UNIQUE (facility, name)
      );
      CREATE TABLE outbox (
        -- Order of acceptance; drained oldest first. AUTOINCREMENT so that a seq is
        -- never reused once the table has been emptied: the uplink's cursor relies on
        -- new rows always having larger seqs than any row it has already read.
        seq       INTEGER PRIMARY KEY AUTOINCREMENT,
        metric_id INTEGER NOT NULL,
        datatype  INTEGER NOT NULL,
        ts        INTEGER NOT NULL,     -- UTC epoch ms when the value was taken
        value     ANY,
        quality   INTEGER NOT NULL DEFAULT 0
      );
      CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value ANY
      );
    )sql",
     R"sql(
      DROP TABLE meta;
      DROP TABLE outbox;
      DROP TABLE metric;
    )sql"},
    // 2: utilisation history (store/history.h): one row per facility (sensor '') or
    // sensor and local hour, summed incrementally in the commit of each batch.
    {R"sql(
      CREATE TABLE history_hour (
        facility       TEXT NOT NULL,
        sensor         TEXT NOT NULL,
        day            INTEGER NOT NULL,   -- local day number (days since 1970-01-01)
        hour           INTEGER NOT NULL,   -- local hour 0..23
        open_ms        INTEGER NOT NULL DEFAULT 0,
        complete_ms    INTEGER NOT NULL DEFAULT 0,
        occ_ms         INTEGER NOT NULL DEFAULT 0,
        crowded_ms     INTEGER NOT NULL DEFAULT 0,
        full_ms        INTEGER NOT NULL DEFAULT 0,
        peak           INTEGER NOT NULL DEFAULT -1,
        peak_ts        INTEGER NOT NULL DEFAULT 0,
        entries        INTEGER NOT NULL DEFAULT 0,
        meals          INTEGER NOT NULL DEFAULT 0,
        checkins       INTEGER NOT NULL DEFAULT 0,
        sessions       INTEGER NOT NULL DEFAULT 0,
        sessions_ended INTEGER NOT NULL DEFAULT 0,
        session_ms     INTEGER NOT NULL DEFAULT 0,
        energy_kwh     REAL NOT NULL DEFAULT 0,
        connector_ms   INTEGER NOT NULL DEFAULT 0,
        charging_ms    INTEGER NOT NULL DEFAULT 0,
        available_ms   INTEGER NOT NULL DEFAULT 0,
        reported_ms    INTEGER NOT NULL DEFAULT 0,
        in_use_ms      INTEGER NOT NULL DEFAULT 0,
        readings       INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (facility, sensor, day, hour)
      ) WITHOUT ROWID;
      -- The daily retention delete.
      CREATE INDEX history_hour_day ON history_hour(day);
    )sql",
     R"sql(
      DROP INDEX history_hour_day;
      DROP TABLE history_hour;
    )sql"},
    // 3: finished charging sessions (OCPP transactions), store/charging_sessions.h. A
    // transaction is identified by its charge point, id and start: a charge point that
    // repeats a StopTransaction after a reconnect does not make a second row.
    {R"sql(
      CREATE TABLE charging_session (
        facility        TEXT NOT NULL,
        sensor          TEXT NOT NULL,     -- the charge point
        connector       INTEGER NOT NULL,  -- its own connector number
        transaction_id  INTEGER NOT NULL,
        day             INTEGER NOT NULL,  -- local day of the start
        start_ms        INTEGER NOT NULL,
        stop_ms         INTEGER NOT NULL,
        meter_start_kwh REAL NOT NULL,
        meter_stop_kwh  REAL NOT NULL,
        energy_kwh      REAL NOT NULL,
        stop_reason     TEXT NOT NULL,
        id_tag_hash     TEXT NOT NULL,     -- salted hash: the idTag is never stored
        PRIMARY KEY (facility, sensor, transaction_id, start_ms)
      ) WITHOUT ROWID;
      CREATE INDEX charging_session_day ON charging_session(facility, day);
    )sql",
     R"sql(
      DROP INDEX charging_session_day;
      DROP TABLE charging_session;
    )sql"},
    // 4: readings that came after their day's report was made (docs/report-format.md,
    // "Late readings"), per facility and local hour of the reading's own time.
    {R"sql(
      ALTER TABLE history_hour ADD COLUMN late_readings INTEGER NOT NULL DEFAULT 0;
    )sql",
     R"sql(
      ALTER TABLE history_hour DROP COLUMN late_readings;
    )sql"},
    // 5: feedback terminals' counted presses (residents' satisfaction), per facility,
    // local hour and button name, summed in the same commits as history_hour.
    {R"sql(
      CREATE TABLE feedback_hour (
        facility   TEXT NOT NULL,
        day        INTEGER NOT NULL,
        hour       INTEGER NOT NULL,
        button     TEXT NOT NULL,
        responses  INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (facility, day, hour, button)
      ) WITHOUT ROWID;
      CREATE INDEX feedback_hour_day ON feedback_hour(day);
    )sql",
     R"sql(
      DROP INDEX feedback_hour_day;
      DROP TABLE feedback_hour;
    )sql"},
    // 6: emergency calls (store/alarm_store.h), one row per alarm, written in the commit
    // that carries the press (or the escalation, the acknowledgement).
    {R"sql(
      CREATE TABLE alarm (
        facility          TEXT NOT NULL,
        id                TEXT NOT NULL,
        sensor            TEXT NOT NULL,
        location          TEXT NOT NULL,
        kind              TEXT NOT NULL,
        test              INTEGER NOT NULL,
        state             INTEGER NOT NULL,
        raised_ms         INTEGER NOT NULL,
        last_press_ms     INTEGER NOT NULL,
        presses           INTEGER NOT NULL,
        escalated_ms      INTEGER NOT NULL,
        acknowledged_ms   INTEGER NOT NULL,
        acknowledged_by   TEXT NOT NULL,
        version           INTEGER NOT NULL,
        published_version INTEGER NOT NULL,
        PRIMARY KEY (facility, id)
      ) WITHOUT ROWID;
      CREATE INDEX alarm_raised ON alarm(facility, raised_ms);
    )sql",
     R"sql(
      DROP INDEX alarm_raised;
      DROP TABLE alarm;
    )sql"},
};

}  // namespace

int LatestSchemaVersion() { return static_cast<int>(kMigrations.size()); }

Result<int> SchemaVersion(SqliteDb& db) {
  auto v = db.QueryInt("PRAGMA user_version");
  if (!v.ok()) return v.status();
  return static_cast<int>(v.value());
}

Status MigrateTo(SqliteDb& db, int target) {
  if (target < 0 || target > LatestSchemaVersion()) {
    return Status::InvalidArgument("no schema version " + std::to_string(target));
  }
  auto current = SchemaVersion(db);
  if (!current.ok()) return current.status();
  int v = current.value();
  if (v > LatestSchemaVersion()) {
    return Status::InvalidArgument("buffer schema version " + std::to_string(v) +
                                   " is newer than this gateway knows (" +
                                   std::to_string(LatestSchemaVersion()) + "): downgrade refused");
  }
  while (v != target) {
    bool up = v < target;
    const Migration& m = kMigrations[static_cast<size_t>(up ? v : v - 1)];
    int next = up ? v + 1 : v - 1;
    std::string sql = std::string("BEGIN IMMEDIATE;") + (up ? m.up : m.down) +
                      "PRAGMA user_version = " + std::to_string(next) + "; COMMIT;";
    Status s = db.Exec(sql);
    if (!s.ok()) {
      db.Exec("ROLLBACK");
      return s;
    }
    v = next;
  }
  return Status::Ok();
}

}  // namespace gateway::store
