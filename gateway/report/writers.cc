// Report writers (see the header). Past 500 lines because the three formats of one
// report are kept side by side, so that a figure added to one is seen missing from the
// others; the satisfaction section lives in feedback_report.cc, the shared wording and
// rounding in report_text.cc.
#include "report/writers.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "report/feedback_report.h"
#include "report/report_text.h"
#include "store/migrations.h"

namespace gateway::report {

namespace {

using Json = nlohmann::ordered_json;

std::string Num(double v, int decimals) { return FixedDecimals(v, decimals); }
std::string Esc(const std::string& s) { return HtmlEscape(s); }
const char* TypeLabel(FacilityType t) { return FacilityTypeLabel(t); }

struct Kinds {
  bool visits = false, meals = false, checkins = false, charging = false, equipment = false;
};

Kinds KindsOf(const FacilityConfig& f) {
  Kinds k;
  k.meals = f.type == FacilityType::kCanteen;
  k.checkins = f.type == FacilityType::kElderlyStation;
  for (const auto& s : f.sensors) {
    if (s.kind == SensorKind::kDoorCounter) k.visits = true;  // only door counters count entries
    if (s.kind == SensorKind::kMealTerminal) k.meals = true;
    if (s.kind == SensorKind::kCheckinTerminal) k.checkins = true;
    if (s.kind == SensorKind::kChargePoint) k.charging = true;
    if (s.kind == SensorKind::kEquipment) k.equipment = true;
  }
  return k;
}


std::string Opt(std::optional<double> v, int decimals, double scale = 1.0) {
  return v ? Num(*v * scale, decimals) : std::string();
}
Json JOpt(std::optional<double> v, int decimals = 4) {
  if (!v) return nullptr;
  return RoundTo(*v, decimals);
}
Json JNum(double v, int decimals = 4) { return JOpt(v, decimals); }

std::string PeakTime(const TimeZone& tz, const Figures& f, bool with_date) {
  if (f.sum.peak < 0) return "";
  LocalDateTime l = tz.ToLocal(f.sum.peak_ts);
  return (with_date ? FormatDayNumber(l.day_number) + " " : std::string()) + LocalClock(tz, f.sum.peak_ts);
}

std::string HourLabel(const PeakHour& p) {
  if (p.hour < 0) return "";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02d:00-%02d:00", p.hour, p.hour + 1);
  return buf;
}

std::string RangeLabel(const ReportData& d) {
  return FormatDayNumber(d.day_from) + " .. " + FormatDayNumber(d.day_to);
}

TimeZone ZoneOf(const FacilityFigures& ff) {
  auto tz = TimeZone::Load(ff.timezone);
  if (tz.ok()) return tz.value();
  return TimeZone::Load("UTC").value();
}

// --- CSV -----------------------------------------------------------------------------


}  // namespace

std::string WriteCsv(const Config& config, const ReportData& data) {
  (void)config;
  std::ostringstream o;
  o << "\xEF\xBB\xBF";  // BOM: spreadsheets then read UTF-8, not the local code page
  const char* headings[] = {
      "设施编号 Facility ID", "设施名称 Facility name", "类型 Type", "日期 Date",
      "开放时长(小时) Opening hours", "到访人次 Visits", "容量 Capacity", "最高在场人数 Peak occupancy",
      "最高时刻 Peak time", "平均在场人数 Mean occupancy", "利用率(%) Utilisation (%)",
      "拥挤时长(小时,>=90%) Hours crowded (>=90%)", "满员时长(小时) Hours at capacity",
      "数据完整率(%) Data completeness (%)", "供餐份数 Meals served", "签到人次 Check-ins",
      "充电次数 Charging sessions", "平均充电时长(分钟) Mean session (min)", "充电量(kWh) Energy (kWh)",
      "充电桩利用率(%) Connector utilisation (%)", "可用率(%) Availability (%)",
      "器材使用次数 Equipment sessions", "器材使用时长(分钟) Equipment active minutes",
      "早高峰 Morning peak", "晚高峰 Evening peak"};
  bool first = true;
  for (const char* h : headings) {
    o << (first ? "" : ",") << CsvField(h);
    first = false;
  }
  for (int h = 0; h < 24; ++h) {
    char buf[96];
    std::snprintf(buf, sizeof buf, ",%02d时平均在场 Mean occupancy %02dh", h, h);
    o << buf;
  }
  o << "," << CsvField("迟到读数 Late readings");
  for (const auto& h : FeedbackCsvHeadings()) o << "," << CsvField(h);
  for (const auto& h : AlarmCsvHeadings()) o << "," << CsvField(h);
  o << "\r\n";
  for (const auto& ff : data.facilities) {
    const FacilityConfig& fc = *ff.config;
    const Kinds k = KindsOf(fc);
    const TimeZone tz = ZoneOf(ff);
    const bool alarms = ShowsAlarms(fc, ff.total);
    auto row = [&](const std::string& date, const Figures& f, bool range) {
      std::vector<std::string> cells = {
          fc.id, fc.name, TypeLabel(fc.type), date, Num(f.OpeningHours(), 2),
          k.visits ? std::to_string(f.sum.entries) : "",
          std::to_string(f.capacity), f.sum.peak >= 0 ? std::to_string(f.sum.peak) : "", PeakTime(tz, f, range),
          Opt(f.MeanOccupancy(), 2), Opt(f.Utilisation(), 2, 100), Num(f.HoursCrowded(), 2), Num(f.HoursFull(), 2),
          Opt(f.Completeness(), 2, 100), k.meals ? std::to_string(f.sum.meals) : "",
          k.checkins ? std::to_string(f.sum.checkins) : "", k.charging ? std::to_string(f.sum.sessions) : "",
          k.charging ? Opt(f.MeanSessionMinutes(), 1) : "", k.charging ? Num(f.sum.energy_kwh, 3) : "",
          k.charging ? Opt(f.ConnectorUtilisation(), 2, 100) : "", k.charging ? Opt(f.Availability(), 2, 100) : "",
          k.equipment ? std::to_string(f.EquipmentSessions()) : "",
          k.equipment ? Num(f.EquipmentActiveMinutes(), 1) : "", k.equipment ? HourLabel(f.MorningPeak()) : "",
          k.equipment ? HourLabel(f.EveningPeak()) : ""};
      for (int h = 0; h < 24; ++h) cells.push_back(Opt(f.HourlyMean(h), 2));
      cells.push_back(std::to_string(f.sum.late_readings));
      for (auto& c : FeedbackCsvCells(fc, f)) cells.push_back(std::move(c));
      if (alarms) {
        for (auto& c : AlarmCsvCells(f.alarms)) cells.push_back(std::move(c));
      } else {
        cells.resize(cells.size() + AlarmCsvHeadings().size());
      }
      for (size_t i = 0; i < cells.size(); ++i) o << (i ? "," : "") << CsvField(cells[i]);
      o << "\r\n";
    };
    for (const auto& d : ff.days) row(FormatDayNumber(d.day_from), d, false);
    row("合计 Total " + RangeLabel(data), ff.total, true);
  }
  return o.str();
}

// --- JSON ----------------------------------------------------------------------------

namespace {

Json FiguresJson(const FacilityFigures& ff, const Figures& f, bool range) {
  const FacilityConfig& fc = *ff.config;
  const Kinds k = KindsOf(fc);
  const TimeZone tz = ZoneOf(ff);
  Json j;
  j["has_data"] = f.has_data;
  j["opening_hours"] = JNum(f.OpeningHours());
  j["visits"] = k.visits ? Json(f.sum.entries) : Json(nullptr);
  j["peak_occupancy"] = f.sum.peak >= 0 ? Json(f.sum.peak) : Json(nullptr);
  j["peak_time"] = f.sum.peak >= 0 ? Json(PeakTime(tz, f, true)) : Json(nullptr);
  j["mean_occupancy"] = JOpt(f.MeanOccupancy());
  j["utilisation"] = JOpt(f.Utilisation());
  j["hours_crowded"] = JNum(f.HoursCrowded());
  j["hours_at_capacity"] = JNum(f.HoursFull());
  j["completeness"] = JOpt(f.Completeness());
  Json hourly = Json::array();
  for (int h = 0; h < 24; ++h) hourly.push_back(JOpt(f.HourlyMean(h)));
  j["hourly_mean_occupancy"] = std::move(hourly);
  if (k.meals) j["meals_served"] = f.sum.meals;
  if (k.checkins) j["checkins"] = f.sum.checkins;
  if (k.charging) {
    j["charging"] = Json{{"sessions", f.sum.sessions},
                         {"sessions_ended", f.sum.sessions_ended},
                         {"mean_session_min", JOpt(f.MeanSessionMinutes(), 2)},
                         {"energy_kwh", JNum(f.sum.energy_kwh, 3)},
                         {"connector_utilisation", JOpt(f.ConnectorUtilisation())},
                         {"availability", JOpt(f.Availability())}};
  }
  if (k.equipment) {
    Json eq = Json::array();
    for (size_t i = 0; i < fc.sensors.size(); ++i) {
      if (fc.sensors[i].kind != SensorKind::kEquipment) continue;
      eq.push_back(Json{{"id", fc.sensors[i].id},
                        {"sessions", f.sensors[i].sessions},
                        {"active_minutes", JNum(double(f.sensors[i].in_use_ms) / 60000.0, 2)}});
    }
    auto peak = [](const PeakHour& p) {
      return p.hour < 0 ? Json(nullptr) : Json{{"hour", p.hour}, {"mean_in_use", JNum(p.in_use, 3)}};
    };
    j["fitness"] = Json{{"equipment_sessions", f.EquipmentSessions()},
                        {"equipment_active_minutes", JNum(f.EquipmentActiveMinutes(), 2)},
                        {"morning_peak", peak(f.MorningPeak())},
                        {"evening_peak", peak(f.EveningPeak())},
                        {"equipment", std::move(eq)}};
  }
  Json sensors = Json::array();
  for (size_t i = 0; i < fc.sensors.size(); ++i) {
    const auto& s = f.sensors[i];
    sensors.push_back(Json{{"id", fc.sensors[i].id},
                           {"readings", s.readings},
                           {"reporting_hours", JNum(double(s.reported_ms) / 3.6e6)}});
  }
  j["sensors"] = std::move(sensors);
  j["late_readings"] = f.sum.late_readings;
  if (auto sat = FeedbackJson(fc, f); !sat.is_null()) j["satisfaction"] = std::move(sat);
  if (ShowsAlarms(fc, ff.total)) j["alarms"] = AlarmFiguresJson(f.alarms);
  (void)range;
  return j;
}

// The OCPP transactions of a charging station: the summary, and every transaction so
// that an evaluator can trace a figure back to its sessions (the card only as its hash).
Json TransactionsJson(const FacilityFigures& ff) {
  const TransactionSummary t = SummariseTransactions(ff.transactions);
  const TimeZone tz = ZoneOf(ff);
  Json reasons = Json::array();
  for (const auto& r : t.by_reason) {
    reasons.push_back(Json{{"stop_reason", r.reason}, {"count", r.count}, {"energy_kwh", JNum(r.energy_kwh, 3)}});
  }
  Json list = Json::array();
  for (const auto& s : ff.transactions) {
    list.push_back(Json{{"charge_point", s.sensor},
                        {"connector", s.connector},
                        {"transaction_id", s.transaction_id},
                        {"start", FormatDayNumber(s.day) + " " + LocalClock(tz, s.start_ms)},
                        {"start_ms", s.start_ms},
                        {"stop_ms", s.stop_ms},
                        {"energy_kwh", JNum(s.energy_kwh, 3)},
                        {"meter_start_kwh", JNum(s.meter_start_kwh, 3)},
                        {"meter_stop_kwh", JNum(s.meter_stop_kwh, 3)},
                        {"stop_reason", s.stop_reason},
                        {"id_tag_hash", s.id_tag_hash}});
  }
  return Json{{"count", t.count},
              {"energy_kwh", JNum(t.energy_kwh, 3)},
              {"mean_duration_min", JOpt(t.MeanMinutes(), 2)},
              {"by_stop_reason", std::move(reasons)},
              {"sessions", std::move(list)}};
}

}  // namespace

std::string WriteJson(const Config& config, const ReportData& data, const std::string& generated_at) {
  Json root;
  root["schema"] = "community-gateway/report/v1";
  root["generated_at"] = generated_at;
  root["group_id"] = config.group_id;
  root["edge_node_id"] = config.edge_node_id;
  root["from"] = FormatDayNumber(data.day_from);
  root["to"] = FormatDayNumber(data.day_to);
  int64_t visits = 0, meals = 0, checkins = 0, sessions = 0, eq_sessions = 0;
  double energy = 0;
  AlarmFigures alarms;  // the calls themselves: the town's median is not a median of medians
  Json facilities = Json::array();
  for (const auto& ff : data.facilities) {
    const FacilityConfig& fc = *ff.config;
    Json jf;
    jf["id"] = fc.id;
    jf["name"] = fc.name;
    jf["type"] = FacilityTypeName(fc.type);
    jf["capacity"] = ff.total.capacity;
    jf["timezone"] = ff.timezone;
    jf["total"] = FiguresJson(ff, ff.total, true);
    Json days = Json::array();
    for (const auto& d : ff.days) {
      Json jd;
      jd["date"] = FormatDayNumber(d.day_from);
      jd.update(FiguresJson(ff, d, false));
      days.push_back(std::move(jd));
    }
    jf["days"] = std::move(days);
    if (KindsOf(fc).charging) jf["transactions"] = TransactionsJson(ff);
    facilities.push_back(std::move(jf));
    visits += ff.total.sum.entries;
    meals += ff.total.sum.meals;
    checkins += ff.total.sum.checkins;
    sessions += ff.total.sum.sessions;
    energy += ff.total.sum.energy_kwh;
    eq_sessions += ff.total.EquipmentSessions();
    alarms.Add(ff.total.alarms);
  }
  root["town"] = Json{{"facilities", data.facilities.size()},
                      {"visits", visits},
                      {"meals_served", meals},
                      {"checkins", checkins},
                      {"charging_sessions", sessions},
                      {"energy_kwh", JNum(energy, 3)},
                      {"equipment_sessions", eq_sessions},
                      {"alarms", AlarmFiguresJson(alarms)}};
  root["facilities"] = std::move(facilities);
  return root.dump(2) + "\n";
}

// --- HTML ----------------------------------------------------------------------------

namespace {


std::string Pct(std::optional<double> v) { return v ? Num(*v * 100, 1) + " %" : "—"; }
std::string OptNum(std::optional<double> v, int d) { return v ? Num(*v, d) : "—"; }

// Hourly occupancy profile: 24 bars of mean occupancy, with the capacity as a line.
std::string HourlySvg(const Figures& f) {
  const int W = 640, H = 220, L = 40, B = 30, T = 14;
  double top = f.capacity;
  for (int h = 0; h < 24; ++h) top = std::max(top, f.HourlyMean(h).value_or(0));
  if (top <= 0) top = 1;
  top *= 1.1;
  const double bw = double(W - L - 10) / 24.0;
  const double ph = H - B - T;
  std::ostringstream o;
  o << "<svg class=\"chart hourly\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " << W << " " << H
    << "\" width=\"" << W << "\" height=\"" << H << "\" role=\"img\" aria-label=\"hourly occupancy profile\">";
  o << "<line x1=\"" << L << "\" y1=\"" << T + ph << "\" x2=\"" << W - 10 << "\" y2=\"" << T + ph
    << "\" stroke=\"#333\"/>";
  for (int i = 0; i <= 4; ++i) {
    double v = top * i / 4, y = T + ph - ph * i / 4;
    o << "<text x=\"" << L - 4 << "\" y=\"" << Num(y + 4, 1) << "\" font-size=\"10\" text-anchor=\"end\">"
      << Num(v, top < 10 ? 1 : 0) << "</text>";
    o << "<line x1=\"" << L << "\" y1=\"" << Num(y, 1) << "\" x2=\"" << W - 10 << "\" y2=\"" << Num(y, 1)
      << "\" stroke=\"#ddd\"/>";
  }
  for (int h = 0; h < 24; ++h) {
    double x = L + h * bw;
    auto m = f.HourlyMean(h);
    if (m) {
      double bh = ph * (*m / top);
      o << "<rect x=\"" << Num(x + 2, 1) << "\" y=\"" << Num(T + ph - bh, 1) << "\" width=\"" << Num(bw - 4, 1)
        << "\" height=\"" << Num(bh, 1) << "\" fill=\"#2b6cb0\"><title>" << h << ":00 " << Num(*m, 2)
        << "</title></rect>";
    }
    if (h % 3 == 0) {
      o << "<text x=\"" << Num(x + bw / 2, 1) << "\" y=\"" << H - B + 14 << "\" font-size=\"10\" "
        << "text-anchor=\"middle\">" << h << "</text>";
    }
  }
  if (f.capacity > 0) {
    double y = T + ph - ph * (f.capacity / top);
    o << "<line x1=\"" << L << "\" y1=\"" << Num(y, 1) << "\" x2=\"" << W - 10 << "\" y2=\"" << Num(y, 1)
      << "\" stroke=\"#c53030\" stroke-dasharray=\"5,3\"/><text x=\"" << W - 12 << "\" y=\"" << Num(y - 3, 1)
      << "\" font-size=\"10\" text-anchor=\"end\" fill=\"#c53030\">容量 capacity " << f.capacity << "</text>";
  }
  o << "<text x=\"" << W / 2 << "\" y=\"" << H - 2 << "\" font-size=\"10\" text-anchor=\"middle\">"
    << "本地时 local hour</text></svg>";
  return o.str();
}

// Daily trend: visits (or sessions) per day as bars, utilisation as a line (right axis).
std::string TrendSvg(const FacilityFigures& ff, bool sessions) {
  const int W = 640, H = 220, L = 40, R = 44, B = 30, T = 14;
  const size_t n = ff.days.size();
  double top = 1;
  for (const auto& d : ff.days) top = std::max(top, double(sessions ? d.sum.sessions : d.sum.entries));
  top *= 1.1;
  const double ph = H - B - T, pw = W - L - R;
  const double bw = pw / double(std::max<size_t>(n, 1));
  std::ostringstream o;
  o << "<svg class=\"chart trend\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " << W << " " << H
    << "\" width=\"" << W << "\" height=\"" << H << "\" role=\"img\" aria-label=\"daily trend\">";
  o << "<line x1=\"" << L << "\" y1=\"" << T + ph << "\" x2=\"" << W - R << "\" y2=\"" << T + ph
    << "\" stroke=\"#333\"/>";
  for (int i = 0; i <= 4; ++i) {
    double y = T + ph - ph * i / 4;
    o << "<text x=\"" << L - 4 << "\" y=\"" << Num(y + 4, 1) << "\" font-size=\"10\" text-anchor=\"end\">"
      << Num(top * i / 4, 0) << "</text>";
    o << "<text x=\"" << W - R + 4 << "\" y=\"" << Num(y + 4, 1) << "\" font-size=\"10\" fill=\"#dd6b20\">"
      << i * 25 << "%</text>";
  }
  std::string line;
  for (size_t i = 0; i < n; ++i) {
    const Figures& d = ff.days[i];
    double x = L + double(i) * bw;
    double v = double(sessions ? d.sum.sessions : d.sum.entries);
    double bh = ph * v / top;
    o << "<rect x=\"" << Num(x + bw * 0.15, 1) << "\" y=\"" << Num(T + ph - bh, 1) << "\" width=\""
      << Num(bw * 0.7, 1) << "\" height=\"" << Num(bh, 1) << "\" fill=\"#38a169\"><title>"
      << FormatDayNumber(d.day_from) << ": " << Num(v, 0) << "</title></rect>";
    if (auto u = d.Utilisation()) {
      double y = T + ph - ph * std::min(1.0, *u);
      line += (line.empty() ? "M" : " L") + Num(x + bw / 2, 1) + "," + Num(y, 1);
      o << "<circle cx=\"" << Num(x + bw / 2, 1) << "\" cy=\"" << Num(y, 1) << "\" r=\"2.5\" fill=\"#dd6b20\"/>";
    }
    size_t every = std::max<size_t>(1, n / 10);
    if (i % every == 0) {
      o << "<text x=\"" << Num(x + bw / 2, 1) << "\" y=\"" << H - B + 14 << "\" font-size=\"9\" "
        << "text-anchor=\"middle\">" << FormatDayNumber(d.day_from).substr(5) << "</text>";
    }
  }
  if (!line.empty()) o << "<path d=\"" << line << "\" fill=\"none\" stroke=\"#dd6b20\" stroke-width=\"1.5\"/>";
  o << "<text x=\"" << L << "\" y=\"10\" font-size=\"10\" fill=\"#38a169\">"
    << (sessions ? "充电次数 sessions" : "到访人次 visits") << "</text>";
  o << "<text x=\"" << W - R << "\" y=\"10\" font-size=\"10\" text-anchor=\"end\" fill=\"#dd6b20\">"
    << "利用率 utilisation</text></svg>";
  return o.str();
}


std::string Th(const char* zh, const char* en) {
  return std::string("<th>") + zh + "<br><span class=\"en\">" + en + "</span></th>";
}

// Emergency calls: per day of raised time and over the range (report/alarm_figures.h).
std::string AlarmSectionHtml(const FacilityFigures& ff) {
  std::ostringstream o;
  o << "<div class=\"alarms\" id=\"alarms-" << Esc(ff.config->id) << "\"><h3>紧急呼叫 <span class=\"en\">Emergency "
    << "calls</span></h3><table><tr><th class=\"l\">日期<br><span class=\"en\">Date</span></th>" << AlarmHtmlHeadings()
    << "</tr>";
  for (const auto& d : ff.days) {
    o << "<tr><td class=\"l\">" << FormatDayNumber(d.day_from) << "</td>" << AlarmHtmlCells(d.alarms) << "</tr>";
  }
  o << "<tr class=\"total\"><td class=\"l\">合计 Total</td>" << AlarmHtmlCells(ff.total.alarms)
    << "</tr></table><p>按呼叫时间计入当地日期；测试按压不计入呼叫；确认时间 = 确认 − 呼叫，只计真实呼叫。"
       "<span class=\"en\">Each call counts in the local day it was raised; test presses are counted apart "
       "from calls; time to acknowledge = acknowledged − raised, of real calls only.</span></p></div>";
  return o.str();
}

}  // namespace

std::string WriteHtml(const Config& config, const ReportData& data, const std::string& generated_at) {
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
    << "<title>社区公共服务设施利用率报告 Facility Utilisation Report " << Esc(RangeLabel(data)) << "</title>"
    << "<style>" << kReportCss << "</style></head><body>\n";
  o << "<header id=\"report-header\"><h1>社区公共服务设施利用率报告 <span class=\"en\">Community Facility "
       "Utilisation Report</span></h1><table class=\"meta\">"
    << "<tr><td>统计期间 <span class=\"en\">Period</span></td><td>" << Esc(RangeLabel(data)) << " ("
    << (data.day_to - data.day_from + 1) << " 天 days)</td></tr>"
    << "<tr><td>区域 / 网关 <span class=\"en\">Area / gateway</span></td><td>" << Esc(config.group_id) << " / "
    << Esc(config.edge_node_id) << "</td></tr>"
    << "<tr><td>生成时间 <span class=\"en\">Generated</span></td><td>" << Esc(generated_at) << "</td></tr>"
    << "<tr><td>数据来源 <span class=\"en\">Source</span></td><td>网关逐小时汇总 gateway hourly rollups "
       "(data_dir/buffer.db)</td></tr></table></header>\n";

  // Town summary.
  o << "<section id=\"town-summary\"><h2>全镇汇总 <span class=\"en\">Town summary</span></h2><table><tr>"
    << "<th class=\"l\">设施<br><span class=\"en\">Facility</span></th>" << Th("类型", "Type")
    << Th("开放时长(小时)", "Opening hours") << Th("到访人次", "Visits") << Th("最高在场", "Peak")
    << Th("平均在场", "Mean occupancy") << Th("利用率", "Utilisation") << Th("拥挤时长(小时)", "Hours crowded")
    << Th("满员时长(小时)", "Hours at capacity") << Th("数据完整率", "Completeness")
    << Th("服务量", "Service count") << "</tr>";
  int64_t visits = 0;
  double open_h = 0, crowded = 0, full = 0;
  for (const auto& ff : data.facilities) {
    const Figures& t = ff.total;
    const Kinds k = KindsOf(*ff.config);
    std::string service;
    if (k.meals) service += "供餐 meals " + std::to_string(t.sum.meals) + " ";
    if (k.checkins) service += "签到 check-ins " + std::to_string(t.sum.checkins) + " ";
    if (k.charging) service += "充电 sessions " + std::to_string(t.sum.sessions) + ", " + Num(t.sum.energy_kwh, 1) + " kWh ";
    if (k.equipment) service += "器材 equipment sessions " + std::to_string(t.EquipmentSessions());
    o << "<tr><td class=\"l\"><a href=\"#facility-" << Esc(ff.config->id) << "\">" << Esc(ff.config->name)
      << "</a></td><td class=\"l\">" << TypeLabel(ff.config->type) << "</td><td>" << Num(t.OpeningHours(), 1)
      << "</td><td>" << (k.visits ? std::to_string(t.sum.entries) : "—") << "</td><td>"
      << (t.sum.peak >= 0 ? std::to_string(t.sum.peak) : "—")
      << "</td><td>" << OptNum(t.MeanOccupancy(), 2) << "</td><td>" << Pct(t.Utilisation()) << "</td><td>"
      << Num(t.HoursCrowded(), 1) << "</td><td>" << Num(t.HoursFull(), 1) << "</td><td>"
      << Pct(t.Completeness()) << "</td><td class=\"l\">" << Esc(service) << "</td></tr>";
    visits += t.sum.entries;
    open_h += t.OpeningHours();
    crowded += t.HoursCrowded();
    full += t.HoursFull();
  }
  o << "<tr class=\"total\"><td class=\"l\">合计 Total</td><td class=\"l\">" << data.facilities.size()
    << " 个设施 facilities</td><td>" << Num(open_h, 1) << "</td><td>" << visits
    << "</td><td></td><td></td><td></td><td>" << Num(crowded, 1) << "</td><td>" << Num(full, 1)
    << "</td><td></td><td></td></tr></table></section>\n";

  // Definitions, so that a printed copy explains itself.
  o << "<section id=\"definitions\"><h3>指标说明 <span class=\"en\">Definitions</span></h3><dl class=\"defs\">"
    << "<dt>平均在场人数 Mean occupancy</dt><dd>开放且所有传感器均在报数期间的时间加权平均；读数保持到下一读数。"
       " Time-weighted over the opening time during which every sensor reported; a reading holds until the "
       "next one, for at most the sensor's silence bound.</dd>"
    << "<dt>利用率 Utilisation</dt><dd>平均在场人数 / 容量 Mean occupancy / capacity.</dd>"
    << "<dt>拥挤 / 满员 Crowded / at capacity</dt><dd>在场人数 ≥ 90% 容量 / ≥ 容量的时长 Time with occupancy ≥ 90 % "
       "of capacity / ≥ capacity (within the complete opening time).</dd>"
    << "<dt>数据完整率 Data completeness</dt><dd>开放时间中所有传感器均在报数的比例 Share of the opening time "
       "during which every sensor of the facility reported.</dd>"
    << "<dt>充电桩利用率 / 可用率 Connector utilisation / availability</dt><dd>充电时间、非故障非停用时间占已知状态时间的比例 "
       "Time charging, and time not Faulted or Unavailable, over connector time with a known status.</dd>"
    << "</dl></section>\n";

  for (const auto& ff : data.facilities) {
    const FacilityConfig& fc = *ff.config;
    const Figures& t = ff.total;
    const Kinds k = KindsOf(fc);
    const TimeZone tz = ZoneOf(ff);
    o << "<section class=\"facility\" id=\"facility-" << Esc(fc.id) << "\"><h2>" << Esc(fc.name)
      << " <span class=\"en\">(" << Esc(fc.id) << ", " << TypeLabel(fc.type) << ", 容量 capacity " << t.capacity
      << ")</span></h2>";
    o << "<div class=\"kpis\">"
      << "<div class=\"kpi\">到访人次 <span class=\"en\">Visits</span><b>"
      << (k.visits ? std::to_string(t.sum.entries) : "—") << "</b></div>"
      << "<div class=\"kpi\">利用率 <span class=\"en\">Utilisation</span><b>" << Pct(t.Utilisation()) << "</b></div>"
      << "<div class=\"kpi\">最高在场 <span class=\"en\">Peak</span><b>"
      << (t.sum.peak >= 0 ? std::to_string(t.sum.peak) : "—") << "</b>" << Esc(PeakTime(tz, t, true)) << "</div>"
      << "<div class=\"kpi\">拥挤时长 <span class=\"en\">Hours crowded</span><b>" << Num(t.HoursCrowded(), 1)
      << " h</b></div>"
      << "<div class=\"kpi\">数据完整率 <span class=\"en\">Completeness</span><b>" << Pct(t.Completeness())
      << "</b></div>";
    if (k.meals) o << "<div class=\"kpi\">供餐份数 <span class=\"en\">Meals</span><b>" << t.sum.meals << "</b></div>";
    if (k.checkins) {
      o << "<div class=\"kpi\">签到人次 <span class=\"en\">Check-ins</span><b>" << t.sum.checkins << "</b></div>";
    }
    if (k.charging) {
      o << "<div class=\"kpi\">充电次数 <span class=\"en\">Sessions</span><b>" << t.sum.sessions << "</b></div>"
        << "<div class=\"kpi\">充电量 <span class=\"en\">Energy</span><b>" << Num(t.sum.energy_kwh, 1)
        << " kWh</b></div>"
        << "<div class=\"kpi\">平均充电时长 <span class=\"en\">Mean session</span><b>"
        << OptNum(t.MeanSessionMinutes(), 0) << " min</b></div>"
        << "<div class=\"kpi\">充电桩利用率 <span class=\"en\">Connector utilisation</span><b>"
        << Pct(t.ConnectorUtilisation()) << "</b></div>"
        << "<div class=\"kpi\">可用率 <span class=\"en\">Availability</span><b>" << Pct(t.Availability())
        << "</b></div>";
    }
    o << FeedbackKpiHtml(fc, t);
    if (ShowsAlarms(fc, t)) {
      o << "<div class=\"kpi alarms\">紧急呼叫 <span class=\"en\">Emergency calls</span><b>" << t.alarms.alarms
        << "</b>未确认 open " << t.alarms.open << "</div>";
    }
    o << "</div>";
    o << "<h3>分时平均在场人数 <span class=\"en\">Hourly occupancy profile (mean over the period)</span></h3>"
      << HourlySvg(t);
    o << "<h3>每日趋势 <span class=\"en\">Daily trend</span></h3>" << TrendSvg(ff, k.charging);
    o << "<h3>每日明细 <span class=\"en\">Daily figures</span></h3><table><tr>"
      << "<th class=\"l\">日期<br><span class=\"en\">Date</span></th>" << Th("开放(小时)", "Open h")
      << Th("到访", "Visits") << Th("最高在场", "Peak") << Th("时刻", "at") << Th("平均在场", "Mean")
      << Th("利用率", "Util.") << Th("拥挤(小时)", "Crowded h") << Th("满员(小时)", "Full h")
      << Th("完整率", "Complete");
    if (k.meals) o << Th("供餐", "Meals");
    if (k.checkins) o << Th("签到", "Check-ins");
    if (k.charging) o << Th("充电次数", "Sessions") << Th("kWh", "Energy") << Th("桩利用率", "Conn. util.") << Th("可用率", "Avail.");
    if (k.equipment) o << Th("器材次数", "Equip. sessions") << Th("器材分钟", "Active min");
    o << "</tr>";
    auto row = [&](const std::string& label, const Figures& d, bool total) {
      o << "<tr" << (total ? " class=\"total\"" : (d.has_data ? "" : " class=\"nodata\"")) << "><td class=\"l\">"
        << Esc(label) << "</td><td>" << Num(d.OpeningHours(), 1) << "</td><td>"
        << (k.visits ? std::to_string(d.sum.entries) : "—") << "</td><td>"
        << (d.sum.peak >= 0 ? std::to_string(d.sum.peak) : "—") << "</td><td>" << Esc(PeakTime(tz, d, total))
        << "</td><td>" << OptNum(d.MeanOccupancy(), 2) << "</td><td>" << Pct(d.Utilisation()) << "</td><td>"
        << Num(d.HoursCrowded(), 2) << "</td><td>" << Num(d.HoursFull(), 2) << "</td><td>" << Pct(d.Completeness())
        << "</td>";
      if (k.meals) o << "<td>" << d.sum.meals << "</td>";
      if (k.checkins) o << "<td>" << d.sum.checkins << "</td>";
      if (k.charging) {
        o << "<td>" << d.sum.sessions << "</td><td>" << Num(d.sum.energy_kwh, 1) << "</td><td>"
          << Pct(d.ConnectorUtilisation()) << "</td><td>" << Pct(d.Availability()) << "</td>";
      }
      if (k.equipment) o << "<td>" << d.EquipmentSessions() << "</td><td>" << Num(d.EquipmentActiveMinutes(), 0) << "</td>";
      o << "</tr>";
    };
    for (const auto& d : ff.days) row(FormatDayNumber(d.day_from) + (d.has_data ? "" : " 无数据 no data"), d, false);
    row("合计 Total", t, true);
    o << "</table>";
    o << FeedbackSectionHtml(ff);
    if (ShowsAlarms(fc, t)) o << AlarmSectionHtml(ff);
    if (k.charging && !ff.transactions.empty()) {
      const TransactionSummary tx = SummariseTransactions(ff.transactions);
      o << "<h3>充电交易 <span class=\"en\">Charging transactions (OCPP)</span></h3><table><tr>"
        << "<th class=\"l\">结束原因<br><span class=\"en\">Stop reason</span></th>" << Th("次数", "Transactions")
        << Th("电量(kWh)", "Energy (kWh)") << "</tr>";
      for (const auto& r : tx.by_reason) {
        o << "<tr><td class=\"l\">" << Esc(r.reason) << "</td><td>" << r.count << "</td><td>"
          << Num(r.energy_kwh, 1) << "</td></tr>";
      }
      o << "<tr class=\"total\"><td class=\"l\">合计 Total</td><td>" << tx.count << "</td><td>"
        << Num(tx.energy_kwh, 1) << "</td></tr></table><p>平均交易时长 <span class=\"en\">Mean transaction</span>: "
        << OptNum(tx.MeanMinutes(), 0) << " min. 每笔交易见 JSON 报告 <span class=\"en\">Every transaction is "
        << "listed in the JSON report (card ids only as salted hashes).</span></p>";
    }
    if (k.equipment) {
      o << "<h3>器材使用 <span class=\"en\">Equipment use</span></h3><table><tr>"
        << "<th class=\"l\">器材<br><span class=\"en\">Equipment</span></th>" << Th("使用次数", "Sessions")
        << Th("使用时长(分钟)", "Active minutes") << "</tr>";
      for (size_t i = 0; i < fc.sensors.size(); ++i) {
        if (fc.sensors[i].kind != SensorKind::kEquipment) continue;
        o << "<tr><td class=\"l\">" << Esc(fc.sensors[i].id) << "</td><td>" << t.sensors[i].sessions << "</td><td>"
          << Num(double(t.sensors[i].in_use_ms) / 60000.0, 1) << "</td></tr>";
      }
      o << "</table><p>早高峰 <span class=\"en\">Morning peak</span>: " << HourLabel(t.MorningPeak()) << " ("
        << Num(t.MorningPeak().in_use, 2) << " 件在用 in use) · 晚高峰 <span class=\"en\">Evening peak</span>: "
        << HourLabel(t.EveningPeak()) << " (" << Num(t.EveningPeak().in_use, 2) << " 件在用 in use)</p>";
    }
    o << "<h3>传感器报数 <span class=\"en\">Sensor reporting</span></h3><table><tr>"
      << "<th class=\"l\">传感器<br><span class=\"en\">Sensor</span></th>" << Th("读数", "Readings")
      << Th("报数时长(小时)", "Reporting hours") << "</tr>";
    for (size_t i = 0; i < fc.sensors.size(); ++i) {
      o << "<tr><td class=\"l\">" << Esc(fc.sensors[i].id) << "</td><td>" << t.sensors[i].readings << "</td><td>"
        << Num(double(t.sensors[i].reported_ms) / 3.6e6, 1) << "</td></tr>";
    }
    o << "</table></section>\n";
  }
  o << "<footer><p class=\"en\">community-gateway report · figures from hourly rollups, see README "
       "\"Utilisation reports\"</p></footer></body></html>\n";
  return o.str();
}

// --- the command ---------------------------------------------------------------------

Status RunReport(const Config& config, const ReportRequest& req) {
  auto from = ParseDate(req.from);
  if (!from.ok()) return Status::InvalidArgument("--from: " + from.status().message());
  auto to = ParseDate(req.to);
  if (!to.ok()) return Status::InvalidArgument("--to: " + to.status().message());
  if (req.format != "csv" && req.format != "json" && req.format != "html") {
    return Status::InvalidArgument("--format: must be csv, json or html, got '" + req.format + "'");
  }
  const std::string path = config.data_dir + "/buffer.db";
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return Status::NotFound("no gateway buffer at " + path + " (is gateway.data_dir right? --data-dir overrides it)");
  }
  store::SqliteDb db;
  Status s = db.Open(path, true);
  if (!s.ok()) return s;
  auto version = store::SchemaVersion(db);
  if (!version.ok()) return version.status();
  if (version.value() < 2) {
    return Status::NotFound(path + " has no utilisation history yet (schema version " +
                            std::to_string(version.value()) + "; run the gateway once to migrate it)");
  }
  auto data = BuildReport(config, db, from.value(), to.value(), req.facilities);
  if (!data.ok()) return data.status();
  std::string stamp = req.generated_at;
  if (stamp.empty()) {
    char buf[32];
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    stamp = buf;
  }
  std::string text = req.format == "csv"    ? WriteCsv(config, data.value())
                     : req.format == "json" ? WriteJson(config, data.value(), stamp)
                                            : WriteHtml(config, data.value(), stamp);
  if (req.out.empty() || req.out == "-") {
    std::cout << text;
    return Status::Ok();
  }
  // Written beside and renamed, so a reader never sees half a report.
  const std::string tmp = req.out + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return Status::IoError("cannot write " + tmp);
    f << text;
    f.close();
    if (!f) return Status::IoError("cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), req.out.c_str()) != 0) return Status::IoError("cannot rename " + tmp + " to " + req.out);
  return Status::Ok();
}

}  // namespace gateway::report
