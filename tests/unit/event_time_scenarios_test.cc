// Scenario week, event time: four facilities (a canteen with a split day and a door
// counter that reboots, a service station open across midnight, a fitness point, a
// charging station with a session across a gateway restart) fed through the real
// core (Pipeline, FacilityModel, History, the SQLite buffer, the report figures) twice:
// live, with the clock following the readings, late readings before and after the
// watermark, and a restart; and as one backfill a day after the week. Every figure of
// both reports must be equal, and equal to what this file computes from the
// definitions of docs/report-format.md (second by second, Asia/Shanghai = UTC+8, no
// DST: the arithmetic below is independent of the gateway's time code).
#include <catch2/catch.hpp>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <map>
#include <optional>

#include "core_harness.h"
#include "core/facility_model.h"
#include "core/pipeline.h"
#include "report/figures.h"
#include "report/writers.h"
#include "store/history.h"
#include "store/outbox.h"

using namespace gateway;
namespace fs = std::filesystem;

namespace {

constexpr int64_t kS = 1000;
constexpr int64_t kMin = 60 * kS;
constexpr int64_t kHour = 60 * kMin;
constexpr int64_t kDay = 24 * kHour;
constexpr int64_t kZone = 8 * kHour;          // Asia/Shanghai
constexpr int64_t kDay0 = 1772380800000;  // 2026-03-02 00:00 local (Monday) = 2026-03-01T16:00Z
constexpr int kDays = 7;
constexpr int64_t kRestartAt = kDay0 + 3 * kDay + 14 * kHour;  // day 3, 14:00: the gateway stops
constexpr int64_t kRestartMs = 2 * kMin;                        // ... for 2 minutes

using testing::FakeClock;

SensorConfig Sensor(const std::string& id, SensorKind kind, const std::string& driver, uint32_t connectors = 0) {
  SensorConfig s;
  s.id = id;
  s.kind = kind;
  s.driver = driver;
  s.connectors = connectors;
  return s;
}

OpeningPeriod Period(int from_min, int to_min) {
  OpeningPeriod p;
  p.open_minute = from_min;
  p.close_minute = to_min;
  return p;
}

Config ScenarioConfig(const fs::path& dir) {
  Config c;
  c.data_dir = dir;
  c.timezone = "Asia/Shanghai";
  c.buffer.commit_interval_ms = 1;
  c.buffer.low_rate_commit_delay_ms = 0;
  c.buffer.commit_max_readings = 1'000'000;
  c.buffer.max_pending_readings = 2'000'000;
  c.history.daily_report_delay_s = 60;
  FacilityConfig canteen;
  canteen.id = "canteen";
  canteen.type = FacilityType::kCanteen;
  canteen.capacity = 40;
  canteen.opening_hours = {Period(11 * 60, 13 * 60), Period(17 * 60, 19 * 60)};
  canteen.sensors = {Sensor("door", SensorKind::kDoorCounter, "test"), Sensor("meal", SensorKind::kMealTerminal, "http")};
  FacilityConfig station;
  station.id = "station";
  station.type = FacilityType::kElderlyStation;
  station.capacity = 30;
  station.opening_hours = {Period(18 * 60, 2 * 60)};  // 18:00 until 02:00 the next day
  station.sensors = {Sensor("camera", SensorKind::kOccupancy, "test"),
                     Sensor("checkin", SensorKind::kCheckinTerminal, "http")};
  FacilityConfig fitness;
  fitness.id = "fitness";
  fitness.type = FacilityType::kFitnessPoint;
  fitness.opening_hours = {Period(6 * 60, 22 * 60)};
  fitness.sensors = {Sensor("bike", SensorKind::kEquipment, "test"), Sensor("rower", SensorKind::kEquipment, "test")};
  FacilityConfig charging;
  charging.id = "charging";
  charging.type = FacilityType::kChargingStation;
  charging.sensors = {Sensor("cp", SensorKind::kChargePoint, "test", 2)};
  for (auto& w : {&canteen, &station, &fitness, &charging}) {
    for (auto& p : w->opening_hours) p.weekdays_mask = 0x7f;
  }
  c.facilities = {canteen, station, fitness, charging};
  return c;
}

Reading R(const std::string& f, const std::string& s, const std::string& p, Value v, int64_t ts) {
  return Reading{f, s, p, std::move(v), ts, Quality::kGood};
}

// One sample as the device took it, and when it reaches the gateway in the live run.
struct Sample {
  int64_t at = 0;
  std::vector<Reading> readings;
};

int64_t LocalMinute(int64_t ts) { return ((ts + kZone) % kDay) / kMin; }

// Normal delivery: on a 2-minute grid after the sample (a driver's batch), except where
// the scenario says otherwise.
int64_t Grid(int64_t ts) { return ((ts + kS + 2 * kMin - 1) / (2 * kMin)) * (2 * kMin); }

std::vector<Sample> MakeWeek() {
  std::vector<Sample> out;
  auto add = [&](int64_t at, std::vector<Reading> r) {
    // The gateway is down during the restart: the devices send what they took then after it.
    if (at >= kRestartAt && at < kRestartAt + kRestartMs) at = kRestartAt + kRestartMs;
    out.push_back(Sample{at, std::move(r)});
  };
  for (int d = 0; d < kDays; ++d) {
    const int64_t day = kDay0 + d * kDay;
    // Canteen door counter, polled every 2 min all day, plus a sample at 23:59:50; the
    // samples from 23:59 to the next 00:00 reach the gateway at 00:00:17 (a glitch of the
    // link), after the clock has passed midnight. It reboots on day 2 at 12:30.
    static uint64_t in = 1000, outs = 1000;
    for (int64_t t = day; t < day + kDay; t += 2 * kMin) {
      const int64_t k = (t - day) / (2 * kMin);
      const int m = int(LocalMinute(t));
      if (m >= 10 * 60 + 45 && m < 19 * 60 + 15) {
        in += uint64_t((k * 7 + d) % 5);
        outs += uint64_t((k * 3 + d * 2) % 4);
      }
      if (d == 2 && m == 12 * 60 + 30) {
        in = 3;
        outs = 1;
      }
      add(m >= 23 * 60 + 59 || m == 0 ? day + (m == 0 ? 0 : kDay) + 17 * kS : Grid(t),
          {R("canteen", "door", "entries_total", in, t), R("canteen", "door", "exits_total", outs, t)});
      if (m == 23 * 60 + 58) {
        in += 2;
        outs += 1;
        const int64_t t2 = day + kDay - 10 * kS;
        add(day + kDay + 17 * kS,
            {R("canteen", "door", "entries_total", in, t2), R("canteen", "door", "exits_total", outs, t2)});
      }
    }
    // Meal terminal: every 15 min while open.
    static uint64_t meals = 500;
    for (int64_t t = day + 11 * kHour; t < day + 19 * kHour; t += 15 * kMin) {
      const int m = int(LocalMinute(t));
      if (m >= 13 * 60 && m < 17 * 60) continue;
      meals += uint64_t(((t - day) / (15 * kMin)) % 4 + 1);
      add(Grid(t), {R("canteen", "meal", "meals_total", meals, t)});
    }
    // Station camera every minute; silent on day 4 from 19:00 to 19:20.
    for (int64_t t = day; t < day + kDay; t += kMin) {
      const int m = int(LocalMinute(t));
      if (d == 4 && m >= 19 * 60 && m < 19 * 60 + 20) continue;
      const bool open = m >= 18 * 60 || m < 2 * 60;
      const int64_t occ = open ? 14 + (m + d) % 17 : m % 3;
      add(Grid(t), {R("station", "camera", "occupancy", occ, t)});
    }
    // Check-in terminal at :10, :30, :50; the 23:50 sample reaches the gateway at 00:05,
    // after the day's report was made (the watermark is 00:01).
    static uint64_t checkins = 0;
    for (int64_t t = day + 10 * kMin; t < day + kDay; t += 20 * kMin) {
      const int m = int(LocalMinute(t));
      if (m >= 18 * 60 || m < 2 * 60) checkins += uint64_t((m / 10 + d) % 3 + 1);
      add(m == 23 * 60 + 50 ? day + kDay + 5 * kMin : Grid(t), {R("station", "checkin", "checkins_total", checkins, t)});
    }
    // Fitness: each piece reports in_use every 4 min, and at once when it changes.
    auto in_use = [&](const std::string& piece, int m) {
      const int s = d * 3;
      if (piece == "bike") return (m >= 7 * 60 + s && m < 7 * 60 + 40 + s) || (m >= 18 * 60 && m < 18 * 60 + 25 + s);
      return (m >= 7 * 60 + 20 && m < 8 * 60 + s) || (m >= 19 * 60 + s && m < 19 * 60 + 30);
    };
    for (const std::string piece : {"bike", "rower"}) {
      bool last = false;
      for (int m = 0; m < 24 * 60; ++m) {
        const bool now = in_use(piece, m);
        if (m % 4 == 0 || now != last) add(Grid(day + m * kMin), {R("fitness", piece, "in_use", now, day + m * kMin)});
        last = now;
      }
    }
    // Charging: connector 1 charges 08:00-09:30 daily; connector 2 13:00-16:00 (across
    // the restart on day 3), and is Faulted 20:00-21:00 on day 3. Connector 2's first
    // status comes 6 s after connector 1's. Power and the energy register every 2 min.
    static double energy[2] = {120.0, 340.0};
    auto status_at = [&](int c, int m) -> std::string {
      if (c == 0) {
        if (m >= 8 * 60 && m < 8 * 60 + 2) return "Preparing";
        if (m >= 8 * 60 + 2 && m < 9 * 60 + 28) return "Charging";
        if (m >= 9 * 60 + 28 && m < 9 * 60 + 30) return "Finishing";
        return "Available";
      }
      if (d == 3 && m >= 20 * 60 && m < 21 * 60) return "Faulted";
      if (m >= 13 * 60 && m < 16 * 60) return m < 15 * 60 + 50 ? "Charging" : "Finishing";
      return "Available";
    };
    for (int c = 0; c < 2; ++c) {
      std::string last;
      const std::string conn = "connector/" + std::to_string(c + 1) + "/";
      for (int m = 0; m < 24 * 60; ++m) {
        const int64_t t = day + m * kMin + (d == 0 && c == 1 && m == 0 ? 6 * kS : 0);
        const std::string st = status_at(c, m);
        std::vector<Reading> rs;
        if (st != last) rs.push_back(R("charging", "cp", conn + "status", st, t));
        last = st;
        if (m % 2 == 0) {
          const bool charging = st == "Charging";
          if (charging) energy[c] += 0.25;
          rs.push_back(R("charging", "cp", conn + "power_kw", float(charging ? 7.5f : 0.0f), t));
          rs.push_back(R("charging", "cp", conn + "energy_kwh", energy[c], t));
        }
        if (!rs.empty()) add(Grid(t), std::move(rs));
      }
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const Sample& a, const Sample& b) { return a.at < b.at; });
  // What reaches the gateway at one instant is one batch (as a driver hands it over).
  std::vector<Sample> batches;
  for (auto& s : out) {
    if (batches.empty() || batches.back().at != s.at) batches.push_back(Sample{s.at, {}});
    for (auto& r : s.readings) batches.back().readings.push_back(std::move(r));
  }
  return batches;
}

struct Core : testing::CoreHarness {
  using CoreHarness::CoreHarness;

