#include "daily_report_row.h"

namespace host {

namespace {

std::optional<int64_t> AsInt(const gateway::Scalar& s) {
  if (auto* v = std::get_if<int32_t>(&s)) return *v;
  if (auto* v = std::get_if<int64_t>(&s)) return *v;
  if (auto* v = std::get_if<uint32_t>(&s)) return int64_t(*v);
  if (auto* v = std::get_if<uint64_t>(&s)) return *v > uint64_t(INT64_MAX) ? std::nullopt : std::optional<int64_t>(int64_t(*v));
  return std::nullopt;
}

bool IsDate(const std::string& s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9})
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

}  // namespace

std::optional<DailyReportRow> ParseDailyReport(const gateway::DataSet& d) {
  int date_col = -1, rev_col = -1, late_col = -1;
  for (size_t i = 0; i < d.columns.size(); ++i) {
    if (d.columns[i] == "date") date_col = int(i);
    if (d.columns[i] == "revision") rev_col = int(i);
    if (d.columns[i] == "late_readings") late_col = int(i);
  }
  if (date_col < 0 || d.rows.empty()) return std::nullopt;
  const auto& first = d.rows.front();
  auto* date = std::get_if<std::string>(&first[size_t(date_col)]);
  if (date == nullptr || !IsDate(*date)) return std::nullopt;
  DailyReportRow r;
  r.date = *date;
  if (rev_col >= 0) {
    auto v = AsInt(first[size_t(rev_col)]);
    if (!v) return std::nullopt;
    r.revision = *v;
  }
  if (late_col >= 0) r.late_readings = AsInt(first[size_t(late_col)]);
  r.json = gateway::DataSetToJson(d);
  return r;
}

}  // namespace host
