#include "board_snapshot.h"

#include <cstdio>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <tuple>

#include "pg_connect.h"
#include "report/report_text.h"

namespace host {

namespace {

using Json = nlohmann::ordered_json;

Json IntOrNull(const PgResult& r, int row, int col) { return r.null(row, col) ? Json(nullptr) : Json(r.integer(row, col)); }

}  // namespace

std::string LocalTimeText(const gateway::TimeZone& tz, int64_t utc_ms) {
  const auto l = tz.ToLocal(utc_ms);
  const int64_t s = l.ms_of_day / 1000;
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d", l.year, l.month, l.day, int(s / 3600),
                int(s / 60 % 60), int(s % 60));
  return buf;
}

gateway::Result<std::string> BoardSnapshotJson(PGconn* conn, const std::vector<std::string>& groups, int64_t now_ms,
                                               const gateway::TimeZone& tz) {
  const std::string g = PgTextArray(groups);
  const char* params[] = {g.c_str()};
  PgResult nodes(PQexecParams(conn,
                         "SELECT group_id, edge_node, online, greatest(last_heard_ms, birth_ms, death_ms) FROM edge_nodes"
                         " WHERE group_id = ANY($1::text[]) ORDER BY 1, 2",
                         1, nullptr, params, nullptr, nullptr, 0));
  if (PQresultStatus(nodes.r) != PGRES_TUPLES_OK) return PgError(conn, "board: edge nodes");
  PgResult facs(PQexecParams(conn, R"sql(
SELECT f.group_id, f.edge_node, f.device, f.online,
  coalesce((SELECT v_text FROM samples s WHERE (s.group_id, s.edge_node, s.device, s.metric) =
            (f.group_id, f.edge_node, f.device, 'facility/type') ORDER BY ts_ms DESC LIMIT 1), 'unknown'),
  coalesce((SELECT v_text FROM samples s WHERE (s.group_id, s.edge_node, s.device, s.metric) =
            (f.group_id, f.edge_node, f.device, 'facility/name') ORDER BY ts_ms DESC LIMIT 1), '')
FROM facilities f WHERE f.group_id = ANY($1::text[]) ORDER BY 1, 3, 2)sql",
                        1, nullptr, params, nullptr, nullptr, 0));
  if (PQresultStatus(facs.r) != PGRES_TUPLES_OK) return PgError(conn, "board: facilities");
  PgResult live(PQexecParams(conn,
                        "SELECT group_id, edge_node, device, metric, ts_ms, v_bool, v_int, v_text, v_double FROM live_values"
                        " WHERE group_id = ANY($1::text[]) AND device <> '' AND (metric IN ('occupancy/current',"
                        " 'occupancy/capacity', 'status/open', 'visits/entries', 'meals/served', 'checkins/count',"
                        " 'sessions/active', 'feedback/responses', 'feedback/index', 'feedback/min_responses')"
                        " OR metric ~ '^connectors/[0-9]+/status$')",
                        1, nullptr, params, nullptr, nullptr, 0));
  if (PQresultStatus(live.r) != PGRES_TUPLES_OK) return PgError(conn, "board: live values");

  // Open alarms: real calls first, oldest first (the one waiting longest leads).
  PgResult alarms(PQexecParams(conn, R"sql(
SELECT a.group_id, a.edge_node, a.facility, a.alarm_id, a.sensor, a.location, a.kind, a.test, a.state,
  (extract(epoch FROM a.raised_at) * 1000)::bigint, a.presses, (extract(epoch FROM a.escalated_at) * 1000)::bigint,
  coalesce((SELECT v_text FROM samples s WHERE (s.group_id, s.edge_node, s.device, s.metric) =
            (a.group_id, a.edge_node, a.facility, 'facility/name') ORDER BY ts_ms DESC LIMIT 1), '')
FROM alarms a WHERE a.group_id = ANY($1::text[]) AND a.state <> 'acknowledged'
ORDER BY a.test, a.raised_at, a.group_id, a.edge_node, a.facility, a.alarm_id LIMIT 500)sql",
                               1, nullptr, params, nullptr, nullptr, 0));
  if (PQresultStatus(alarms.r) != PGRES_TUPLES_OK) return PgError(conn, "board: alarms");

  Json root;
  root["now_ms"] = now_ms;
  root["groups"] = groups;
  root["timezone"] = tz.name();
  Json open_alarms = Json::array();
  for (int i = 0; i < PQntuples(alarms.r); ++i) {
    const int64_t raised = alarms.integer(i, 9);
    open_alarms.push_back(Json{{"group_id", alarms.at(i, 0)},
                               {"edge_node_id", alarms.at(i, 1)},
                               {"facility_id", alarms.at(i, 2)},
                               {"facility_name", alarms.at(i, 12)},
                               {"id", alarms.at(i, 3)},
                               {"sensor", alarms.at(i, 4)},
                               {"location", alarms.at(i, 5)},
                               {"kind", alarms.at(i, 6)},
                               {"test", alarms.at(i, 7) == "t"},
                               {"state", alarms.at(i, 8)},
                               {"escalated", alarms.at(i, 8) == "escalated"},
                               {"raised_ms", raised},
                               {"raised_local", LocalTimeText(tz, raised)},
                               {"presses", alarms.integer(i, 10)},
                               {"escalated_ms", IntOrNull(alarms, i, 11)}});
  }
  root["alarms"] = std::move(open_alarms);
  Json gws = Json::array();
  for (int i = 0; i < PQntuples(nodes.r); ++i) {
    gws.push_back(Json{{"group_id", nodes.at(i, 0)},
                       {"edge_node_id", nodes.at(i, 1)},
                       {"online", nodes.at(i, 2) == "t"},
                       {"last_heard_ms", IntOrNull(nodes, i, 3)}});
  }
  root["gateways"] = std::move(gws);

  using Key = std::tuple<std::string, std::string, std::string>;
  std::map<Key, Json> by_key;
  std::vector<Key> order;
  for (int i = 0; i < PQntuples(facs.r); ++i) {
    Key k{facs.at(i, 0), facs.at(i, 1), facs.at(i, 2)};
    by_key[k] = Json{{"group_id", facs.at(i, 0)}, {"edge_node_id", facs.at(i, 1)}, {"id", facs.at(i, 2)},
                     {"type", facs.at(i, 4)},     {"name", facs.at(i, 5)},         {"online", facs.at(i, 3) == "t"},
                     {"occupancy", nullptr},      {"capacity", nullptr},           {"open", nullptr},
                     {"visits_today", nullptr},   {"meals_today", nullptr},        {"checkins_today", nullptr},
                     {"sessions_active", nullptr}, {"updated_ms", nullptr},        {"connectors", Json::array()},
                     {"feedback_today", nullptr}};
    order.push_back(k);
  }
  std::map<Key, std::map<int, std::string>> connectors;
  for (int i = 0; i < PQntuples(live.r); ++i) {
    auto it = by_key.find(Key{live.at(i, 0), live.at(i, 1), live.at(i, 2)});
    if (it == by_key.end()) continue;
    Json& f = it->second;
    const std::string metric = live.at(i, 3);
    const Json ts = IntOrNull(live, i, 4);
    // Today's counts carry their time: the page shows them only for the local day they
    // were counted in.
    auto counted = [&](const char* key) { f[key] = Json{{"value", IntOrNull(live, i, 6)}, {"ts_ms", ts}}; };
    if (metric == "occupancy/current") {
      f["occupancy"] = IntOrNull(live, i, 6);
      f["updated_ms"] = ts;
    } else if (metric == "occupancy/capacity") {
      f["capacity"] = IntOrNull(live, i, 6);
    } else if (metric == "status/open") {
      f["open"] = live.at(i, 5) == "t";
    } else if (metric == "visits/entries") {
      counted("visits_today");
    } else if (metric == "meals/served") {
      counted("meals_today");
    } else if (metric == "checkins/count") {
      counted("checkins_today");
    } else if (metric == "feedback/responses") {
      // Today's satisfaction: the count with its time (today's only on the local day it
      // was counted in), the index (-1: not significant) and the minimum it is judged by.
      f["feedback_today"]["responses"] = IntOrNull(live, i, 6);
      f["feedback_today"]["ts_ms"] = ts;
    } else if (metric == "feedback/index") {
      const double v = live.null(i, 8) ? -1 : std::strtod(live.at(i, 8).c_str(), nullptr);
      f["feedback_today"]["index"] = v < 0 ? Json(nullptr) : Json(gateway::report::RoundTo(v, 1));
      f["feedback_today"]["index_ts_ms"] = ts;
    } else if (metric == "feedback/min_responses") {
      f["feedback_today"]["min_responses"] = IntOrNull(live, i, 6);
    } else if (metric == "sessions/active") {
      f["sessions_active"] = IntOrNull(live, i, 6);
    } else {
      int n = std::atoi(metric.c_str() + std::string("connectors/").size());
      connectors[it->first][n] = live.at(i, 7);
    }
  }
  Json list = Json::array();
  for (const Key& k : order) {
    Json f = std::move(by_key[k]);
    for (const auto& [n, status] : connectors[k]) f["connectors"].push_back(Json{{"number", n}, {"status", status}});
    list.push_back(std::move(f));
  }
  root["facilities"] = std::move(list);
  return root.dump();
}

}  // namespace host
