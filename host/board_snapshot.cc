#include "board_snapshot.h"

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

gateway::Result<std::string> BoardSnapshotJson(PGconn* conn, const std::vector<std::string>& groups, int64_t now_ms) {
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

  Json root;
  root["now_ms"] = now_ms;
  root["groups"] = groups;
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