  // One tick of the pipeline at the current clock, as its 1 s timer runs it, then the
  // loop until what the tick queued (midnights, daily reports) is committed: waiting on
  // that, not on wall time, so that the test neither sleeps nor depends on timing.
  void Tick() {
    const uint64_t ticks = pipeline->stats().ticks;
    pipeline->Tick();
    auto settled = [&] {
      const PipelineStats s = pipeline->stats();
      return s.ticks > ticks && s.pending == 0 && s.pending_derived == 0 && s.failing.empty();
    };
    RunUntil(settled, 20000);
    REQUIRE(settled());
  }
  report::ReportData Report() {
    auto data = report::BuildReport(config, outbox->db(), (kDay0 + kZone) / kDay, (kDay0 + kZone) / kDay + kDays - 1, {});
    REQUIRE(data.ok());
    return std::move(data.value());
  }
  // The reports/daily values in the buffer, by facility and date: (revision, late_readings, checkins) of each.
  std::map<std::pair<std::string, std::string>, std::vector<std::array<uint64_t, 3>>> DailyReports() {
    std::map<std::pair<std::string, std::string>, std::vector<std::array<uint64_t, 3>>> out;
    auto all = outbox->ReadAfter(0, 10'000'000);
    REQUIRE(all.ok());
    for (const auto& r : all.value()) {
      const auto& m = outbox->metric(r.metric_id);
      if (m.name != "reports/daily") continue;
      const auto& ds = std::get<DataSet>(r.value);
      auto col = [&](const char* name) {
        auto it = std::find(ds.columns.begin(), ds.columns.end(), name);
        REQUIRE(it != ds.columns.end());
        return std::get<uint64_t>(ds.rows[0][size_t(it - ds.columns.begin())]);
      };
      out[{m.facility, std::get<std::string>(ds.rows[0][0])}].push_back(
          {col("revision"), col("late_readings"), col("checkins")});
    }
    return out;
  }
};

// The ticks a live gateway has around each midnight: one after it (the clock announces
// it), one past the watermark (the report), one past the late readings' delay (revisions).
std::vector<int64_t> TickTimes() {
  std::vector<int64_t> t;
  for (int d = 1; d <= kDays; ++d) {
    const int64_t midnight = kDay0 + d * kDay;
    for (int64_t off : {5 * kS, 61 * kS, 6 * kMin + 30 * kS}) t.push_back(midnight + off);
  }
  return t;
}

// Reports with their delivery-only figure (late_readings) cleared, as JSON.
std::string Comparable(const Config& c, report::ReportData data) {
  for (auto& f : data.facilities) {
    f.total.sum.late_readings = 0;
    for (auto& day : f.days) day.sum.late_readings = 0;
    for (auto& h : f.total.by_hour) h.late_readings = 0;
    for (auto& day : f.days) {
      for (auto& h : day.by_hour) h.late_readings = 0;
    }
  }
  return report::WriteJson(c, data, "scenario");
}

// ---- The definitions, second by second -------------------------------------------

struct Expected {
  double open_h = 0, complete_s = 0, occ_s = 0, crowded_s = 0, full_s = 0;
  int64_t peak = -1, peak_ts = 0, visits = 0, meals = 0, checkins = 0, sessions = 0, equipment_sessions = 0;
  int64_t sessions_ended = 0, session_s = 0;
  double energy = 0, connector_s = 0, charging_s = 0, available_s = 0, in_use_s = 0;
  std::vector<int64_t> readings, reported_s;  // per sensor, in config order
};

bool OpenAt(const std::string& f, int m) {
  if (f == "canteen") return (m >= 660 && m < 780) || (m >= 1020 && m < 1140);
  if (f == "station") return m >= 1080 || m < 120;
  if (f == "fitness") return m >= 360 && m < 1320;
  return true;
}

std::vector<Expected> Definitions(const Config& config, const std::vector<Sample>& week, const std::string& fac) {
  const FacilityConfig* fc = nullptr;
  for (const auto& f : config.facilities) {
    if (f.id == fac) fc = &f;
  }
  REQUIRE(fc);
  std::vector<Reading> rs;
  for (const auto& s : week) {
    for (const auto& r : s.readings) {
      if (r.facility_id == fac) rs.push_back(r);
    }
  }
  std::stable_sort(rs.begin(), rs.end(), [](const Reading& a, const Reading& b) { return a.ts_ms < b.ts_ms; });
  std::vector<Expected> e(kDays);
  for (auto& x : e) {
    x.readings.assign(fc->sensors.size(), 0);
    x.reported_s.assign(fc->sensors.size(), 0);
  }
  const int64_t n = kDays * kDay / kS;
  auto day_of = [](int64_t ts) { return int((ts - kDay0) / kDay); };
  // Per sensor: reporting seconds (each reading until the next, at most the silence bound).
  std::vector<std::vector<char>> reporting;
  for (const auto& sc : fc->sensors) {
    const int64_t bound = sc.driver == "http" ? 3600 : 300;
    std::vector<int64_t> times;
    for (const auto& r : rs) {
      if (r.sensor_id == sc.id && (times.empty() || times.back() != r.ts_ms)) times.push_back(r.ts_ms);
    }
    std::vector<char> rep(size_t(n), 0);
    for (size_t i = 0; i < times.size(); ++i) {
      int64_t from = (times[i] - kDay0) / kS;
      int64_t to = std::min(from + bound, i + 1 < times.size() ? (times[i + 1] - kDay0) / kS : n);
      for (int64_t s = from; s < to && s < n; ++s) rep[size_t(s)] = 1;
    }
    reporting.push_back(std::move(rep));
  }
  // Step values: occupancy (and which connector states / equipment in use) per second.
  std::vector<int64_t> occ(size_t(n), -1);
  std::map<std::string, uint64_t> last_counter;
  int64_t door_sum = 0;
  int64_t cur = -1;
  std::vector<std::string> conn(2);
  std::map<std::string, bool> pieces;
  std::vector<double> energy_last(2, -1);
  std::vector<int64_t> session_start(2, -1);
  std::vector<int> session_day(2, 0);
  size_t ri = 0;
  const uint32_t cap = fc->capacity > 0 ? fc->capacity : 2;
  for (int64_t s = 0; s < n; ++s) {
    const int64_t t = kDay0 + s * kS;
    const int m = int(LocalMinute(t));
    const int d = int(s / (kDay / kS));
    if (fac == "canteen" && s > 0 && s % (kDay / kS) == 0) {
      door_sum = 0;  // closed at midnight: the running sum starts again
      if (cur >= 0) cur = 0;
    }
    for (; ri < rs.size() && rs[ri].ts_ms <= t; ++ri) {
      const Reading& r = rs[ri];
      const int rd = day_of(r.ts_ms);
      for (size_t i = 0; i < fc->sensors.size(); ++i) {
        if (fc->sensors[i].id == r.sensor_id) e[size_t(rd)].readings[i] += 1;
      }
      auto step = [&](uint64_t v) {
        auto it = last_counter.find(r.sensor_id + r.point);
        uint64_t delta = 0;
        if (it != last_counter.end()) delta = v >= it->second ? v - it->second : v;  // a drop: reset, from 0
        last_counter[r.sensor_id + r.point] = v;
        return int64_t(delta);
      };
      if (r.point == "entries_total") {
        int64_t dl = step(std::get<uint64_t>(r.value));
        e[size_t(rd)].visits += dl;
        door_sum += dl;
        cur = door_sum;
      } else if (r.point == "exits_total") {
        door_sum = std::max<int64_t>(0, door_sum - step(std::get<uint64_t>(r.value)));
        cur = door_sum;
      } else if (r.point == "meals_total") {
        e[size_t(rd)].meals += step(std::get<uint64_t>(r.value));
      } else if (r.point == "checkins_total") {
        e[size_t(rd)].checkins += step(std::get<uint64_t>(r.value));
      } else if (r.point == "occupancy") {
        cur = std::get<int64_t>(r.value);
      } else if (r.point == "in_use") {
        const bool v = std::get<bool>(r.value);
        if (v && !pieces[r.sensor_id]) e[size_t(rd)].equipment_sessions += 1;
        pieces[r.sensor_id] = v;
        cur = 0;
        for (auto& [k, on] : pieces) cur += on ? 1 : 0;
      } else if (r.point.size() > 12 && r.point.compare(r.point.size() - 7, 7, "/status") == 0) {
        const size_t c = size_t(r.point[10] - '1');
        const std::string& v = std::get<std::string>(r.value);
        auto occupied = [](const std::string& x) { return x == "Preparing" || x == "Charging" || x == "Finishing"; };
        if (occupied(v) && !occupied(conn[c])) {
          e[size_t(rd)].sessions += 1;
          session_start[c] = r.ts_ms;
          session_day[c] = rd;
        } else if (!occupied(v) && occupied(conn[c]) && session_start[c] >= 0) {
          // An ended session belongs to the day it started.
          e[size_t(session_day[c])].sessions_ended += 1;
          e[size_t(session_day[c])].session_s += (r.ts_ms - session_start[c]) / kS;
          session_start[c] = -1;
        }
        conn[c] = v;
        cur = 0;
        for (const auto& x : conn) cur += occupied(x) ? 1 : 0;
      } else if (r.point.size() > 12 && r.point.compare(r.point.size() - 11, 11, "/energy_kwh") == 0) {
        const size_t c = size_t(r.point[10] - '1');
        const double v = std::get<double>(r.value);
        if (energy_last[c] >= 0 && v > energy_last[c]) e[size_t(rd)].energy += v - energy_last[c];
        energy_last[c] = v;
      }
    }
    occ[size_t(s)] = cur;
    bool complete = cur >= 0;
    for (const auto& rep : reporting) complete = complete && rep[size_t(s)];
    Expected& x = e[size_t(d)];
    if (OpenAt(fac, m)) {
      x.open_h += 1.0 / 3600;
      if (complete) {
        x.complete_s += 1;
        x.occ_s += double(cur);
        if (cur * 10 >= int64_t(cap) * 9) x.crowded_s += 1;
        if (cur >= int64_t(cap)) x.full_s += 1;
      }
      if (cur > x.peak) {
        x.peak = cur;
        x.peak_ts = t;  // first reached
      }
    }
    for (size_t i = 0; i < reporting.size(); ++i) x.reported_s[i] += reporting[i][size_t(s)];
    if (fac == "charging" && reporting[0][size_t(s)]) {
      for (const auto& st : conn) {
        if (st.empty()) continue;
        x.connector_s += 1;
        if (st == "Charging") x.charging_s += 1;
        if (st != "Faulted" && st != "Unavailable") x.available_s += 1;
      }
    }
    if (fac == "fitness") {
      for (size_t i = 0; i < fc->sensors.size(); ++i) {
        if (reporting[i][size_t(s)] && pieces[fc->sensors[i].id]) x.in_use_s += 1;
      }
    }
  }
  return e;
}

}  // namespace

