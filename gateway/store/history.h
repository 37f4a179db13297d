// History: hourly utilisation rollups per facility and sensor, kept in the buffer file
// next to the outbox, for the reports of the evaluation mechanism (gateway/report/).
//
// Why here and why like this: raw readings leave the buffer once the broker has them,
// so reports cannot be computed from them. Instead every committed batch (the drivers'
// raw readings and the facility model's derived metrics) is folded into per-hour sums
// in memory, and those sums, with History's own running state, are written by
// WriteInTxn() inside the very SQLite transaction in which the Outbox commits the batch
// (Outbox::Commit's hook). After SIGKILL or a power cut the rollups and the buffer
// agree: a batch is in both or in neither, so a replayed batch is never counted twice.
//
// Ownership and threads: the Pipeline owns the calls, on the core's event-loop thread;
// the SqliteDb belongs to the Outbox. ReadHourRows() is also used by the `report`
// command on its own read-only connection.
//
// Time model (also in the README, "Utilisation reports"): every facility has a
// watermark W, the instant up to which its time has been integrated. A batch moves W to
// each row's timestamp in time order; the span [W, t) is cut into pieces at every UTC
// minute (so opening hours with minute precision and local hours in any zone fall on
// piece edges) and wherever a sensor's silence bound expires. In each piece:
//   - occupancy is a step function: the last occupancy/current value holds until the
//     next one;
//   - a sensor is "reporting" from each of its readings until the next one, but for at
//     most its silence bound (sensors[].silent_after_s, default as the facility model);
//   - the facility is "complete" while every one of its sensors is reporting (and an
//     occupancy value is known, which the facility model states at start-up);
//   - opening time counts when the configured opening hours say open; occupancy,
//     crowded time (occupancy >= 90 % of capacity) and full time (>= capacity) are
//     integrated only over open AND complete time, so a silent sensor lowers the data
//     completeness figure, never the occupancy figures.
// Event time: counts (visits, meals, check-ins, charging and equipment sessions,
// energy, readings) go to the local hour of the reading's own timestamp, whenever it
// comes. What is integrated over time moves with W: a row older than W (a sensor that
// delivers behind the facility's others) changes the state from W on. Rows without a
// sensor (the facility model's) carry the time of the readings they came from; those
// stamped ahead of the facility's newest reading are the gateway clock's announcements
// (a midnight no reading has crossed) and are left out: the model states them again,
// at the same instant, with the next reading. The daily counters
// (visits/entries, meals/served, checkins/count, feedback/{button}/responses) are
// differenced per local day of
// their own time; a raw reading whose day was already reported is counted all the
// same, in late_readings, and makes DueReports offer the day again with the next
// revision. Charging
// sessions are the runs of a connector in an occupied state (Preparing .. Finishing)
// and belong to the hour they started in (an OCPP charge point's finished transactions
// are also kept whole, one row each: store/charging_sessions.h); energy is the increase of each connector's
// meter register, in the hour the increase was read.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "gateway/config.h"
#include "gateway/local_time.h"
#include "gateway/reading.h"
#include "gateway/status.h"
#include "store/sqlite_db.h"

namespace gateway::store {

// One rollup row: one facility (sensor "") or one sensor, one local hour. Durations in
// ms. A local hour is minute_of_day / 60 of the facility's zone: on a day when DST ends
// the repeated hour adds into the same row, on the day it starts one hour stays empty.
struct HourRow {
  std::string facility;
  std::string sensor;  // "" for the facility row
  int64_t day = 0;     // local day number (days since 1970-01-01)
  int hour = 0;        // 0..23

  // Facility rows.
  int64_t open_ms = 0;      // time open by the opening hours
  int64_t complete_ms = 0;  // open, and every sensor of the facility reporting (call buttons aside)
  int64_t occ_ms = 0;       // integral of occupancy over complete_ms (person-ms)
  int64_t crowded_ms = 0;   // complete time with occupancy >= 90 % of capacity
  int64_t full_ms = 0;      // complete time with occupancy >= capacity
  int64_t peak = -1;        // highest occupancy while open (-1: none known)
  int64_t peak_ts = 0;      // when it was first reached (UTC ms)
  int64_t entries = 0;      // visits
  int64_t meals = 0;
  int64_t checkins = 0;
  int64_t sessions = 0;        // charging sessions started in this hour
  int64_t sessions_ended = 0;  // of those, the ones that have ended
  int64_t session_ms = 0;      // total length of those that have ended
  double energy_kwh = 0;       // energy delivered (meter increases read in this hour)
  int64_t connector_ms = 0;    // sum over connectors of time with a known status
  int64_t charging_ms = 0;     // ... in Charging, SuspendedEV or SuspendedEVSE
  int64_t available_ms = 0;    // ... not Faulted and not Unavailable

