// DailyReportRow: the key figures of one reports/daily DataSet (docs/wire-format.md),
// as the host stores it: the facility's local date, the revision (a report made again
// for a day with late readings has a higher one; a DataSet without the column is
// revision 0), late_readings when present, and the whole table as JSON.
// Pure functions; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "gateway/reading.h"

namespace host {

struct DailyReportRow {
  std::string date;  // YYYY-MM-DD
  int64_t revision = 0;
  std::optional<int64_t> late_readings;
  std::string json;
};

// nullopt: not a daily report (no date column, no rows, a malformed date).
std::optional<DailyReportRow> ParseDailyReport(const gateway::DataSet& d);

}  // namespace host
