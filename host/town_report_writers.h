// Town report writers: a TownReport (town_report.h) as CSV, JSON or a self-contained
// HTML page, formatted by the same rules as the gateway's report (report/report_text.h:
// rounding, escaping, type labels, stylesheet), so that a facility's figures read the
// same in both. JSON is "community-host/town-report/v1" (docs/town-host.md).
//
// Pure functions of their inputs (the generation time is passed in); any thread.
#pragma once

#include <string>

#include "town_report.h"

namespace host {

std::string WriteTownCsv(const TownReport& report);
std::string WriteTownJson(const TownReport& report, const std::string& generated_at);
std::string WriteTownHtml(const TownReport& report, const std::string& generated_at);

}  // namespace host
