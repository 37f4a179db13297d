#include "town_report_writers.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>

#include "gateway/config.h"
#include "gateway/satisfaction.h"
#include "report/feedback_report.h"
#include "report/report_text.h"

namespace host {

namespace {

using Json = nlohmann::ordered_json;
using gateway::report::CsvField;
using gateway::report::FixedDecimals;
using gateway::report::HtmlEscape;
using gateway::report::RoundTo;

Json Opt(const std::optional<double>& v, int decimals = 4) {
  return v ? Json(RoundTo(*v, decimals)) : Json(nullptr);
}

constexpr const char* kNotSignificant = "不显著 not significant";

std::optional<int> ScoreOf(const FeedbackScale& scale, const std::string& button) {
  auto it = scale.scores.find(button);
  return it == scale.scores.end() ? std::nullopt : std::optional<int>(it->second);
}

Json ButtonsJson(const std::vector<std::pair<std::string, int64_t>>& buttons, int64_t responses,
                 const FeedbackScale* scale) {
  Json jb = Json::array();
  for (const auto& [name, n] : buttons) {
    Json b{{"name", name}};
    if (scale) {
      auto score = ScoreOf(*scale, name);
      b["score"] = score ? Json(*score) : Json(nullptr);
    }
    b["responses"] = n;
    b["share"] = responses > 0 ? Json(RoundTo(double(n) / double(responses), 4)) : Json(nullptr);
    jb.push_back(std::move(b));
  }
  return jb;
}

// A day as its gateway reported it, in the keys of the gateway's own report.
Json DayFeedbackJson(const TownFacility& f, const ReportedFeedback& d) {
  return Json{{"responses", d.responses},
              {"index", d.index ? Json(RoundTo(*d.index, 2)) : Json(nullptr)},
              {"significant", d.Significant()},
              {"min_responses", f.feedback_scale.min_responses ? Json(*f.feedback_scale.min_responses) : Json(nullptr)},
              {"answer_rate", Opt(d.answer_rate)},
              {"buttons", ButtonsJson(d.buttons, d.responses, &f.feedback_scale)}};
}

// Days (and facilities) summed: the index recomputed from the summed counts.
Json SumFeedbackJson(const SatisfactionSum& s, const FeedbackScale* scale) {
  return Json{{"responses", s.responses},
              {"index", Opt(s.ShownIndex(), 2)},
              {"significant", s.Significant()},
              {"min_responses", s.minimum_known ? Json(s.min_responses) : Json(nullptr)},
              {"answer_rate", Opt(s.AnswerRate())},
              {"buttons", ButtonsJson(s.buttons, s.responses, scale)}};
}

std::string PerButtonText(const std::vector<std::pair<std::string, int64_t>>& buttons) {
  std::string per;
  for (const auto& [name, n] : buttons) {
    if (!per.empty()) per += "; ";
    per.append(name).append(" ").append(std::to_string(n));
  }
  return per;
}

// CSV cells: responses, index (or not significant), answer rate (%), per button.
std::string DayFeedbackCsv(const ReportedFeedback& d) {
  std::string index = d.responses == 0 ? "" : d.index ? FixedDecimals(*d.index, 1) : kNotSignificant;
  std::string out = std::to_string(d.responses);
  out.append(",").append(CsvField(index)).append(",");
  if (d.answer_rate) out.append(FixedDecimals(*d.answer_rate * 100, 1));
  out.append(",").append(CsvField(PerButtonText(d.buttons)));
  return out;
}
std::string SumFeedbackCsv(const SatisfactionSum& s) {
  std::string index = s.responses == 0 ? "" : s.ShownIndex() ? FixedDecimals(*s.ShownIndex(), 1) : kNotSignificant;
  std::string out = std::to_string(s.responses);
  out.append(",").append(CsvField(index)).append(",");
  if (auto rate = s.AnswerRate()) out.append(FixedDecimals(*rate * 100, 1));
  out.append(",").append(CsvField(PerButtonText(s.buttons)));
  return out;
}

// The facility's satisfaction section: its summed index with the count, the share per
// button as the gateway's report draws it, and per day what the gateway reported.
std::string FeedbackSectionHtml(const TownFacility& f, const std::vector<std::string>& dates) {
  if (!f.has_feedback) return "";
  const SatisfactionSum& s = f.satisfaction;
  std::vector<gateway::FeedbackButton> buttons;
  gateway::Satisfaction shares;
  shares.responses = uint64_t(std::max<int64_t>(0, s.responses));
  for (const auto& [name, n] : s.buttons) {
    buttons.push_back({name, ScoreOf(f.feedback_scale, name).value_or(0)});
    shares.shares.push_back(s.responses > 0 ? double(n) / double(s.responses) : 0.0);
  }
  std::ostringstream o;
  o << "<div class=\"feedback\" id=\"feedback-" << HtmlEscape(f.id) << "\"><h3>居民满意度 <span class=\"en\">Residents' "
    << "satisfaction: " << HtmlEscape(SumIndexText(s)) << "</span></h3>"
    << gateway::report::FeedbackSharesSvg(buttons, shares)
    << "<table><tr><th class=\"l\">日期<br><span class=\"en\">Date</span></th><th>反馈次数<br><span class=\"en\">"
       "Responses</span></th><th>回答率<br><span class=\"en\">Answer rate</span></th><th>满意度指数<br><span "
       "class=\"en\">Index</span></th></tr>";
  const int64_t min = f.feedback_scale.min_responses.value_or(0);
  size_t di = 0;
  for (const auto& date : dates) {
    while (di < f.days.size() && f.days[di].date < date) ++di;
    if (di >= f.days.size() || f.days[di].date != date || !f.days[di].feedback) continue;
    const ReportedFeedback& d = *f.days[di].feedback;
    o << "<tr><td class=\"l\">" << date << "</td><td>" << d.responses << "</td><td>"
      << (d.answer_rate ? FixedDecimals(*d.answer_rate * 100, 1) + " %" : "—") << "</td><td>"
      // A day reported not significant has no index to show, only that it is not.
      << HtmlEscape(gateway::IndexText(uint64_t(std::max<int64_t>(0, d.responses)), d.index ? d.index : 0.0,
                                       d.Significant(), uint32_t(min)))
      << "</td></tr>";
  }
  o << "<tr class=\"total\"><td class=\"l\">合计 Total</td><td>" << s.responses << "</td><td>"
    << (s.AnswerRate() ? FixedDecimals(*s.AnswerRate() * 100, 1) + " %" : "—") << "</td><td>"
    << HtmlEscape(SumIndexText(s)) << "</td></tr></table></div>";
  return o.str();
}

std::string TypeLabel(const std::string& type) {
  if (type.empty()) return "全部 All";
  for (auto t : {gateway::FacilityType::kCanteen, gateway::FacilityType::kElderlyStation,
                 gateway::FacilityType::kChargingStation, gateway::FacilityType::kFitnessPoint}) {
    if (type == gateway::FacilityTypeName(t)) return gateway::report::FacilityTypeLabel(t);
  }
  return type;
}

Json DayJson(const TownFacility& f, const ReportedDay& d) {
  Json j;
  j["date"] = d.date;
  j["revision"] = d.revision;
  j["capacity"] = d.capacity;
  j["opening_hours"] = RoundTo(d.opening_hours, 4);
  j["visits"] = f.counts.visits ? Json(d.visits) : Json(nullptr);
  j["peak_occupancy"] = d.peak_occupancy ? Json(*d.peak_occupancy) : Json(nullptr);
  j["peak_time_ms"] = d.peak_time_ms ? Json(*d.peak_time_ms) : Json(nullptr);
  j["mean_occupancy"] = Opt(d.mean_occupancy);
  j["utilisation"] = Opt(d.utilisation);
  j["hours_crowded"] = RoundTo(d.hours_crowded, 4);
  j["hours_at_capacity"] = RoundTo(d.hours_full, 4);
  j["completeness"] = Opt(d.completeness);
  if (f.counts.meals) j["meals_served"] = d.meals;
  if (f.counts.checkins) j["checkins"] = d.checkins;
  if (f.counts.charging) {
    j["charging"] = Json{{"sessions", d.charging_sessions},
                         {"mean_session_min", Opt(d.mean_session_min, 2)},
                         {"energy_kwh", RoundTo(d.energy_kwh, 3)},
                         {"connector_utilisation", Opt(d.connector_utilisation)},
                         {"availability", Opt(d.availability)}};
  }
  if (f.counts.equipment) {
    j["fitness"] = Json{{"equipment_sessions", d.equipment_sessions},
                        {"equipment_active_minutes", RoundTo(d.equipment_active_min, 2)}};
  }
  j["late_readings"] = d.late_readings;
  if (d.feedback) j["satisfaction"] = DayFeedbackJson(f, *d.feedback);
  return j;
}

Json TotalsJson(const TypeTotals& t) {
  return Json{{"type", t.type.empty() ? Json(nullptr) : Json(t.type)},
              {"facilities", t.facilities},
              {"days_reported", t.days_reported},
              {"days_missing", t.days_missing},
              {"coverage", Opt(t.Coverage())},
              {"visits", t.visits},
              {"meals_served", t.meals},
              {"checkins", t.checkins},
              {"charging_sessions", t.charging_sessions},
              {"energy_kwh", RoundTo(t.energy_kwh, 3)},
              {"equipment_sessions", t.equipment_sessions},
              {"utilisation", Opt(t.Utilisation())},
              {"completeness", Opt(t.Completeness())},
              {"feedback_facilities", t.feedback_facilities},
              {"satisfaction", t.feedback_facilities ? SumFeedbackJson(t.satisfaction, nullptr) : Json(nullptr)}};
}

std::string Cell(const std::optional<double>& v, int decimals, double scale = 1.0) {
  return v ? FixedDecimals(*v * scale, decimals) : std::string();
}

}  // namespace

std::string WriteTownJson(const TownReport& r, const std::string& generated_at) {
  Json root;
  root["schema"] = "community-host/town-report/v1";
  root["generated_at"] = generated_at;
  root["from"] = r.from;
  root["to"] = r.to;
  root["groups"] = r.groups;
  root["type"] = r.type.empty() ? Json(nullptr) : Json(r.type);
  Json totals = Json::array();
  for (const auto& t : r.totals) totals.push_back(TotalsJson(t));
  root["totals"] = std::move(totals);
  Json missing = Json::array();
  Json facilities = Json::array();
  for (const auto& f : r.facilities) {
    Json jf;
    jf["group_id"] = f.group_id;
    jf["edge_node_id"] = f.edge_node;
    jf["id"] = f.id;
    jf["name"] = f.name;
    jf["type"] = f.type;
    Json days = Json::array();
    for (const auto& d : f.days) days.push_back(DayJson(f, d));
    jf["days"] = std::move(days);
    jf["missing_days"] = f.missing;
    if (f.has_feedback) jf["satisfaction"] = SumFeedbackJson(f.satisfaction, &f.feedback_scale);
    for (const auto& m : f.missing)
      missing.push_back(Json{{"group_id", f.group_id}, {"edge_node_id", f.edge_node}, {"id", f.id}, {"date", m}});
    facilities.push_back(std::move(jf));
  }
  root["missing"] = std::move(missing);
  root["facilities"] = std::move(facilities);
  root["alarms"] = TownAlarmsJson(r.alarms);
  return root.dump(2) + "\n";
}

std::string WriteTownCsv(const TownReport& r) {
  std::ostringstream o;
  o << "\xEF\xBB\xBF";  // BOM: spreadsheets then read UTF-8, as the gateway's CSV
  const char* headings[] = {
      "镇 Group", "网关 Gateway", "设施编号 Facility ID", "设施名称 Facility name", "类型 Type", "日期 Date",
      "报告 Reported", "修订 Revision", "开放时长(小时) Opening hours", "到访人次 Visits", "容量 Capacity",
      "最高在场人数 Peak occupancy", "平均在场人数 Mean occupancy", "利用率(%) Utilisation (%)",
      "拥挤时长(小时,>=90%) Hours crowded (>=90%)", "满员时长(小时) Hours at capacity",
      "数据完整率(%) Data completeness (%)", "供餐份数 Meals served", "签到人次 Check-ins",
      "充电次数 Charging sessions", "平均充电时长(分钟) Mean session (min)", "充电量(kWh) Energy (kWh)",
      "充电桩利用率(%) Connector utilisation (%)", "可用率(%) Availability (%)", "器材使用次数 Equipment sessions",
      "器材使用分钟 Equipment active minutes", "迟到读数 Late readings", "反馈次数 Feedback responses",
      "满意度指数(0-100) Satisfaction index (0-100)", "回答率(%) Answer rate (% of visits)",
      "各按钮次数 Responses per button"};
  for (size_t i = 0; i < std::size(headings); ++i) o << (i ? "," : "") << headings[i];
  o << "\r\n";
  for (const auto& f : r.facilities) {
    const std::string lead = CsvField(f.group_id) + "," + CsvField(f.edge_node) + "," + CsvField(f.id) + "," +
                             CsvField(f.name) + "," + CsvField(f.type) + ",";
    size_t di = 0;
    for (const auto& date : r.dates) {
      if (di < f.days.size() && f.days[di].date == date) {
        const ReportedDay& d = f.days[di++];
        o << lead << date << ",yes," << d.revision << "," << FixedDecimals(d.opening_hours, 2) << ","
          << (f.counts.visits ? std::to_string(d.visits) : "") << "," << d.capacity << ","
          << (d.peak_occupancy ? std::to_string(*d.peak_occupancy) : "") << "," << Cell(d.mean_occupancy, 2) << ","
          << Cell(d.utilisation, 1, 100) << "," << FixedDecimals(d.hours_crowded, 2) << ","
          << FixedDecimals(d.hours_full, 2) << "," << Cell(d.completeness, 1, 100) << ","
          << (f.counts.meals ? std::to_string(d.meals) : "") << ","
          << (f.counts.checkins ? std::to_string(d.checkins) : "") << ",";
        if (f.counts.charging) {
          o << d.charging_sessions << "," << Cell(d.mean_session_min, 2) << "," << FixedDecimals(d.energy_kwh, 3)
            << "," << Cell(d.connector_utilisation, 1, 100) << "," << Cell(d.availability, 1, 100) << ",";
        } else {
          o << ",,,,,";
        }
        if (f.counts.equipment) {
          o << d.equipment_sessions << "," << FixedDecimals(d.equipment_active_min, 2) << ",";
        } else {
          o << ",,";
        }
        o << d.late_readings << "," << (d.feedback ? DayFeedbackCsv(*d.feedback) : std::string(",,,")) << "\r\n";
      } else {
        // A day without a report: listed, every figure empty (not 0).
        o << lead << date << ",no" << std::string(24, ',') << "\r\n";
      }
    }
  }
  // Town totals by type: the reported days only.
  o << "\r\n合计 Totals,类型 Type,设施数 Facilities,已报告天数 Days reported,缺报天数 Days missing,"
       "到访人次 Visits,供餐份数 Meals served,签到人次 Check-ins,充电次数 Charging sessions,"
       "充电量(kWh) Energy (kWh),器材使用次数 Equipment sessions,容量加权利用率(%) Capacity-weighted utilisation (%),"
       "数据完整率(%) Data completeness (%),有反馈终端的设施 Facilities with feedback terminals,"
       "反馈次数 Feedback responses,满意度指数(0-100) Satisfaction index (0-100),"
       "回答率(%) Answer rate (% of visits),各按钮次数 Responses per button\r\n";
  for (const auto& t : r.totals) {
    o << "," << CsvField(t.type.empty() ? "all" : t.type) << "," << t.facilities << "," << t.days_reported << ","
      << t.days_missing << "," << t.visits << "," << t.meals << "," << t.checkins << "," << t.charging_sessions << ","
      << FixedDecimals(t.energy_kwh, 3) << "," << t.equipment_sessions << "," << Cell(t.Utilisation(), 1, 100) << ","
      << Cell(t.Completeness(), 1, 100) << "," << t.feedback_facilities << ","
      << (t.feedback_facilities ? SumFeedbackCsv(t.satisfaction) : std::string(",,,")) << "\r\n";
  }
  o << TownAlarmsCsv(r.alarms);
  return o.str();
}

std::string WriteTownHtml(const TownReport& r, const std::string& generated_at) {
  auto pct = [](const std::optional<double>& v) { return v ? FixedDecimals(*v * 100, 1) + " %" : std::string("—"); };
  auto th = [](const char* zh, const char* en) {
    return std::string("<th>") + zh + "<br><span class=\"en\">" + en + "</span></th>";
  };
  std::ostringstream o;
  const std::string range = r.from + " .. " + r.to;
  o << "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
    << "<title>镇级设施利用率报告 Town Facility Report " << HtmlEscape(range) << "</title>"
    << "<style>" << gateway::report::kReportCss << "</style></head><body>\n";
  o << "<header id=\"report-header\"><h1>镇级社区设施利用率报告 <span class=\"en\">Town Facility Utilisation "
       "Report</span></h1><table class=\"meta\"><tr><td>期间 Period</td><td>"
    << HtmlEscape(range) << "</td></tr><tr><td>镇 Groups</td><td>";
  for (size_t i = 0; i < r.groups.size(); ++i) o << (i ? ", " : "") << HtmlEscape(r.groups[i]);
  o << "</td></tr><tr><td>类型 Type</td><td>" << HtmlEscape(TypeLabel(r.type))
    << "</td></tr><tr><td>生成时间 Generated</td><td>" << HtmlEscape(generated_at) << "</td></tr></table></header>\n";

  o << "<section id=\"totals\"><h2>按类型合计 <span class=\"en\">Totals by type</span></h2><table><tr>"
    << th("类型", "Type") << th("设施", "Facilities") << th("已报告天数", "Days reported")
    << th("缺报天数", "Days missing") << th("到访人次", "Visits") << th("供餐", "Meals") << th("签到", "Check-ins")
    << th("充电次数", "Charging sessions") << th("充电量 kWh", "Energy kWh")
    << th("容量加权利用率", "Capacity-weighted utilisation") << th("数据完整率", "Completeness")
    << th("满意度指数", "Satisfaction index") << "</tr>\n";
  for (const auto& t : r.totals) {
    o << "<tr" << (t.type.empty() ? " class=\"total\"" : "") << "><td class=\"l\">" << HtmlEscape(TypeLabel(t.type))
      << "</td><td>" << t.facilities << "</td><td>" << t.days_reported << "</td><td>" << t.days_missing << "</td><td>"
      << t.visits << "</td><td>" << t.meals << "</td><td>" << t.checkins << "</td><td>" << t.charging_sessions
      << "</td><td>" << FixedDecimals(t.energy_kwh, 3) << "</td><td>" << pct(t.Utilisation()) << "</td><td>"
      << pct(t.Completeness()) << "</td><td>"
      << (t.feedback_facilities ? HtmlEscape(SumIndexText(t.satisfaction)) : std::string("—")) << "</td></tr>\n";
  }
  o << "</table><p>缺报的日子不计为零，列于下表。<span class=\"en\">Days without a report are not counted as "
       "zero; they are listed below.</span></p></section>\n";

  o << "<section id=\"missing\"><h2>缺报 <span class=\"en\">Days without a report</span></h2>";
  bool any = false;
  for (const auto& f : r.facilities) any = any || !f.missing.empty();
  if (!any) {
    o << "<p>无 <span class=\"en\">none</span></p>";
  } else {
    o << "<table><tr>" << th("设施", "Facility") << th("网关", "Gateway") << th("日期", "Dates") << "</tr>\n";
    for (const auto& f : r.facilities) {
      if (f.missing.empty()) continue;
      o << "<tr><td class=\"l\">" << HtmlEscape(f.id) << "</td><td class=\"l\">" << HtmlEscape(f.edge_node)
        << "</td><td class=\"l\">";
      for (size_t i = 0; i < f.missing.size(); ++i) o << (i ? ", " : "") << f.missing[i];
      o << "</td></tr>\n";
    }
    o << "</table>";
  }
  o << "</section>\n";
  o << TownAlarmsHtml(r.alarms);

  for (const auto& f : r.facilities) {
    o << "<section class=\"facility\" id=\"f-" << HtmlEscape(f.id) << "\"><h2>" << HtmlEscape(f.name) << " <span class=\"en\">"
      << HtmlEscape(f.id) << " · " << HtmlEscape(TypeLabel(f.type)) << " · " << HtmlEscape(f.edge_node)
      << "</span></h2><table><tr>" << th("日期", "Date") << th("开放时长", "Opening h") << th("到访", "Visits")
      << th("平均在场", "Mean occupancy") << th("利用率", "Utilisation") << th("数据完整率", "Completeness")
      << th("供餐", "Meals") << th("签到", "Check-ins") << th("充电次数", "Sessions") << th("充电量", "kWh")
      << th("修订", "Revision") << "</tr>\n";
    size_t di = 0;
    for (const auto& date : r.dates) {
      if (di < f.days.size() && f.days[di].date == date) {
        const ReportedDay& d = f.days[di++];
        o << "<tr><td class=\"l\">" << date << "</td><td>" << FixedDecimals(d.opening_hours, 2) << "</td><td>"
          << (f.counts.visits ? std::to_string(d.visits) : "—") << "</td><td>"
          << (d.mean_occupancy ? FixedDecimals(*d.mean_occupancy, 2) : "—") << "</td><td>" << pct(d.utilisation)
          << "</td><td>" << pct(d.completeness) << "</td><td>" << (f.counts.meals ? std::to_string(d.meals) : "—")
          << "</td><td>" << (f.counts.checkins ? std::to_string(d.checkins) : "—") << "</td><td>"
          << (f.counts.charging ? std::to_string(d.charging_sessions) : "—") << "</td><td>"
          << (f.counts.charging ? FixedDecimals(d.energy_kwh, 3) : "—") << "</td><td>" << d.revision << "</td></tr>\n";
      } else {
        o << "<tr class=\"nodata\"><td class=\"l\">" << date
          << "</td><td colspan=\"10\" class=\"l\">无报告（网关未上报） <span class=\"en\">no report (gateway "
             "off)</span></td></tr>\n";
      }
    }
    o << "</table>" << FeedbackSectionHtml(f, r.dates) << "</section>\n";
  }
  o << "</body></html>\n";
  return o.str();
}

}  // namespace host