TEST_CASE("a scenario week: live with late readings and a restart, and as a backfill, gives the defined figures",
          "[scenario][history][pipeline]") {
  // On a memory file system where there is one: ~5,000 commits, each with its fsync,
  // would make the test a test of the disk.
  const fs::path tmp = fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
  const fs::path base = tmp / ("event-time-scenarios-" + std::to_string(::getpid()));
  fs::remove_all(base);
  Config live_cfg = ScenarioConfig(base / "live");
  Config back_cfg = ScenarioConfig(base / "backfill");
  const std::vector<Sample> week = MakeWeek();
  FakeClock clock;

  // Live: the clock follows the deliveries; the pipeline ticks around every midnight.
  report::ReportData live;
  std::map<std::pair<std::string, std::string>, std::vector<std::array<uint64_t, 3>>> live_daily;
  std::map<std::string, std::vector<int64_t>> late_expected;  // facility -> per day
  {
    clock.now = kDay0 - kMin;
    auto core = std::make_unique<Core>(live_cfg, clock);
    const std::vector<int64_t> ticks = TickTimes();
    size_t ti = 0;
    bool restarted = false;
    for (const Sample& s : week) {
      for (; ti < ticks.size() && ticks[ti] <= s.at; ++ti) {
        clock.now = ticks[ti];
        core->Tick();
      }
      if (!restarted && s.at >= kRestartAt) {
        core.reset();  // the gateway stops (SIGTERM: what waits is committed) ...
        clock.now = kRestartAt + kRestartMs;
        core = std::make_unique<Core>(live_cfg, clock);  // ... and starts again on the same buffer
        restarted = true;
      }
      clock.now = std::max<int64_t>(clock.now, s.at);
      // A reading is late when its day's report (made at the tick after its watermark) came first.
      for (const auto& r : s.readings) {
        const int d = int((r.ts_ms - kDay0) / kDay);
        const int64_t reported_at = kDay0 + (d + 1) * kDay + 61 * kS;
        auto& v = late_expected[r.facility_id];
        v.resize(kDays);
        if (s.at >= reported_at) ++v[size_t(d)];
      }
      core->Submit(s.readings);
    }
    for (; ti < ticks.size(); ++ti) {
      clock.now = ticks[ti];
      core->Tick();
    }
    live = core->Report();
    live_daily = core->DailyReports();
  }

  // Backfill: the whole week a day later, in one go (as a device that buffered it), with
  // the same restart half-way.
  report::ReportData backfill;
  {
    clock.now = kDay0 + (kDays + 1) * kDay;
    std::vector<Reading> first, second;
    for (const Sample& s : week) {
      for (const auto& r : s.readings) (s.at < kRestartAt ? first : second).push_back(r);
    }
    {
      Core core(back_cfg, clock);
      core.Submit(first);
    }
    Core core(back_cfg, clock);
    core.Submit(second);
    core.Tick();
    core.Tick();
    backfill = core.Report();
  }

  // 1. Every figure of the two reports is equal (late readings describe the delivery).
  CHECK(Comparable(live_cfg, live) == Comparable(back_cfg, backfill));

  // 2. And equal to the definitions.
  for (const auto& ff : live.facilities) {
    const std::string& id = ff.config->id;
    const auto want = Definitions(live_cfg, week, id);
    for (int d = 0; d < kDays; ++d) {
      const report::Figures& got = ff.days[size_t(d)];
      const Expected& x = want[size_t(d)];
      INFO(id << " day " << d);
      CHECK(got.OpeningHours() == Approx(x.open_h).epsilon(1e-9));
      CHECK(got.sum.complete_ms == int64_t(x.complete_s) * kS);
      if (x.complete_s > 0) {
        CHECK(*got.MeanOccupancy() == Approx(x.occ_s / x.complete_s).epsilon(1e-9));
      }
      CHECK(got.sum.peak == x.peak);
      CHECK(got.sum.crowded_ms == int64_t(x.crowded_s) * kS);
      CHECK(got.sum.full_ms == int64_t(x.full_s) * kS);
      if (x.peak >= 0) CHECK(got.sum.peak_ts == x.peak_ts);
      CHECK(got.sum.sessions_ended == x.sessions_ended);
      CHECK(got.sum.session_ms == x.session_s * kS);
      for (size_t i = 0; i < got.sensors.size(); ++i) {
        INFO("sensor " << ff.config->sensors[i].id);
        CHECK(got.sensors[i].readings == x.readings[i]);
        CHECK(got.sensors[i].reported_ms == x.reported_s[i] * kS);
      }
      CHECK(got.sum.entries == (id == "canteen" ? x.visits : 0));
      CHECK(got.sum.meals == x.meals);
      CHECK(got.sum.checkins == x.checkins);
      CHECK(got.sum.sessions == x.sessions);
      CHECK(got.sum.energy_kwh == Approx(x.energy).margin(1e-9));
      CHECK(got.sum.connector_ms == int64_t(x.connector_s) * kS);
      CHECK(got.sum.charging_ms == int64_t(x.charging_s) * kS);
      CHECK(got.sum.available_ms == int64_t(x.available_s) * kS);
      CHECK(got.EquipmentSessions() == x.equipment_sessions);
      CHECK(got.EquipmentActiveMinutes() == Approx(x.in_use_s / 60).epsilon(1e-9));
      CHECK(got.sum.late_readings == late_expected[id][size_t(d)]);
    }
  }
  // The scenario has what it claims: late readings after the watermark at the station
  // (one a day), a counter reboot, a connector that never reports a placeholder.
  CHECK(late_expected["station"][0] == 1);
  CHECK(live.facilities[3].days[0].Availability().value() == Approx(1.0));

  // 3. reports/daily: the station's days were reported again after their late reading;
  // the last revision carries the figures of the report.
  for (int d = 0; d < kDays; ++d) {
    const std::string date = FormatDayNumber((kDay0 + kZone) / kDay + d);
    INFO(date);
    const auto& revs = live_daily[{"station", date}];
    REQUIRE(revs.size() == 2);
    CHECK(revs[0][0] == 0);
    CHECK(revs[1][0] == 1);
    CHECK(revs[1][1] == 1);  // one late reading
    CHECK(int64_t(revs[1][2]) == live.facilities[1].days[size_t(d)].sum.checkins);
    CHECK(revs[0][2] < revs[1][2]);  // the late check-ins are in the revision only
    CHECK(live_daily[{"canteen", date}].size() == 1);  // late before the watermark: no revision
  }
  fs::remove_all(base);
}
