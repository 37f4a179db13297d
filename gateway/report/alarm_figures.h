// AlarmFigures: the emergency-call figures of a period (a local day, an hour of one, a
// report's range, a town), shared by the gateway's daily report (figures.cc, writers.cc,
// reports/daily) and the town host's report (host/town_alarms.cc), so that both count,
// take medians and print them by one definition (docs/report-format.md "Emergency calls",
// docs/town-host.md "Alarms in the town report"):
//   calls (alarms)        alarms with test false
//   test presses          alarms with test true: counted apart, in no other figure
//   presses folded        sum of (presses - 1) over the calls
//   acknowledged / open   calls acknowledged / not acknowledged
//   time to acknowledge   acknowledged - raised (s) of the acknowledged calls: median of
//                         the calls themselves (never of other medians) and worst
// An alarm belongs to the period of its raised time (event time), in the facility's zone.
//
// Plain values and pure functions; any thread.
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "gateway/alarm.h"
#include "gateway/local_time.h"

namespace gateway::report {

struct AlarmFigures {
  int64_t alarms = 0;          // real calls (test = false)
  int64_t test_presses = 0;    // alarms with test = true
  int64_t presses_folded = 0;  // sum of (presses - 1) over the real calls
  int64_t acknowledged = 0;    // real calls acknowledged
  int64_t open = 0;            // real calls not acknowledged
  // Each acknowledged real call's time to acknowledge, in whole milliseconds as the
  // wire's stamps are: the median of an even count is then exact before it is rounded
  // (a half millisecond up), and the gateway and the town host agree to the last digit.
  std::vector<int64_t> ack_ms;

  // ack_ms: the call's time to acknowledge, none while it is open.
  void Add(bool test, int64_t presses, std::optional<int64_t> ack_ms);
  // One of the gateway's own alarms, as the buffer keeps it (store/alarm_store.h).
  void Add(const Alarm& a);
  void Add(const AlarmFigures& o);
  bool Any() const { return alarms > 0 || test_presses > 0; }
  std::optional<double> MedianAckSeconds() const;
  std::optional<double> WorstAckSeconds() const;
};

// A facility's alarms of one local day: the day and each local hour of it (by the hour
// of raised time; on the day DST ends the repeated hour is one row, as in reports/daily).
struct DayAlarms {
  AlarmFigures day;
  std::array<AlarmFigures, 24> by_hour{};
};
DayAlarms SummariseDayAlarms(const std::vector<Alarm>& alarms, const TimeZone& tz);

// The writers' cells, the same in the gateway's and the town host's reports.
// JSON: "alarms", "test_presses", "presses_folded", "acknowledged", "ack_median_s",
// "ack_worst_s" (3 decimals, null without an acknowledged call), "open".
nlohmann::ordered_json AlarmFiguresJson(const AlarmFigures& f);
// CSV: the headings and cells in that order (seconds with 1 decimal, empty when none).
std::vector<std::string> AlarmCsvHeadings();
std::vector<std::string> AlarmCsvCells(const AlarmFigures& f);
// HTML: the <th> and <td> cells in that order ("—" when none; open calls marked bad).
std::string AlarmHtmlHeadings();
std::string AlarmHtmlCells(const AlarmFigures& f);

}  // namespace gateway::report