  // Sensor rows (equipment sessions also use `sessions`).
  int64_t reported_ms = 0;  // time the sensor was reporting
  int64_t in_use_ms = 0;    // equipment: in use (and reporting)
  int64_t readings = 0;     // raw readings accepted
  // Facility rows: raw readings of this hour that came after the day was reported.
  int64_t late_readings = 0;
  // Facility rows: feedback terminals' counted presses per button name (table
  // feedback_hour), differenced from the facility model's feedback/{button}/responses.
  std::map<std::string, int64_t> feedback;

  // Adds o's sums into this row (peak: the higher, the earlier on a tie).
  void Merge(const HourRow& o);
};

// A daily report that has come due: facility `facility`'s local day `day`, which ended
// at `end_ms` (the following local midnight, UTC ms) and started at `start_ms`.
struct DueReport {
  std::string facility;
  int64_t day = 0;
  int64_t end_ms = 0;
  int64_t start_ms = 0;  // the local midnight that started the day (its alarms: raised in [start, end))
  int revision = 0;  // 0: the day's first report; n: made again after late readings
};

class History {
 public:
  // Fails when a facility's time zone cannot be loaded.
  static Result<std::unique_ptr<History>> Create(const Config& config);
  ~History();

  // Loads the running state committed last (meta key "history_state"); a missing or
  // unreadable state starts fresh (logged).
  Status Load(SqliteDb& db);

  // Folds one batch (raw and derived rows, any order) into the pending sums. Rows
  // stamped more than 5 minutes after now_ms (a device with a wrong clock) are left out
  // of the history, so that they cannot drag the watermark into the future; so is a
  // facility's first reading when it is older than the retention.
  void Ingest(const std::vector<Reading>& rows, int64_t now_ms);
  // Integrates a facility's time up to ts (e.g. local midnight, for the daily report).
  void AdvanceTo(const std::string& facility, int64_t ts);

  // Inside the Outbox's commit transaction: upserts the pending sums, saves the
  // running state, and deletes rows past the retention.
  Status WriteInTxn(SqliteDb& db);
  // After the transaction: Committed() forgets the written sums; RolledBack() returns
  // to the state of the last commit (the batch will not be counted).
  void Committed();
  void RolledBack();

  // The days whose report is due at now_ms (day ended delay_ms ago or more) and not yet
  // marked reported, oldest first (catching up after downtime, within the retention);
  // then the reported days that late readings changed, once no late reading has come
  // for delay_ms, with their next revision number.
  std::vector<DueReport> DueReports(int64_t now_ms, int64_t delay_ms) const;
  void MarkReported(const std::string& facility, int64_t day, int revision = 0);
  // Something a reported day's figures count other than a reading changed at now_ms
  // (an alarm raised that day was acknowledged, or a press folded into it, after the
  // report was made): the day is reported again like one late readings changed. ts_ms
  // is the event's own time (the alarm's raised time), which picks the day. Call it
  // before the commit's WriteInTxn, so that the mark is saved in that transaction.
  void ReviseDayOf(const std::string& facility, int64_t ts_ms, int64_t now_ms);
  // Readings that came after their day was reported, since the process started.
  uint64_t late_readings(const std::string& facility) const;

  // The facility's rows of one local day: what is committed plus what is pending.
  Result<std::vector<HourRow>> ReadDay(SqliteDb& db, const std::string& facility, int64_t day);

  // For tests: rows pending for the next commit.
  std::vector<HourRow> PendingRows() const;
  uint64_t ignored_clock() const { return ignored_future_; }
  // Charging-session readings (connector/{n}/transaction) without the contract's columns.
  uint64_t bad_sessions() const { return bad_sessions_; }

 private:
  History();
  struct Impl;
  std::unique_ptr<Impl> impl_;
  uint64_t ignored_future_ = 0;
  uint64_t bad_sessions_ = 0;
};

// Rows of the given facilities (all when empty) for local days day_from..day_to
// inclusive, ordered by facility, sensor, day, hour.
Result<std::vector<HourRow>> ReadHourRows(SqliteDb& db, const std::vector<std::string>& facilities,
                                          int64_t day_from, int64_t day_to);

// The capacity utilisation is measured against: the configured one, or else what the
// facility counts one by one (seats, connectors, equipment), as the facility model does.
uint32_t EffectiveCapacity(const FacilityConfig& facility);

// The silence bound of a sensor: the same rule as the facility model's online flag.
int64_t SensorSilentMs(const Config& config, const SensorConfig& sensor);

}  // namespace gateway::store
