// TownReport: the town's evaluation report from what the gateways published: every
// facility's figures per local day exactly as its gateway reported them (the stored
// reports/daily, latest revision; docs/town-host.md "The town report"), the days a
// facility has no report for (listed, never counted as zero), and town totals by
// facility type summed from the reported days only.
//
// LoadTownReport reads PostgreSQL (its own connection, read only); SummariseTown is a
// pure function of the facilities' rows, so the totals' definitions are testable
// without a database. Any thread; nothing shared.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gateway/status.h"
#include "town_alarms.h"
#include "town_satisfaction.h"

namespace host {

// The "day" row of one reports/daily DataSet. Figures the DataSet marks unknown (-1)
// are nullopt, as in the gateway's own report.
struct ReportedDay {
  std::string date;  // YYYY-MM-DD, the facility's local date
  int64_t revision = 0;
  int64_t late_readings = 0;
  int64_t capacity = 0;
  double opening_hours = 0;
  int64_t visits = 0;
  std::optional<int64_t> peak_occupancy;
  std::optional<int64_t> peak_time_ms;  // UTC epoch ms
  std::optional<double> mean_occupancy, utilisation, completeness;
  double hours_crowded = 0, hours_full = 0;
  int64_t meals = 0, checkins = 0;
  int64_t charging_sessions = 0;
  std::optional<double> mean_session_min;
  double energy_kwh = 0;
  std::optional<double> connector_utilisation, availability;
  int64_t equipment_sessions = 0;
  double equipment_active_min = 0;
  std::optional<ReportedFeedback> feedback;  // facilities with feedback terminals
};

// What a facility's births say it counts: decides which figures apply to it, as the
// gateway's report does (visits only with door counters, ...).
struct Counts {
  bool visits = false, meals = false, checkins = false, charging = false, equipment = false;
};

struct TownFacility {
  std::string group_id, edge_node, id;
  std::string type;  // facility/type from the births; "unknown" when never stated
  std::string name;
  Counts counts;
  std::vector<ReportedDay> days;       // reported days of the range, in date order
  std::vector<std::string> missing;    // days of the range without a report
  FeedbackScale feedback_scale;        // what the births state of its feedback terminals
  bool has_feedback = false;           // a day reported feedback columns
  SatisfactionSum satisfaction;        // its reported days summed
};

struct TypeTotals {
  std::string type;
  int64_t facilities = 0;
  int64_t days_reported = 0, days_missing = 0;
  int64_t visits = 0, meals = 0, checkins = 0, charging_sessions = 0, equipment_sessions = 0;
  double energy_kwh = 0;
  double open_hours = 0;           // summed opening hours of the reported days
  double complete_hours = 0;       // summed complete open hours (completeness x opening hours)
  double occupant_hours = 0;       // summed mean occupancy x complete open hours
  double capacity_hours = 0;       // summed capacity x complete open hours, of days with a utilisation
  std::optional<double> Utilisation() const;   // occupant_hours / capacity_hours
  std::optional<double> Completeness() const;  // complete_hours / open_hours
  std::optional<double> Coverage() const;      // days_reported / (days_reported + days_missing)
  int64_t feedback_facilities = 0;             // facilities with feedback terminals
  SatisfactionSum satisfaction;                // their summed per-button counts
};

struct TownReport {
  std::string from, to;              // YYYY-MM-DD, inclusive
  std::vector<std::string> groups;
  std::string type;                  // the --type filter; empty: all
  std::vector<std::string> dates;    // every date of the range
  std::vector<TownFacility> facilities;  // by group, type, id
  std::vector<TypeTotals> totals;        // by type, then "all" (type "")
  TownAlarms alarms;                     // emergency calls per facility and local day (town_alarms.h)
};

struct TownReportQuery {
  std::string from, to;
  std::vector<std::string> groups;  // none: every group in the database
  std::string type;                 // empty: every type
  std::string timezone = "Asia/Shanghai";  // the facilities' zone: the local day of an alarm
};

// The dates from..to inclusive; InvalidArgument naming the text for a bad or reversed one.
gateway::Result<std::vector<std::string>> DateRange(const std::string& from, const std::string& to);

// Parses the "day" row of a stored reports/daily (DataSetToJson) into a ReportedDay.
gateway::Result<ReportedDay> ParseReportedDay(const std::string& dataset_json);

// Fills each facility's missing days and the totals.
void SummariseTown(TownReport& report);

// Facilities are those the host has seen a birth or a report of, in the groups.
gateway::Result<TownReport> LoadTownReport(const std::string& conninfo, const std::string& password,
                                           const TownReportQuery& query);

}  // namespace host
