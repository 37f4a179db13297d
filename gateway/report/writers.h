// Report writers: ReportData (figures.h) as CSV, JSON or a self-contained HTML page, and
// the `report` command that ties config, history and writer together.
//
// CSV is for spreadsheets: UTF-8 with a byte-order mark (so Excel reads the Chinese
// headings), one row per facility and day plus a total row per facility, headings in
// Chinese with English beside. JSON follows docs/report-format.md
// ("community-gateway/report/v1"). HTML needs no network and no JavaScript: inline CSS
// and SVG charts (hourly occupancy profile and daily trend per facility), a table per
// facility and a town-level summary, laid out for printing on A4.
//
// Pure functions of their inputs (the generation time is passed in, so output is
// reproducible); any thread.
#pragma once

#include <string>
#include <vector>

#include "gateway/config.h"
#include "gateway/status.h"
#include "report/figures.h"

namespace gateway::report {

std::string WriteCsv(const Config& config, const ReportData& data);
std::string WriteJson(const Config& config, const ReportData& data, const std::string& generated_at);
std::string WriteHtml(const Config& config, const ReportData& data, const std::string& generated_at);

struct ReportRequest {
  std::string from;  // local dates YYYY-MM-DD, inclusive
  std::string to;
  std::vector<std::string> facilities;  // empty: all
  std::string format = "html";          // csv, json or html
  std::string out;                      // file to write; "-" for stdout
  std::string generated_at;             // stamp printed in the report; empty: now (UTC)
};

// Reads config.data_dir/buffer.db read-only and writes the report. Errors say what
// was wrong with the request (bad dates, unknown facilities, empty range) or the file.
Status RunReport(const Config& config, const ReportRequest& request);

}  // namespace gateway::report
