#include "town_alarms.h"

#include <algorithm>
#include <functional>
#include <sstream>

#include "pg_connect.h"
#include "report/report_text.h"

namespace host {

namespace {

using Json = nlohmann::ordered_json;
using gateway::report::CsvField;
using gateway::report::HtmlEscape;
using gateway::report::AlarmCsvCells;
using gateway::report::AlarmCsvHeadings;
using gateway::report::AlarmFiguresJson;
using gateway::report::AlarmHtmlCells;
using gateway::report::AlarmHtmlHeadings;

Json FiguresJson(const AlarmFigures& f) { return AlarmFiguresJson(f); }

std::string FiguresCsv(const AlarmFigures& f) {
  std::string o;
  bool first = true;
  for (const auto& c : AlarmCsvCells(f)) {
    // Appended piece by piece: `literal + std::string` draws GCC 12's -Wrestrict false
    // positive at -O3.
    if (!first) o += ',';
    o += CsvField(c);
    first = false;
  }
  return o;
}

std::string FiguresHtml(const AlarmFigures& f) { return AlarmHtmlCells(f); }

}  // namespace

gateway::Result<TownAlarms> LoadTownAlarms(
    PGconn* conn, const std::vector<std::string>& groups, const std::string& from, const std::string& to,
    const std::string& timezone,
    const std::function<bool(const std::string&, const std::string&, const std::string&)>& keep) {
  TownAlarms out;
  out.timezone = timezone;
  const std::string g = PgTextArray(groups);
  const char* p[] = {g.c_str(), groups.empty() ? "t" : "f", from.c_str(), to.c_str(), timezone.c_str()};
  PgResult r(PQexecParams(conn, R"sql(
SELECT group_id, edge_node, facility, to_char(raised_at AT TIME ZONE $5, 'YYYY-MM-DD'), test, presses,
  CASE WHEN state = 'acknowledged' THEN round(extract(epoch FROM acknowledged_at - raised_at) * 1000)::bigint END
FROM alarms
WHERE ($2 OR group_id = ANY($1::text[])) AND (raised_at AT TIME ZONE $5)::date BETWEEN $3::date AND $4::date
ORDER BY 1, 2, 3, 4)sql",
                          5, nullptr, p, nullptr, nullptr, 0));
  if (r.status() != PGRES_TUPLES_OK) return PgError(conn, "reading alarms");
  for (int i = 0; i < PQntuples(r.r); ++i) {
    const std::string group = r.at(i, 0), edge = r.at(i, 1), facility = r.at(i, 2), date = r.at(i, 3);
    if (!keep(group, edge, facility)) continue;
    if (out.days.empty() || out.days.back().group_id != group || out.days.back().edge_node != edge ||
        out.days.back().facility != facility || out.days.back().date != date)
      out.days.push_back(AlarmDayFigures{group, edge, facility, date, {}});
    std::optional<int64_t> ack;
    if (!r.null(i, 6)) ack = r.integer(i, 6);
    out.days.back().figures.Add(r.at(i, 4) == "t", r.integer(i, 5), ack);
  }
  for (const auto& d : out.days) {
    out.facilities[{d.group_id, d.edge_node, d.facility}].Add(d.figures);
    out.town.Add(d.figures);
  }
  return out;
}

Json TownAlarmsJson(const TownAlarms& a) {
  Json days = Json::array();
  for (const auto& d : a.days) {
    Json j{{"group_id", d.group_id}, {"edge_node_id", d.edge_node}, {"facility_id", d.facility}, {"date", d.date}};
    j.update(FiguresJson(d.figures));
    days.push_back(std::move(j));
  }
  Json facilities = Json::array();
  for (const auto& [k, f] : a.facilities) {
    Json j{{"group_id", std::get<0>(k)}, {"edge_node_id", std::get<1>(k)}, {"facility_id", std::get<2>(k)}};
    j.update(FiguresJson(f));
    facilities.push_back(std::move(j));
  }
  return Json{{"timezone", a.timezone}, {"days", std::move(days)}, {"facilities", std::move(facilities)},
              {"town", FiguresJson(a.town)}};
}

std::string TownAlarmsCsv(const TownAlarms& a) {
  std::ostringstream o;
  o << "\r\n报警 Alarms (" << CsvField(a.timezone) << "),网关 Gateway,设施编号 Facility ID,日期 Date";
  for (const auto& h : AlarmCsvHeadings()) o << "," << CsvField(h);
  o << "\r\n";
  for (const auto& d : a.days)
    o << CsvField(d.group_id) << "," << CsvField(d.edge_node) << "," << CsvField(d.facility) << "," << d.date << ","
      << FiguresCsv(d.figures) << "\r\n";
  o << "合计 Town total,,,," << FiguresCsv(a.town) << "\r\n";
  return o.str();
}

std::string TownAlarmsHtml(const TownAlarms& a) {
  auto th = [](const char* zh, const char* en) {
    return std::string("<th>") + zh + "<br><span class=\"en\">" + en + "</span></th>";
  };
  std::ostringstream o;
  o << "<section id=\"alarms\"><h2>紧急呼叫 <span class=\"en\">Emergency calls (local days, "
    << HtmlEscape(a.timezone) << ")</span></h2><table><tr>" << th("设施", "Facility") << th("网关", "Gateway")
    << th("日期", "Date") << AlarmHtmlHeadings() << "</tr>\n";
  for (const auto& d : a.days)
    o << "<tr><td class=\"l\">" << HtmlEscape(d.facility) << "</td><td class=\"l\">" << HtmlEscape(d.edge_node)
      << "</td><td class=\"l\">" << d.date << "</td>" << FiguresHtml(d.figures) << "</tr>\n";
  o << "<tr class=\"total\"><td class=\"l\" colspan=\"3\">全镇合计 Town total</td>" << FiguresHtml(a.town)
    << "</tr></table><p>测试按压不计入呼叫；确认时间只计真实呼叫。<span class=\"en\">Test presses are counted apart "
       "from calls; times to acknowledge are of real calls only.</span></p></section>\n";
  return o.str();
}

}  // namespace host
