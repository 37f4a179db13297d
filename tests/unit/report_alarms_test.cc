// The emergency calls in the gateway's daily report (docs/report-format.md "Emergency
// calls", report/alarm_figures.h): the figures by their definitions, per local day and
// hour of raised time in Asia/Shanghai, a call split across midnight; and through the
// real core (pipeline, AlarmBook, history, SQLite): the `report` writers and
// reports/daily, revised when a call of a reported day is acknowledged after its report.
// Expected values are computed here from the definitions, never copied from output.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unistd.h>

#include "core_harness.h"
#include "report/alarm_figures.h"
#include "report/figures.h"
#include "report/writers.h"
#include "store/alarm_store.h"

using namespace gateway;
namespace fs = std::filesystem;

namespace {

constexpr int64_t kSec = 1000;

Alarm MakeAlarm(const std::string& sensor, int64_t raised_ms, bool test = false, uint32_t presses = 1,
                int64_t acknowledged_ms = -1) {
  Alarm a;
  a.facility_id = "station-1";
  a.sensor_id = sensor;
  a.id = sensor + "-" + std::to_string(raised_ms);
  a.kind = "call";
  a.test = test;
  a.raised_ms = raised_ms;
  a.last_press_ms = raised_ms;
  a.presses = presses;
  if (acknowledged_ms >= 0) {
    a.state = AlarmState::kAcknowledged;
    a.acknowledged_ms = acknowledged_ms;
  }
  return a;
}

// What the definitions give for a list of alarms, computed here on their own.
struct Expected {
  int64_t calls = 0, tests = 0, folded = 0, acked = 0, open = 0;
  std::vector<int64_t> ack_ms;
  // report-format.md: the median in whole milliseconds, a half rounded up.
  double Median() const {
    std::vector<int64_t> v = ack_ms;
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    const double ms = n % 2 ? double(v[n / 2]) : std::floor(double(v[n / 2 - 1] + v[n / 2]) / 2.0 + 0.5);
    return ms / 1000.0;
  }
  double Worst() const { return double(*std::max_element(ack_ms.begin(), ack_ms.end())) / 1000.0; }
};

Expected ExpectedOf(const std::vector<Alarm>& alarms) {
  Expected e;
  for (const auto& a : alarms) {
    if (a.test) {
      ++e.tests;
      continue;
    }
    ++e.calls;
    e.folded += a.presses - 1;
    if (a.state == AlarmState::kAcknowledged) {
      ++e.acked;
      e.ack_ms.push_back(a.acknowledged_ms - a.raised_ms);
    } else {
      ++e.open;
    }
  }
  return e;
}

void CheckFigures(const report::AlarmFigures& f, const Expected& e) {
  CHECK(f.alarms == e.calls);
  CHECK(f.test_presses == e.tests);
  CHECK(f.presses_folded == e.folded);
  CHECK(f.acknowledged == e.acked);
  CHECK(f.open == e.open);
  if (e.ack_ms.empty()) {
    CHECK_FALSE(f.MedianAckSeconds());
    CHECK_FALSE(f.WorstAckSeconds());
  } else {
    REQUIRE(f.MedianAckSeconds());
    CHECK(*f.MedianAckSeconds() == Approx(e.Median()));
    CHECK(*f.WorstAckSeconds() == Approx(e.Worst()));
  }
}

size_t Col(const DataSet& d, const std::string& name) {
  auto it = std::find(d.columns.begin(), d.columns.end(), name);
  REQUIRE(it != d.columns.end());
  return size_t(it - d.columns.begin());
}
uint64_t U(const DataSet& d, size_t row, const std::string& name) {
  return std::get<uint64_t>(d.rows[row][Col(d, name)]);
}
double D(const DataSet& d, size_t row, const std::string& name) { return std::get<double>(d.rows[row][Col(d, name)]); }

// The reports/daily cells of one row against the definitions (-1: no time known).
void CheckRow(const DataSet& d, size_t row, const Expected& e) {
  INFO("row " << row);
  CHECK(U(d, row, "alarms") == uint64_t(e.calls));
  CHECK(U(d, row, "alarm_test_presses") == uint64_t(e.tests));
  CHECK(U(d, row, "alarm_presses_folded") == uint64_t(e.folded));
  CHECK(U(d, row, "alarms_acknowledged") == uint64_t(e.acked));
  CHECK(U(d, row, "alarms_open") == uint64_t(e.open));
  CHECK(D(d, row, "alarm_ack_median_s") == Approx(e.ack_ms.empty() ? -1.0 : e.Median()));
  CHECK(D(d, row, "alarm_ack_worst_s") == Approx(e.ack_ms.empty() ? -1.0 : e.Worst()));
}

int LocalHour(const TimeZone& tz, int64_t ms) { return tz.ToLocal(ms).minute_of_day / 60; }

}  // namespace

