// Report text: the small formatting rules every report writer shares (the gateway's
// `report` command in writers.cc, the town host's in host/town_report_writers.cc), so
// that a figure is rounded, escaped and labelled the same way in both and the town's
// report can equal each gateway's exactly.
//
// Pure functions and constants; any thread.
#pragma once

#include <optional>
#include <string>

#include "gateway/config.h"

namespace gateway::report {

// The JSON reports' rounding: ratios to 4 decimals, energy to 3, minutes to 2.
double RoundTo(double v, int decimals);
// Fixed decimals, as CSV and HTML print them.
std::string FixedDecimals(double v, int decimals);
std::string CsvField(const std::string& s);
std::string HtmlEscape(const std::string& s);
// "长者食堂 Canteen", ...: the bilingual label of a type.
const char* FacilityTypeLabel(FacilityType t);
// The stylesheet of the HTML reports (screen and A4 print).
extern const char* const kReportCss;

}  // namespace gateway::report
