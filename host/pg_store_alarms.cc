// PgStore's alarm part (pg_store.h): the alarms/events rows merged into `alarms` in the
// ingest transaction, and the board's acknowledge requests read for the host loop. Its
// own file so that pg_store.cc stays the samples' path.
#include <libpq-fe.h>

#include "pg_connect.h"
#include "pg_store.h"

namespace host {

// epoch ms -> timestamptz, exactly (no floating point on the way).
#define HOST_MS_TS(n) "(timestamptz 'epoch' + $" #n "::bigint * interval '1 millisecond')"

gateway::Status PgStore::StoreAlarms(const std::vector<AlarmRow>& alarms, int64_t now_ms, CommitResult* result) {
  const std::string now = std::to_string(now_ms);
  for (const auto& a : alarms) {
    const std::string raised = std::to_string(a.raised_ms), presses = std::to_string(a.presses),
                      esc = std::to_string(a.escalated_ms), ack = std::to_string(a.acknowledged_ms);
    const char* p[] = {a.group.c_str(),  a.edge_node.c_str(), a.facility.c_str(),        a.id.c_str(),
                       a.sensor.c_str(), a.location.c_str(),  a.kind.c_str(),            a.test ? "t" : "f",
                       AlarmStateName(a.state), raised.c_str(), presses.c_str(),         esc.c_str(),
                       ack.c_str(),      a.acknowledged_by.c_str(), now.c_str()};
    // The merge that keeps an alarm moving forward whatever order its rows come in (a
    // re-announcement sent before the acknowledgement may arrive after it): state by
    // rank, presses only grow, the first escalation and acknowledgement stay.
    PgResult r(PQexecParams(conn_,
        "INSERT INTO alarms (group_id, edge_node, facility, alarm_id, sensor, location, kind, test, state, raised_at,"
        " presses, escalated_at, acknowledged_at, acknowledged_by, first_seen_at, updated_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8::boolean, $9, " HOST_MS_TS(10) ", $11::bigint,"
        " CASE WHEN $12::bigint >= 0 THEN " HOST_MS_TS(12) " END, CASE WHEN $13::bigint >= 0 THEN " HOST_MS_TS(13) " END,"
        " CASE WHEN $13::bigint >= 0 THEN $14 END, " HOST_MS_TS(15) ", " HOST_MS_TS(15) ")"
        " ON CONFLICT (group_id, edge_node, facility, alarm_id) DO UPDATE SET"
        " state = CASE WHEN 'acknowledged' IN (alarms.state, excluded.state) THEN 'acknowledged'"
        "   WHEN 'escalated' IN (alarms.state, excluded.state) THEN 'escalated' ELSE 'raised' END,"
        " presses = greatest(alarms.presses, excluded.presses),"
        " escalated_at = coalesce(alarms.escalated_at, excluded.escalated_at),"
        " acknowledged_at = coalesce(alarms.acknowledged_at, excluded.acknowledged_at),"
        " acknowledged_by = CASE WHEN alarms.acknowledged_at IS NULL THEN excluded.acknowledged_by"
        "   ELSE alarms.acknowledged_by END,"
        " updated_at = excluded.updated_at",
        15, nullptr, p, nullptr, nullptr, 0));
    if (r.status() != PGRES_COMMAND_OK) return Fail("storing an alarm");
    if (result->alarm_rows++ == 0) {
      // The board reads at once when this commits, not at its next tick.
      if (auto st = Exec("NOTIFY board_alarms"); !st.ok()) return st;
    }
    if (a.state != AlarmState::kAcknowledged) continue;
    const char* q[] = {a.group.c_str(), a.edge_node.c_str(), a.facility.c_str(), a.id.c_str(), now.c_str()};
    PgResult c(PQexecParams(conn_,
        "UPDATE alarm_ack_requests SET completed_at = " HOST_MS_TS(5)
        " WHERE (group_id, edge_node, facility, alarm_id) = ($1, $2, $3, $4) AND completed_at IS NULL",
        5, nullptr, q, nullptr, nullptr, 0));
    if (c.status() != PGRES_COMMAND_OK) return Fail("completing acknowledge requests");
  }
  return gateway::Status::Ok();
}

gateway::Result<std::vector<AckRequest>> PgStore::PendingAckRequests() {
  if (auto s = Ensure(); !s.ok()) return s;
  // A request whose alarm is acknowledged already (by another host, or its DDATA came
  // before the request was read) is done.
  if (auto s = Exec("UPDATE alarm_ack_requests r SET completed_at = now() FROM alarms a"
                    " WHERE r.completed_at IS NULL AND a.state = 'acknowledged' AND (a.group_id, a.edge_node,"
                    " a.facility, a.alarm_id) = (r.group_id, r.edge_node, r.facility, r.alarm_id)");
      !s.ok())
    return s;
  PgResult r(PQexec(conn_,
      "SELECT DISTINCT ON (group_id, edge_node, facility, alarm_id) group_id, edge_node, facility, alarm_id,"
      " requested_by, id FROM alarm_ack_requests WHERE completed_at IS NULL"
      " ORDER BY group_id, edge_node, facility, alarm_id, id DESC LIMIT 10000"));
  if (r.status() != PGRES_TUPLES_OK) return Fail("reading acknowledge requests");
  std::vector<AckRequest> out;
  for (int i = 0; i < PQntuples(r.r); ++i)
    out.push_back({r.at(i, 0), r.at(i, 1), r.at(i, 2), r.at(i, 3), r.at(i, 4), r.integer(i, 5)});
  return out;
}

bool PgStore::TakeAckNotification() {
  if (!connected()) return false;
  if (PQconsumeInput(conn_) != 1) return false;
  bool any = false;
  while (PGnotify* n = PQnotifies(conn_)) {
    any = true;
    PQfreemem(n);
  }
  return any;
}

int PgStore::socket() const { return connected() ? PQsocket(conn_) : -1; }

}  // namespace host
