#include "report/report_text.h"

#include <cmath>
#include <cstdio>

namespace gateway::report {

double RoundTo(double v, int decimals) {
  const double p = std::pow(10.0, decimals);
  return std::round(v * p) / p;
}

std::string FixedDecimals(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string HtmlEscape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

const char* FacilityTypeLabel(FacilityType t) {
  switch (t) {
    case FacilityType::kCanteen: return "长者食堂 Canteen";
    case FacilityType::kElderlyStation: return "为老服务站 Elderly station";
    case FacilityType::kChargingStation: return "充电站 Charging station";
    case FacilityType::kFitnessPoint: return "健身点 Fitness point";
  }
  return "";
}

const char* const kReportCss = R"css(
@page { size: A4; margin: 14mm; }
body { font-family: "WenQuanYi Zen Hei", "Noto Sans CJK SC", "Noto Sans SC", "Microsoft YaHei", sans-serif;
       font-size: 11px; color: #1a202c; margin: 0 auto; max-width: 900px; }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 16px; border-bottom: 2px solid #2b6cb0; padding-bottom: 2px; margin-top: 18px; }
h3 { font-size: 13px; margin: 10px 0 4px; }
.en { color: #4a5568; font-weight: normal; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 10px; }
th, td { border: 1px solid #cbd5e0; padding: 2px 4px; text-align: right; font-size: 10px; }
td { white-space: nowrap; }
td.l { white-space: normal; }
th { background: #edf2f7; text-align: center; font-weight: 600; }
td.l, th.l { text-align: left; }
tr.total td { font-weight: 700; background: #f7fafc; }
.meta td { text-align: left; border: none; padding: 1px 6px 1px 0; }
.kpis { display: flex; flex-wrap: wrap; gap: 6px; margin: 6px 0; }
.kpi { border: 1px solid #cbd5e0; border-radius: 4px; padding: 4px 8px; min-width: 110px; }
.kpi b { display: block; font-size: 15px; }
.chart { display: block; width: 100%; max-width: 640px; height: auto; }
section.facility { break-before: page; }
.defs dt { font-weight: 600; } .defs dd { margin: 0 0 4px 12px; }
.nodata { color: #a0aec0; }
)css";

}  // namespace gateway::report