TEST_CASE("alarm figures: per local day of raised time in Asia/Shanghai, test presses apart", "[report][alarms]") {
  const auto tz = TimeZone::Load("Asia/Shanghai").value();
  const int64_t day = tz.ToLocal(tz.FromLocal(2026, 3, 2, 0)).day_number;
  // A call at 23:59:50 acknowledged after midnight, folded with two repeats; a call at
  // 10:00 acknowledged after 90 s; a call still open; a test press (acknowledged, as
  // test presses are); a call of the day before (23:59:59) and one of the next (00:00:10).
  const int64_t late = tz.FromLocal(2026, 3, 2, 23 * 60 + 59) + 50 * kSec;
  const int64_t ten = tz.FromLocal(2026, 3, 2, 10 * 60);
  std::vector<Alarm> all = {
      MakeAlarm("sos-1", late, false, 3, late + 30 * kSec),
      MakeAlarm("sos-2", ten, false, 1, ten + 90 * kSec),
      MakeAlarm("sos-3", tz.FromLocal(2026, 3, 2, 15 * 60)),
      MakeAlarm("sos-4", tz.FromLocal(2026, 3, 2, 11 * 60), true, 1, tz.FromLocal(2026, 3, 2, 11 * 60) + 5 * kSec),
      MakeAlarm("sos-1", tz.FromLocal(2026, 3, 1, 23 * 60 + 59) + 59 * kSec),
      MakeAlarm("sos-2", tz.FromLocal(2026, 3, 3, 0) + 10 * kSec, false, 1, tz.FromLocal(2026, 3, 3, 0) + 70 * kSec),
  };
  // The day's alarms, as the report selects them: by the local day of raised time.
  std::vector<Alarm> of_day;
  for (const auto& a : all) {
    if (tz.ToLocal(a.raised_ms).day_number == day) of_day.push_back(a);
  }
  REQUIRE(of_day.size() == 4);
  const Expected e = ExpectedOf(of_day);
  CHECK(e.calls == 3);  // the test press is not a call
  CHECK(e.ack_ms.size() == 2);
  const auto d = report::SummariseDayAlarms(of_day, tz);
  CheckFigures(d.day, e);
  CHECK(*d.day.MedianAckSeconds() == Approx((30.0 + 90.0) / 2));  // of the two calls themselves
  CHECK(*d.day.WorstAckSeconds() == Approx(90.0));
  for (int h = 0; h < 24; ++h) {
    std::vector<Alarm> of_hour;
    for (const auto& a : of_day) {
      if (LocalHour(tz, a.raised_ms) == h) of_hour.push_back(a);
    }
    INFO("hour " << h);
    CheckFigures(d.by_hour[size_t(h)], ExpectedOf(of_hour));
  }

  // A range's figures are of its calls, not of the days' medians.
  report::AlarmFigures range = d.day;
  report::AlarmFigures next;
  for (const auto& a : all) {
    if (tz.ToLocal(a.raised_ms).day_number == day + 1) next.Add(a);
  }
  range.Add(next);
  std::vector<Alarm> two_days;
  for (const auto& a : all) {
    const int64_t n = tz.ToLocal(a.raised_ms).day_number;
    if (n == day || n == day + 1) two_days.push_back(a);
  }
  CheckFigures(range, ExpectedOf(two_days));

  // reports/daily: the columns come after every earlier one, the day row and hour rows.
  FacilityConfig fc;
  fc.id = "station-1";
  fc.type = FacilityType::kElderlyStation;
  fc.capacity = 10;
  const DataSet ds = report::DailyDataSet(fc, day, {}, 0, d);
  REQUIRE(ds.rows.size() == 25);
  REQUIRE(ds.columns.size() == ds.types.size());
  CHECK(Col(ds, "alarms") > Col(ds, "answer_rate"));
  CHECK(ds.columns.back() == "alarms_open");
  for (const auto& r : ds.rows) CHECK(r.size() == ds.columns.size());
  CheckRow(ds, 0, e);
  CheckRow(ds, 1 + size_t(LocalHour(tz, late)), ExpectedOf({of_day[0]}));
  CheckRow(ds, 1 + 15, ExpectedOf({of_day[2]}));
  CheckRow(ds, 1 + 3, Expected{});  // nothing at 03:00: zeros and -1, no gap

  // Without alarms (a facility without call buttons): zeros and -1, the same columns.
  const DataSet none = report::DailyDataSet(fc, day, {});
  CHECK(none.columns == ds.columns);
  CheckRow(none, 0, Expected{});

  // JSON keys and cells as the town report prints them.
  auto j = report::AlarmFiguresJson(d.day);
  CHECK(j["alarms"] == e.calls);
  CHECK(j["test_presses"] == e.tests);
  CHECK(j["ack_median_s"].get<double>() == Approx(e.Median()));
  CHECK(report::AlarmFiguresJson(report::AlarmFigures())["ack_worst_s"].is_null());
  const auto cells = report::AlarmCsvCells(d.day);
  REQUIRE(cells.size() == report::AlarmCsvHeadings().size());
  CHECK(cells[4] == "60.0");
  CHECK(report::AlarmCsvCells(report::AlarmFigures())[5].empty());
}

