#include "store/alarm_store.h"

namespace gateway::store {

namespace {

constexpr const char* kColumns =
    "facility, id, sensor, location, kind, test, state, raised_ms, last_press_ms, presses, escalated_ms, "
    "acknowledged_ms, acknowledged_by, version, published_version";

Alarm FromRow(const Statement& st) {
  Alarm a;
  a.facility_id = st.Text(0);
  a.id = st.Text(1);
  a.sensor_id = st.Text(2);
  a.location = st.Text(3);
  a.kind = st.Text(4);
  a.test = st.Int(5) != 0;
  const int64_t state = st.Int(6);
  a.state = state == 1 ? AlarmState::kEscalated : state == 2 ? AlarmState::kAcknowledged : AlarmState::kRaised;
  a.raised_ms = st.Int(7);
  a.last_press_ms = st.Int(8);
  a.presses = uint32_t(st.Int(9));
  a.escalated_ms = st.Int(10);
  a.acknowledged_ms = st.Int(11);
  a.acknowledged_by = st.Text(12);
  a.version = uint32_t(st.Int(13));
  a.published_version = uint32_t(st.Int(14));
  return a;
}

Result<std::vector<Alarm>> ReadAll(Statement& st) {
  std::vector<Alarm> out;
  for (;;) {
    auto row = st.Step();
    if (!row.ok()) return row.status();
    if (!row.value()) break;
    out.push_back(FromRow(st));
  }
  return out;
}

}  // namespace

Status WriteAlarms(SqliteDb& db, const std::vector<Alarm>& alarms) {
  if (alarms.empty()) return Status::Ok();
  auto st = db.Prepare(std::string("INSERT OR REPLACE INTO alarm(") + kColumns +
                       ") VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  if (!st.ok()) return st.status();
  for (const auto& a : alarms) {
    st->BindText(1, a.facility_id);
    st->BindText(2, a.id);
    st->BindText(3, a.sensor_id);
    st->BindText(4, a.location);
    st->BindText(5, a.kind);
    st->BindInt(6, a.test ? 1 : 0);
    st->BindInt(7, int64_t(a.state));
    st->BindInt(8, a.raised_ms);
    st->BindInt(9, a.last_press_ms);
    st->BindInt(10, a.presses);
    st->BindInt(11, a.escalated_ms);
    st->BindInt(12, a.acknowledged_ms);
    st->BindText(13, a.acknowledged_by);
    st->BindInt(14, a.version);
    st->BindInt(15, a.published_version);
    Status r = st->Run();
    st->Reset();
    if (!r.ok()) return r;
  }
  return Status::Ok();
}

Result<std::vector<Alarm>> ReadAlarmsToResume(SqliteDb& db, int64_t since_ms) {
  auto st = db.Prepare(std::string("SELECT ") + kColumns +
                       " FROM alarm WHERE state != 2 OR version != published_version OR raised_ms >= ? "
                       "OR raised_ms = (SELECT max(b.raised_ms) FROM alarm b WHERE b.facility = alarm.facility "
                       "AND b.sensor = alarm.sensor) ORDER BY raised_ms, facility, id");
  if (!st.ok()) return st.status();
  st->BindInt(1, since_ms);
  return ReadAll(st.value());
}

Result<std::optional<Alarm>> ReadAlarm(SqliteDb& db, const std::string& facility, const std::string& id) {
  auto st = db.Prepare(std::string("SELECT ") + kColumns + " FROM alarm WHERE facility = ? AND id = ?");
  if (!st.ok()) return st.status();
  st->BindText(1, facility);
  st->BindText(2, id);
  auto rows = ReadAll(st.value());
  if (!rows.ok()) return rows.status();
  if (rows.value().empty()) return std::optional<Alarm>();
  return std::optional<Alarm>(std::move(rows.value().front()));
}

Result<std::vector<Alarm>> ReadAlarmsRaised(SqliteDb& db, const std::string& facility, int64_t from_ms,
                                            int64_t to_ms) {
  auto st = db.Prepare(std::string("SELECT ") + kColumns +
                       " FROM alarm WHERE facility = ? AND raised_ms >= ? AND raised_ms < ? ORDER BY raised_ms, id");
  if (!st.ok()) return st.status();
  st->BindText(1, facility);
  st->BindInt(2, from_ms);
  st->BindInt(3, to_ms);
  return ReadAll(st.value());
}

Status PurgeAlarmsBefore(SqliteDb& db, int64_t before_ms) {
  auto st = db.Prepare("DELETE FROM alarm WHERE raised_ms < ? AND state = 2 AND version = published_version");
  if (!st.ok()) return st.status();
  st->BindInt(1, before_ms);
  return st->Run();
}

}  // namespace gateway::store
