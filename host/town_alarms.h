// TownAlarms: the emergency calls part of the town report (docs/town-host.md, "Alarms in
// the town report"). Per facility and local day of raised_at (in the facilities' zone,
// host.timezone): real calls, test presses, presses folded (presses - 1 summed over the
// real calls), acknowledged, time to acknowledge (acknowledged_at - raised_at, seconds,
// real calls only: median and worst) and still open; per facility over the range and
// for the town. Figures are counted from the `alarms` table as the host merged it;
// medians are of the calls themselves, never of other medians.
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

namespace host {

struct AlarmFigures {
  int64_t alarms = 0;          // real calls (test = false)
  int64_t test_presses = 0;    // alarms with test = true
  int64_t presses_folded = 0;  // sum of (presses - 1) over the real calls
  int64_t acknowledged = 0;    // real calls acknowledged
  int64_t open = 0;            // real calls not acknowledged
  std::vector<double> ack_seconds;  // each acknowledged real call's time to acknowledge

  void Add(bool test, int64_t presses, std::optional<double> ack_s);
  void Add(const AlarmFigures& o);
  std::optional<double> MedianAckSeconds() const;
  std::optional<double> WorstAckSeconds() const;
};

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
