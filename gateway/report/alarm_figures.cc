#include "report/alarm_figures.h"

#include <algorithm>
#include <sstream>

#include "report/report_text.h"

namespace gateway::report {

namespace {

using Json = nlohmann::ordered_json;

Json Seconds(const std::optional<double>& s) { return s ? Json(RoundTo(*s, 3)) : Json(nullptr); }
std::string SecondsText(const std::optional<double>& s, const char* none) { return s ? FixedDecimals(*s, 1) : none; }

}  // namespace

void AlarmFigures::Add(bool test, int64_t presses, std::optional<int64_t> ack) {
  if (test) {
    ++test_presses;
    return;
  }
  ++alarms;
  presses_folded += std::max<int64_t>(0, presses - 1);
  if (ack) {
    ++acknowledged;
    ack_ms.push_back(*ack);
  } else {
    ++open;
  }
}

void AlarmFigures::Add(const Alarm& a) {
  std::optional<int64_t> ack;
  if (a.state == AlarmState::kAcknowledged) ack = a.acknowledged_ms - a.raised_ms;
  Add(a.test, int64_t(a.presses), ack);
}

void AlarmFigures::Add(const AlarmFigures& o) {
  alarms += o.alarms;
  test_presses += o.test_presses;
  presses_folded += o.presses_folded;
  acknowledged += o.acknowledged;
  open += o.open;
  ack_ms.insert(ack_ms.end(), o.ack_ms.begin(), o.ack_ms.end());
}

std::optional<double> AlarmFigures::MedianAckSeconds() const {
  if (ack_ms.empty()) return std::nullopt;
  std::vector<int64_t> v = ack_ms;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  if (n % 2) return double(v[n / 2]) / 1000.0;
  // The mean of the middle two, a half millisecond rounded up (floor of (a + b + 1) / 2,
  // negative times included: a gateway clock behind the press).
  const int64_t sum = v[n / 2 - 1] + v[n / 2] + 1;
  return double(sum / 2 - ((sum % 2) < 0 ? 1 : 0)) / 1000.0;
}

std::optional<double> AlarmFigures::WorstAckSeconds() const {
  if (ack_ms.empty()) return std::nullopt;
  return double(*std::max_element(ack_ms.begin(), ack_ms.end())) / 1000.0;
}

DayAlarms SummariseDayAlarms(const std::vector<Alarm>& alarms, const TimeZone& tz) {
  DayAlarms d;
  for (const auto& a : alarms) {
    d.day.Add(a);
    d.by_hour[size_t(std::clamp(tz.ToLocal(a.raised_ms).minute_of_day / 60, 0, 23))].Add(a);
  }
  return d;
}

Json AlarmFiguresJson(const AlarmFigures& f) {
  return Json{{"alarms", f.alarms},
              {"test_presses", f.test_presses},
              {"presses_folded", f.presses_folded},
              {"acknowledged", f.acknowledged},
              {"ack_median_s", Seconds(f.MedianAckSeconds())},
              {"ack_worst_s", Seconds(f.WorstAckSeconds())},
              {"open", f.open}};
}

std::vector<std::string> AlarmCsvHeadings() {
  return {"呼叫 Calls", "测试按压 Test presses", "合并按压 Presses folded", "已确认 Acknowledged",
          "确认时间中位数(秒) Time to acknowledge median (s)", "确认时间最长(秒) Time to acknowledge worst (s)",
          "未确认 Still open"};
}

std::vector<std::string> AlarmCsvCells(const AlarmFigures& f) {
  return {std::to_string(f.alarms),
          std::to_string(f.test_presses),
          std::to_string(f.presses_folded),
          std::to_string(f.acknowledged),
          SecondsText(f.MedianAckSeconds(), ""),
          SecondsText(f.WorstAckSeconds(), ""),
          std::to_string(f.open)};
}

std::string AlarmHtmlHeadings() {
  auto th = [](const char* zh, const char* en) {
    return std::string("<th>") + zh + "<br><span class=\"en\">" + en + "</span></th>";
  };
  return th("呼叫", "Calls") + th("测试按压", "Test presses") + th("合并按压", "Presses folded") +
         th("已确认", "Acknowledged") + th("确认时间中位数 秒", "To acknowledge, median s") +
         th("确认时间最长 秒", "To acknowledge, worst s") + th("未确认", "Still open");
}

std::string AlarmHtmlCells(const AlarmFigures& f) {
  std::ostringstream o;
  o << "<td>" << f.alarms << "</td><td>" << f.test_presses << "</td><td>" << f.presses_folded << "</td><td>"
    << f.acknowledged << "</td><td>" << SecondsText(f.MedianAckSeconds(), "—") << "</td><td>"
    << SecondsText(f.WorstAckSeconds(), "—") << "</td><td" << (f.open ? " class=\"bad\"" : "") << ">" << f.open
    << "</td>";
  return o.str();
}

}  // namespace gateway::report
