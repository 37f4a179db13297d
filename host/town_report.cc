#include "town_report.h"

#include <libpq-fe.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <tuple>

#include "gateway/local_time.h"
#include "pg_connect.h"
#include "report/figures.h"

namespace host {

namespace {

using Json = nlohmann::json;

}  // namespace

std::optional<double> TypeTotals::Utilisation() const {
  if (capacity_hours <= 0) return std::nullopt;
  return occupant_hours / capacity_hours;
}
std::optional<double> TypeTotals::Completeness() const {
  if (open_hours <= 0) return std::nullopt;
  return complete_hours / open_hours;
}
std::optional<double> TypeTotals::Coverage() const {
  if (days_reported + days_missing == 0) return std::nullopt;
  return double(days_reported) / double(days_reported + days_missing);
}

gateway::Result<std::vector<std::string>> DateRange(const std::string& from, const std::string& to) {
  auto a = gateway::report::ParseDate(from);
  if (!a.ok()) return a.status();
  auto b = gateway::report::ParseDate(to);
  if (!b.ok()) return b.status();
  if (*b < *a) return gateway::Status::InvalidArgument("--to " + to + " is before --from " + from);
  if (*b - *a > 3700) return gateway::Status::InvalidArgument("a range of more than ten years");
  std::vector<std::string> out;
  for (int64_t d = *a; d <= *b; ++d) out.push_back(gateway::FormatDayNumber(d));
  return out;
}

gateway::Result<ReportedDay> ParseReportedDay(const std::string& dataset_json) {
  try {
    Json j = Json::parse(dataset_json);
    const auto& cols = j.at("columns");
    const auto& rows = j.at("rows");
    const Json* day = nullptr;
    int period_col = -1;
    for (size_t i = 0; i < cols.size(); ++i)
      if (cols[i] == "period") period_col = int(i);
    for (const auto& r : rows) {
      if (period_col < 0 || r.at(size_t(period_col)) == "day") {
        day = &r;
        break;
      }
    }
    if (day == nullptr) return gateway::Status::Corruption("reports/daily without a day row");
    auto cell = [&](const char* name) -> const Json* {
      for (size_t i = 0; i < cols.size(); ++i)
        if (cols[i] == name && i < day->size()) return &(*day)[i];
      return nullptr;
    };
    auto num = [&](const char* name) -> double {
      const Json* c = cell(name);
      return c && c->is_number() ? c->get<double>() : 0.0;
    };
    auto count = [&](const char* name) -> int64_t {
      const Json* c = cell(name);
      return c && c->is_number() ? c->get<int64_t>() : 0;
    };
    // -1 is the DataSet's "unknown" (docs/wire-format.md).
    auto known = [&](const char* name) -> std::optional<double> {
      const Json* c = cell(name);
      if (!c || !c->is_number()) return std::nullopt;
      double v = c->get<double>();
      return v < 0 ? std::nullopt : std::optional<double>(v);
    };
    ReportedDay d;
    const Json* date = cell("date");
    if (!date || !date->is_string()) return gateway::Status::Corruption("reports/daily without a date");
    d.date = date->get<std::string>();
    d.revision = count("revision");
    d.late_readings = count("late_readings");
    d.capacity = count("capacity");
    d.opening_hours = num("opening_hours");
    d.visits = count("visits");
    if (int64_t peak = count("peak_occupancy"); cell("peak_occupancy") && peak >= 0) {
      d.peak_occupancy = peak;
      d.peak_time_ms = count("peak_time");
    }
    d.mean_occupancy = known("mean_occupancy");
    d.utilisation = known("utilisation");
    d.completeness = known("completeness");
    d.hours_crowded = num("hours_crowded");
    d.hours_full = num("hours_full");
    d.meals = count("meals");
    d.checkins = count("checkins");
    d.charging_sessions = count("charging_sessions");
    d.mean_session_min = known("mean_session_min");
    d.energy_kwh = num("energy_kwh");
    d.connector_utilisation = known("connector_utilisation");
    d.availability = known("availability");
    d.equipment_sessions = count("equipment_sessions");
    d.equipment_active_min = num("equipment_active_min");
    std::vector<std::string> names;
    std::vector<std::optional<double>> cells;
    for (size_t i = 0; i < cols.size(); ++i) {
      names.push_back(cols[i].is_string() ? cols[i].get<std::string>() : std::string());
      const Json* c = i < day->size() ? &(*day)[i] : nullptr;
      cells.push_back(c && c->is_number() ? std::optional<double>(c->get<double>()) : std::nullopt);
    }
    d.feedback = FeedbackOfDay(names, cells);
    return d;
  } catch (const std::exception& e) {
    return gateway::Status::Corruption(std::string("reports/daily: ") + e.what());
  }
}

void SummariseTown(TownReport& report) {
  std::map<std::string, TypeTotals> by_type;
  TypeTotals all;
  for (auto& f : report.facilities) {
    f.missing.clear();
    size_t i = 0;
    for (const auto& date : report.dates) {
      while (i < f.days.size() && f.days[i].date < date) ++i;
      if (i >= f.days.size() || f.days[i].date != date) f.missing.push_back(date);
    }
    f.satisfaction = SatisfactionSum{};
    f.has_feedback = false;
    for (const auto& d : f.days) {
      if (!d.feedback) continue;
      f.has_feedback = true;
      f.satisfaction.Add(*d.feedback, f.feedback_scale,
                         f.counts.visits ? std::optional<int64_t>(d.visits) : std::nullopt);
    }
    TypeTotals& t = by_type[f.type];
    t.type = f.type;
    for (TypeTotals* x : {&t, &all}) {
      if (!f.has_feedback) continue;
      x->feedback_facilities += 1;
      x->satisfaction.Add(f.satisfaction);
    }
    for (TypeTotals* x : {&t, &all}) {
      x->facilities += 1;
      x->days_missing += int64_t(f.missing.size());
      for (const auto& d : f.days) {
        x->days_reported += 1;
        x->visits += d.visits;
        x->meals += d.meals;
        x->checkins += d.checkins;
        x->charging_sessions += d.charging_sessions;
        x->equipment_sessions += d.equipment_sessions;
        x->energy_kwh += d.energy_kwh;
        x->open_hours += d.opening_hours;
        const double complete = d.completeness.value_or(0) * d.opening_hours;
        x->complete_hours += complete;
        if (d.mean_occupancy && d.utilisation && d.capacity > 0) {
          x->occupant_hours += *d.mean_occupancy * complete;
          x->capacity_hours += double(d.capacity) * complete;
        }
      }
    }
  }
  report.totals.clear();
  for (auto& [type, t] : by_type) report.totals.push_back(t);
  all.type.clear();
  report.totals.push_back(all);
}

gateway::Result<TownReport> LoadTownReport(const std::string& conninfo, const std::string& password,
                                           const TownReportQuery& query) {
  TownReport report;
  report.from = query.from;
  report.to = query.to;
  report.groups = query.groups;
  report.type = query.type;
  auto dates = DateRange(query.from, query.to);
  if (!dates.ok()) return dates.status();
  report.dates = std::move(dates.value());

  PGconn* conn = OpenPg(conninfo, password, "community-host report");
  struct Closer {
    PGconn* c;
    ~Closer() { PQfinish(c); }
  } closer{conn};
  auto fail = [&](const char* what) { return PgError(conn, what); };
  if (PQstatus(conn) != CONNECTION_OK) return fail("cannot connect to PostgreSQL");
  // Read in one snapshot, so that facilities and their reports agree.
  PgResult begin(PQexec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  if (begin.status() != PGRES_COMMAND_OK) return fail("BEGIN");

  const std::string groups = PgTextArray(query.groups);
  const char* all_groups = query.groups.empty() ? "t" : "f";
  // Facilities seen in a birth or a report, with what their newest samples say they
  // are (facility/type, facility/name: stated at every gateway start) and which
  // figures apply, by the sensors their births declared, as the gateway's report
  // decides it: visits with door counters (entries_total), meals with meal terminals,
  // check-ins with check-in terminals, fitness with equipment (in_use), charging with
  // charge points (sessions/active).
  const char* facilities_sql = R"sql(
WITH f AS (
  SELECT group_id, edge_node, device FROM facilities WHERE $2 OR group_id = ANY($1::text[])
  UNION SELECT group_id, edge_node, device FROM daily_reports WHERE $2 OR group_id = ANY($1::text[]))
SELECT f.group_id, f.edge_node, f.device,
  coalesce((SELECT v_text FROM samples s WHERE (s.group_id, s.edge_node, s.device, s.metric) =
            (f.group_id, f.edge_node, f.device, 'facility/type') ORDER BY ts_ms DESC LIMIT 1), 'unknown'),
  coalesce((SELECT v_text FROM samples s WHERE (s.group_id, s.edge_node, s.device, s.metric) =
            (f.group_id, f.edge_node, f.device, 'facility/name') ORDER BY ts_ms DESC LIMIT 1), ''),
  EXISTS (SELECT 1 FROM metric_catalog c WHERE (c.group_id, c.edge_node, c.device) = (f.group_id, f.edge_node, f.device)
          AND c.metric LIKE 'sensors/%/entries\_total'),
  EXISTS (SELECT 1 FROM metric_catalog c WHERE (c.group_id, c.edge_node, c.device) = (f.group_id, f.edge_node, f.device)
          AND c.metric LIKE 'sensors/%/meals\_total'),
  EXISTS (SELECT 1 FROM metric_catalog c WHERE (c.group_id, c.edge_node, c.device) = (f.group_id, f.edge_node, f.device)
          AND c.metric LIKE 'sensors/%/checkins\_total'),
  EXISTS (SELECT 1 FROM metric_catalog c WHERE (c.group_id, c.edge_node, c.device) = (f.group_id, f.edge_node, f.device)
          AND c.metric = 'sessions/active'),
  EXISTS (SELECT 1 FROM metric_catalog c WHERE (c.group_id, c.edge_node, c.device) = (f.group_id, f.edge_node, f.device)
          AND c.metric LIKE 'sensors/%/in\_use')
FROM f ORDER BY 1, 4, 3, 2)sql";
  const char* fparams[] = {groups.c_str(), all_groups};
  PgResult fr(PQexecParams(conn, facilities_sql, 2, nullptr, fparams, nullptr, nullptr, 0));
  if (fr.status() != PGRES_TUPLES_OK) return fail("reading facilities");
  std::map<std::tuple<std::string, std::string, std::string>, size_t> index;
  for (int i = 0; i < PQntuples(fr.r); ++i) {
    TownFacility f;
    f.group_id = fr.at(i, 0);
    f.edge_node = fr.at(i, 1);
    f.id = fr.at(i, 2);
    f.type = fr.at(i, 3);
    f.name = fr.at(i, 4);
    f.counts = Counts{fr.at(i, 5) == "t", fr.at(i, 6) == "t", fr.at(i, 7) == "t", fr.at(i, 8) == "t",
                      fr.at(i, 9) == "t"};
    // As the gateway's report: canteens count meals, elderly stations check-ins.
    f.counts.meals = f.counts.meals || f.type == "canteen";
    f.counts.checkins = f.counts.checkins || f.type == "elderly_station";
    if (!query.type.empty() && f.type != query.type) continue;
    index[{f.group_id, f.edge_node, f.id}] = report.facilities.size();
    report.facilities.push_back(std::move(f));
  }

  // What the births state of the feedback terminals (their newest values).
  const char* scale_sql =
      "SELECT group_id, edge_node, device, metric, v_int FROM live_values"
      " WHERE ($2 OR group_id = ANY($1::text[])) AND v_int IS NOT NULL"
      " AND (metric = 'feedback/min_responses' OR metric LIKE 'feedback/%/score')";
  PgResult sr(PQexecParams(conn, scale_sql, 2, nullptr, fparams, nullptr, nullptr, 0));
  if (sr.status() != PGRES_TUPLES_OK) return fail("reading feedback scales");
  for (int i = 0; i < PQntuples(sr.r); ++i) {
    auto it = index.find({sr.at(i, 0), sr.at(i, 1), sr.at(i, 2)});
    if (it == index.end()) continue;
    FeedbackScale& scale = report.facilities[it->second].feedback_scale;
    const std::string metric = sr.at(i, 3);
    const int64_t v = std::stoll(sr.at(i, 4));
    if (metric == "feedback/min_responses") {
      scale.min_responses = v;
    } else {
      scale.scores[metric.substr(9, metric.size() - 9 - 6)] = int(v);  // feedback/{button}/score
    }
  }

  const char* days_sql =
      "SELECT group_id, edge_node, device, report::text FROM daily_reports"
      " WHERE ($2 OR group_id = ANY($1::text[])) AND day BETWEEN $3::date AND $4::date"
      " ORDER BY group_id, edge_node, device, day";
  const char* dparams[] = {groups.c_str(), all_groups, query.from.c_str(), query.to.c_str()};
  PgResult dr(PQexecParams(conn, days_sql, 4, nullptr, dparams, nullptr, nullptr, 0));
  if (dr.status() != PGRES_TUPLES_OK) return fail("reading daily reports");
  for (int i = 0; i < PQntuples(dr.r); ++i) {
    auto it = index.find({dr.at(i, 0), dr.at(i, 1), dr.at(i, 2)});
    if (it == index.end()) continue;  // another type
    auto day = ParseReportedDay(dr.at(i, 3));
    if (!day.ok()) {
      return gateway::Status::Corruption(dr.at(i, 1) + "/" + dr.at(i, 2) + ": " + day.status().message());
    }
    report.facilities[it->second].days.push_back(std::move(day.value()));
  }
  auto alarms = LoadTownAlarms(conn, query.groups, query.from, query.to, query.timezone,
                               [&](const std::string& g, const std::string& e, const std::string& f) {
                                 return index.count({g, e, f}) > 0;
                               });
  if (!alarms.ok()) return alarms.status();
  report.alarms = std::move(alarms.value());
  PgResult end(PQexec(conn, "COMMIT"));
  SummariseTown(report);
  return report;
}

}  // namespace host
