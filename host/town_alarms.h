// TownAlarms: the emergency calls part of the town report (docs/town-host.md, "Alarms in
// the town report"). Per facility and local day of raised_at (in the facilities' zone,
// host.timezone): real calls, test presses, presses folded (presses - 1 summed over the
// real calls), acknowledged, time to acknowledge (acknowledged_at - raised_at, seconds,
// real calls only: median and worst) and still open; per facility over the range and
// for the town. Figures are counted from the `alarms` table as the host merged it;
// medians are of the calls themselves, never of other medians. The figures, their
// definitions and their cells are shared with the gateway's daily report
// (report/alarm_figures.h).
//
// LoadTownAlarms reads on the report's connection inside its snapshot; the rest are pure
// functions. Any thread.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "gateway/status.h"
#include "report/alarm_figures.h"

namespace host {

// The figures and their definitions are the gateway's daily report's (report/alarm_figures.h):
// one implementation, so that the town report and each gateway's report agree.
using AlarmFigures = gateway::report::AlarmFigures;

struct AlarmDayFigures {
  std::string group_id, edge_node, facility, date;  // date: YYYY-MM-DD, local
  AlarmFigures figures;
};

struct TownAlarms {
  std::string timezone;
  std::vector<AlarmDayFigures> days;  // facility, then date
  std::map<std::tuple<std::string, std::string, std::string>, AlarmFigures> facilities;
  AlarmFigures town;
};

// The alarms raised in [from, to] (local dates in `timezone`) of the groups (none: all);
// only facilities for which keep(group, edge_node, facility) is true.
gateway::Result<TownAlarms> LoadTownAlarms(
    PGconn* conn, const std::vector<std::string>& groups, const std::string& from, const std::string& to,
    const std::string& timezone,
    const std::function<bool(const std::string&, const std::string&, const std::string&)>& keep);

// The writers' pieces (town_report_writers.cc).
nlohmann::ordered_json TownAlarmsJson(const TownAlarms& a);
std::string TownAlarmsCsv(const TownAlarms& a);
std::string TownAlarmsHtml(const TownAlarms& a);

}  // namespace host