TEST_CASE("alarms through the core: report files and reports/daily, revised by a late acknowledgement",
          "[report][alarms][pipeline]") {
  Config config;
  config.data_dir = fs::temp_directory_path() / ("report-alarms-test-" + std::to_string(::getpid()));
  fs::remove_all(config.data_dir);
  config.group_id = "huacao";
  config.edge_node_id = "gw-test";
  config.timezone = "Asia/Shanghai";
  config.buffer.commit_interval_ms = 5;
  config.buffer.low_rate_commit_delay_ms = 0;
  config.history.daily_report_delay_s = 60;
  config.alarms.repeat_window_s = 60;
  config.alarms.escalate_after_s = 3600;
  FacilityConfig f;
  f.id = "station-1";
  f.name = "Station";
  f.type = FacilityType::kElderlyStation;
  f.capacity = 10;
  for (const char* id : {"door-1", "sos-1", "sos-2"}) {
    SensorConfig s;
    s.id = id;
    s.kind = std::string(id) == "door-1" ? SensorKind::kDoorCounter : SensorKind::kCallButton;
    s.driver = "test";
    f.sensors.push_back(s);
  }
  config.facilities.push_back(f);
  const auto tz = TimeZone::Load("Asia/Shanghai").value();
  const int64_t day = tz.ToLocal(tz.FromLocal(2026, 3, 2, 0)).day_number;
  const int64_t midnight = tz.FromLocal(2026, 3, 3, 0);
  testing::FakeClock clock;
  auto at = [&](int minute_of_day, int s) { return tz.FromLocal(2026, 3, 2, minute_of_day) + s * kSec; };
  auto press = [](const std::string& sensor, const std::string& action, int64_t ts) {
    return Reading{"station-1", sensor, "action", Value(action), ts, Quality::kGood};
  };

  testing::CoreHarness gw(config, clock, true);
  auto ack = [&](const std::string& id) {
    Alarm out;
    REQUIRE(gw.alarms->Acknowledge("station-1", id, "duty", clock.now, &out) == AlarmBook::AckResult::kAcknowledged);
    gw.pipeline->CommitAlarms();
    return out;
  };
  auto reports = [&] {
    std::vector<DataSet> out;
    auto all = gw.outbox->ReadAfter(0, 1000000);
    REQUIRE(all.ok());
    for (const auto& r : all.value()) {
      if (gw.outbox->metric(r.metric_id).name == "reports/daily") out.push_back(std::get<DataSet>(r.value));
    }
    return out;
  };

  clock.now = at(10 * 60, 0);
  gw.Submit({Reading{"station-1", "door-1", "entries_total", Value(uint64_t(100)), clock.now, Quality::kGood},
             Reading{"station-1", "door-1", "exits_total", Value(uint64_t(100)), clock.now, Quality::kGood}});
  // A call at 10:00:05, acknowledged 90 s later.
  const int64_t a_ts = at(10 * 60, 5);
  gw.Submit({press("sos-1", "emergency", a_ts)});
  clock.now = a_ts + 90 * kSec;
  const Alarm a = ack("sos-1-" + std::to_string(a_ts));
  // The terminal's test key at 11:00, and a call at 15:00 nobody acknowledges.
  clock.now = at(11 * 60, 0);
  gw.Submit({press("sos-2", "test", clock.now)});
  clock.now = at(15 * 60, 0);
  gw.Submit({press("sos-2", "emergency", clock.now)});
  // A call at 23:59:50, repeated at 23:59:55 and at 00:00:05 (folded: the call is open).
  const int64_t c_ts = at(23 * 60 + 59, 50);
  clock.now = c_ts;
  gw.Submit({press("sos-1", "emergency", c_ts)});
  clock.now = c_ts + 5 * kSec;
  gw.Submit({press("sos-1", "emergency", clock.now)});
  clock.now = midnight + 5 * kSec;
  gw.Submit({press("sos-1", "emergency", clock.now)});

  // The day's report, made after midnight plus the delay: the late call still open.
  clock.now = midnight + 61 * kSec;
  gw.RunUntil([&] { return !reports().empty(); }, 5000);
  auto made = reports();
  REQUIRE(made.size() == 1);
  auto stored = store::ReadAlarmsRaised(gw.outbox->db(), "station-1", tz.FromLocal(2026, 3, 2, 0), midnight);
  REQUIRE(stored.ok());
  REQUIRE(stored->size() == 4);  // a, the test press, b, c (its repeats folded)
  const auto c_it = std::find_if(stored->begin(), stored->end(), [&](const Alarm& x) { return x.raised_ms == c_ts; });
  REQUIRE(c_it != stored->end());
  CHECK(c_it->presses == 3);
  CheckRow(made[0], 0, ExpectedOf(stored.value()));
  CHECK(U(made[0], 0, "alarms_open") == 2);
  CHECK(U(made[0], 0, "revision") == 0);
  CheckRow(made[0], 1 + 23, ExpectedOf({*c_it}));

  // Acknowledged after the report: the day is reported again, once quiet for the delay.
  clock.now = midnight + 120 * kSec;
  const Alarm c = ack(c_it->id);
  CHECK(c.acknowledged_ms - c.raised_ms == 130 * kSec);
  clock.now = midnight + 150 * kSec;
  gw.RunUntil([] { return false; }, 1300);
  CHECK(reports().size() == 1);  // not before the delay
  clock.now = midnight + 181 * kSec;
  gw.RunUntil([&] { return reports().size() == 2; }, 5000);
  made = reports();
  REQUIRE(made.size() == 2);
  stored = store::ReadAlarmsRaised(gw.outbox->db(), "station-1", tz.FromLocal(2026, 3, 2, 0), midnight);
  REQUIRE(stored.ok());
  const Expected e = ExpectedOf(stored.value());
  CHECK(e.ack_ms.size() == 2);
  CHECK(e.Median() == Approx((90.0 + 130.0) / 2));
  CheckRow(made[1], 0, e);
  CHECK(U(made[1], 0, "revision") == 1);
  CHECK(U(made[1], 0, "alarms_open") == 1);
  CheckRow(made[1], 1 + 10, ExpectedOf({a}));
  // An escalation changes no figure: no further revision (the 15:00 call escalated long ago).
  clock.now = midnight + 400 * kSec;
  gw.RunUntil([] { return false; }, 1300);
  CHECK(reports().size() == 2);

  // The `report` command's data and writers: the same figures, in the day they were raised.
  auto data = report::BuildReport(config, gw.outbox->db(), day, day + 1, {});
  REQUIRE(data.ok());
  const auto& ff = data->facilities.at(0);
  REQUIRE(ff.days.size() == 2);
  CheckFigures(ff.days[0].alarms, e);
  CheckFigures(ff.days[1].alarms, Expected{});  // the 00:00:05 press folded into the call of the 2nd
  CheckFigures(ff.total.alarms, e);
  CHECK(report::ShowsAlarms(*ff.config, ff.total));

  const auto json = nlohmann::json::parse(report::WriteJson(config, data.value(), "now"));
  const auto& jd = json["facilities"][0]["days"][0]["alarms"];
  CHECK(jd["alarms"] == e.calls);
  CHECK(jd["test_presses"] == e.tests);
  CHECK(jd["presses_folded"] == e.folded);
  CHECK(jd["acknowledged"] == e.acked);
  CHECK(jd["open"] == e.open);
  CHECK(jd["ack_median_s"].get<double>() == Approx(e.Median()));
  CHECK(jd["ack_worst_s"].get<double>() == Approx(e.Worst()));
  CHECK(json["facilities"][0]["days"][1]["alarms"]["alarms"] == 0);
  CHECK(json["town"]["alarms"]["alarms"] == e.calls);

  const std::string csv = report::WriteCsv(config, data.value());
  std::istringstream lines(csv);
  std::string heading, line, day_row;
  std::getline(lines, heading);
  while (std::getline(lines, line)) {
    if (line.rfind("station-1,Station,", 0) == 0 && line.find(",2026-03-02,") != std::string::npos) day_row = line;
  }
  CHECK(heading.find("确认时间中位数(秒) Time to acknowledge median (s)") != std::string::npos);
  REQUIRE_FALSE(day_row.empty());
  if (!day_row.empty() && day_row.back() == '\r') day_row.pop_back();
  std::vector<std::string> cells;
  std::stringstream split(day_row);
  for (std::string c; std::getline(split, c, ',');) cells.push_back(c);
  REQUIRE(cells.size() >= 7);
  const std::vector<std::string> tail(cells.end() - 7, cells.end());
  char median[32], worst[32];
  std::snprintf(median, sizeof median, "%.1f", e.Median());
  std::snprintf(worst, sizeof worst, "%.1f", e.Worst());
  CHECK(tail == std::vector<std::string>{std::to_string(e.calls), std::to_string(e.tests), std::to_string(e.folded),
                                         std::to_string(e.acked), median, worst, std::to_string(e.open)});

  const std::string html = report::WriteHtml(config, data.value(), "now");
  CHECK(html.find("id=\"alarms-station-1\"") != std::string::npos);
  CHECK(html.find(std::string("<td>") + median + "</td>") != std::string::npos);
  fs::remove_all(config.data_dir);
}
