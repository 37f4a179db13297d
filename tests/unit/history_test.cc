// The utilisation history and its figures, on synthetic days whose every figure is
// worked out by hand below (the arithmetic is in the comments). The history is driven
// with the rows a commit carries: raw sensor readings (they say when a sensor was
// heard) and the facility model's derived metrics (occupancy/current, visits/entries,
// connectors/*, equipment/*), committed through a real Outbox with its hook.
#include <catch2/catch.hpp>

#include <array>
#include <filesystem>

#include "gateway/local_time.h"
#include "report/figures.h"
#include "store/history.h"
#include "store/outbox.h"

using namespace gateway;
namespace fs = std::filesystem;

namespace {

constexpr int64_t kMin = 60'000;

struct Rig {
  std::string dir;
  Config config;
  std::unique_ptr<store::Outbox> outbox;
  std::unique_ptr<store::History> history;
  int fail_next_commits = 0;  // the hook fails this many commits (a crash before COMMIT)

  explicit Rig(Config c) : config(std::move(c)) {
    dir = fs::temp_directory_path() / ("history-test-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    fs::remove_all(dir);
    Open();
  }
  ~Rig() {
    history.reset();
    outbox.reset();
    fs::remove_all(dir);
  }
  static inline int n = 0;

  void Open() {
    outbox = std::move(store::Outbox::Open(dir, config.buffer, SystemClock::Instance()).value());
    history = std::move(store::History::Create(config).value());
    REQUIRE(history->Load(outbox->db()).ok());
  }
  // What a restart does: everything in memory is gone, the file stays.
  void Restart() {
    history.reset();
    outbox.reset();
    Open();
  }

  Status Commit(const std::vector<Reading>& rows) {
    const store::Outbox::TxnHook hook = [this](store::SqliteDb& db) {
      if (fail_next_commits > 0) {
        --fail_next_commits;
        return Status::IoError("injected: power cut before COMMIT");
      }
      return history->WriteInTxn(db);
    };
    Status s = outbox->Commit(rows, nullptr, &hook);
    if (s.ok()) {
      history->Committed();
    } else {
      history->RolledBack();
    }
    return s;
  }
  Status Feed(const std::vector<Reading>& rows) {
    int64_t newest = 0;
    for (const auto& r : rows) newest = std::max(newest, r.ts_ms);
    history->Ingest(rows, newest);
    return Commit(rows);
  }
  void AdvanceTo(const std::string& facility, int64_t ts) {
    history->AdvanceTo(facility, ts);
    REQUIRE(Commit({}).ok());
  }

  report::Figures Figures(const std::string& facility, int64_t from, int64_t to) {
    auto rows = store::ReadHourRows(outbox->db(), {facility}, from, to);
    REQUIRE(rows.ok());
    for (const auto& f : config.facilities) {
      if (f.id == facility) return report::Summarise(f, rows.value(), from, to);
    }
    FAIL("no facility " << facility);
    return {};
  }
};

Reading Raw(const std::string& facility, const std::string& sensor, const std::string& point, Value v, int64_t ts) {
  return Reading{facility, sensor, point, std::move(v), ts, Quality::kGood};
}
Reading Derived(const std::string& facility, const std::string& point, Value v, int64_t ts) {
  return Reading{facility, "", point, std::move(v), ts, Quality::kGood};
}

OpeningPeriod Period(int open_h, int open_m, int close_h, int close_m) {
  OpeningPeriod p;
  p.open_minute = open_h * 60 + open_m;
  p.close_minute = close_h * 60 + close_m;
  return p;
}

int64_t Day(const char* date) { return report::ParseDate(date).value(); }

// A canteen, capacity 10, open 10:00-12:00 and 17:00-18:00, one door counter that
// counts as silent 10 minutes after its last reading.
Config CanteenConfig() {
  Config c;
  c.timezone = "Asia/Shanghai";
  FacilityConfig f;
  f.id = "canteen-1";
  f.type = FacilityType::kCanteen;
  f.capacity = 10;
  f.opening_hours = {Period(10, 0, 12, 0), Period(17, 0, 18, 0)};
  SensorConfig door;
  door.id = "door-1";
  door.kind = SensorKind::kDoorCounter;
  door.driver = "test";
  door.silent_after_s = 600;
  f.sensors.push_back(door);
  c.facilities.push_back(f);
  return c;
}

// The canteen's day, 2026-03-02 (Asia/Shanghai), as the rows of its commits.
std::vector<Reading> CanteenDay(const TimeZone& tz) {
  auto at = [&](int h, int m) { return tz.FromLocal(2026, 3, 2, h * 60 + m); };
  std::vector<Reading> rows;
  // The door counter reports every 5 minutes from 09:00 to 18:30, except that it is
  // silent after 11:00 until 11:30 (its silence bound of 10 minutes ends at 11:10).
  for (int m = 9 * 60; m <= 18 * 60 + 30; m += 5) {
    if (m > 11 * 60 && m < 11 * 60 + 30) continue;
    rows.push_back(Raw("canteen-1", "door-1", "entries_total", Value(uint64_t(m)), at(0, m)));
  }
  auto occ = [&](int h, int m, uint32_t v) { rows.push_back(Derived("canteen-1", "occupancy/current", Value(v), at(h, m))); };
  auto visits = [&](int h, int m, uint64_t v) { rows.push_back(Derived("canteen-1", "visits/entries", Value(v), at(h, m))); };
  occ(9, 0, 0);
  occ(10, 0, 4);
  occ(10, 30, 9);   // >= 90 % of 10: crowded
  occ(10, 45, 12);  // >= capacity: full (and crowded); the day's peak
  occ(11, 0, 6);
  occ(11, 30, 2);
  occ(12, 0, 0);
  occ(17, 0, 5);
  occ(17, 30, 10);
  occ(18, 0, 0);
  visits(9, 0, 0);
  visits(10, 0, 4);
  visits(10, 30, 10);
  visits(10, 45, 13);
  visits(11, 30, 13);
  visits(17, 0, 18);
  visits(17, 30, 23);
  rows.push_back(Derived("canteen-1", "meals/served", Value(uint32_t(20)), at(12, 0)));
  rows.push_back(Derived("canteen-1", "meals/served", Value(uint32_t(28)), at(18, 0)));
  return rows;
}

void CheckCanteenDay(const report::Figures& f, const TimeZone& tz) {
  // Open 10:00-12:00 and 17:00-18:00: 180 min.
  CHECK(f.sum.open_ms == 180 * kMin);
  CHECK(f.OpeningHours() == Approx(3.0));
  // Complete: all open time but 11:10-11:30 (the door counter silent): 160 min.
  CHECK(f.sum.complete_ms == 160 * kMin);
  CHECK(*f.Completeness() == Approx(160.0 / 180.0));
  // Occupancy integral over complete open time, person-minutes:
  //   10:00-10:30 4x30=120, 10:30-10:45 9x15=135, 10:45-11:00 12x15=180,
  //   11:00-11:10 6x10=60 (11:10-11:30 unknown), 11:30-12:00 2x30=60,
  //   17:00-17:30 5x30=150, 17:30-18:00 10x30=300; total 1005.
  CHECK(f.sum.occ_ms == 1005 * kMin);
  CHECK(*f.MeanOccupancy() == Approx(1005.0 / 160.0));  // 6.28125
  CHECK(*f.Utilisation() == Approx(0.628125));
  // Crowded (>= 9): 10:30-11:00 and 17:30-18:00 = 60 min. Full (>= 10): 10:45-11:00
  // and 17:30-18:00 = 45 min.
  CHECK(f.HoursCrowded() == Approx(1.0));
  CHECK(f.HoursFull() == Approx(0.75));
  // Peak 12 at 10:45.
  CHECK(f.sum.peak == 12);
  CHECK(report::LocalClock(tz, f.sum.peak_ts) == "10:45");
  // Hourly profile: 10h: (120+135+180)/60 = 7.25; 11h: (60+60)/(10+30) = 3;
  // 17h: 450/60 = 7.5; closed hours have none.
  CHECK(*f.HourlyMean(10) == Approx(7.25));
  CHECK(*f.HourlyMean(11) == Approx(3.0));
  CHECK(*f.HourlyMean(17) == Approx(7.5));
  CHECK_FALSE(f.HourlyMean(9).has_value());
  CHECK_FALSE(f.HourlyMean(12).has_value());
  // Visits: the daily count reached 23; 13 of them in the 10 o'clock hour.
  CHECK(f.sum.entries == 23);
  CHECK(f.by_hour[10].entries == 13);
  CHECK(f.by_hour[17].entries == 10);
  CHECK(f.sum.meals == 28);
  // The door counter: heard 09:00-11:10 and 11:30-18:40 = 130 + 430 = 560 min, in
  // 25 + 85 = 110 readings.
  REQUIRE(f.sensors.size() == 1);
  CHECK(f.sensors[0].reported_ms == 560 * kMin);
  CHECK(f.sensors[0].readings == 110);
}

}  // namespace

TEST_CASE("a canteen day: two opening periods, crowding, a silent sensor, by hand", "[history][report]") {
  Rig rig(CanteenConfig());
  auto tz = TimeZone::Load("Asia/Shanghai").value();
  REQUIRE(rig.Feed(CanteenDay(tz)).ok());
  rig.AdvanceTo("canteen-1", tz.FromLocal(2026, 3, 3, 0));
  CheckCanteenDay(rig.Figures("canteen-1", Day("2026-03-02"), Day("2026-03-02")), tz);
  // Nothing leaks into the neighbouring days.
  auto next = rig.Figures("canteen-1", Day("2026-03-03"), Day("2026-03-03"));
  CHECK_FALSE(next.has_data);
}

// docs/report-format.md, "A facility's first reading": every day of the range before
// the first reading (or without anything heard) counts its configured opening hours,
// with completeness 0 and has_data false, and the range totals include them.
TEST_CASE("days before the facility's first reading count their opening hours, complete 0", "[history][report]") {
  Rig rig(CanteenConfig());
  auto tz = TimeZone::Load("Asia/Shanghai").value();
  REQUIRE(rig.Feed(CanteenDay(tz)).ok());  // the first reading: 2026-03-02 09:00
  rig.AdvanceTo("canteen-1", tz.FromLocal(2026, 3, 3, 0));
  // The configured opening hours, from the config: minutes per day and per local hour.
  int64_t open_min = 0;
  std::array<int64_t, 24> open_min_by_hour{};
  for (const OpeningPeriod& p : rig.config.facilities[0].opening_hours) {
    REQUIRE(p.weekdays_mask == 0x7f);  // every day of the week, within the day: the sum below holds
    REQUIRE(p.open_minute < p.close_minute);
    open_min += p.close_minute - p.open_minute;
    for (int m = p.open_minute; m < p.close_minute; ++m) ++open_min_by_hour[size_t(m / 60)];
  }
  // 2026-02-28 and 03-01 come before the first reading, 03-03 has nothing heard (the
  // history reached its midnight only): three days without data, one with.
  auto data = report::BuildReport(rig.config, rig.outbox->db(), Day("2026-02-28"), Day("2026-03-03"), {});
  REQUIRE(data.ok());
  REQUIRE(data->facilities.size() == 1);
  const report::FacilityFigures& ff = data->facilities[0];
  REQUIRE(ff.days.size() == 4);
  for (size_t d : {size_t(0), size_t(1), size_t(3)}) {
    INFO("day " << d);
    const report::Figures& day = ff.days[d];
    CHECK_FALSE(day.has_data);
    CHECK(day.sum.open_ms == open_min * kMin);
    CHECK(day.OpeningHours() == Approx(double(open_min) / 60));
    CHECK(day.sum.complete_ms == 0);
    REQUIRE(day.Completeness().has_value());
    CHECK(*day.Completeness() == 0.0);
    CHECK_FALSE(day.MeanOccupancy().has_value());
    for (size_t h = 0; h < 24; ++h) CHECK(day.by_hour[h].open_ms == open_min_by_hour[h] * kMin);
  }
  // The day of the first reading has its own figures (worked out by hand above).
  CHECK(ff.days[2].has_data);
  CheckCanteenDay(ff.days[2], tz);
  // The range: four days of opening hours, of which only the first reading's day's
  // complete time (160 min, see CheckCanteenDay) was complete.
  const report::Figures& total = ff.total;
  CHECK(total.has_data);
  CHECK(total.sum.open_ms == 4 * open_min * kMin);
  CHECK(total.OpeningHours() == Approx(4.0 * double(open_min) / 60));
  CHECK(total.sum.complete_ms == 160 * kMin);
  CHECK(*total.Completeness() == Approx(160.0 / double(4 * open_min)));
  for (size_t h = 0; h < 24; ++h) CHECK(total.by_hour[h].open_ms == 4 * open_min_by_hour[h] * kMin);
  // What depends on complete time only is the first reading's day's.
  CHECK(*total.MeanOccupancy() == Approx(1005.0 / 160.0));
  CHECK(total.sum.entries == 23);
}

TEST_CASE("a call button heard once leaves the day complete; its silence bounds are its own", "[history][report]") {
  Config c = CanteenConfig();
  SensorConfig cord;
  cord.id = "cord-1";
  cord.kind = SensorKind::kCallButton;
  cord.driver = "mqtt";  // a zigbee SOS button: silent until pressed
  c.facilities[0].sensors.push_back(cord);
  // The defaults: 25 h for a call button that pushes (zigbee2mqtt's own passive
  // timeout), one hour for other pushed sensors, the poll rule for a polled cord.
  CHECK(store::SensorSilentMs(c, c.facilities[0].sensors[1]) == 25 * 60 * kMin);
  SensorConfig http_cord = cord;
  http_cord.driver = "http";
  CHECK(store::SensorSilentMs(c, http_cord) == 25 * 60 * kMin);
  SensorConfig seat;
  seat.kind = SensorKind::kSeat;
  seat.driver = "mqtt";
  CHECK(store::SensorSilentMs(c, seat) == 60 * kMin);
  SensorConfig modbus_cord = cord;
  modbus_cord.driver = "modbus";
  CHECK(store::SensorSilentMs(c, modbus_cord) == 5 * kMin);
  SensorConfig configured = cord;
  configured.silent_after_s = 7200;
  CHECK(store::SensorSilentMs(c, configured) == 120 * kMin);

  Rig rig(c);
  auto tz = TimeZone::Load("Asia/Shanghai").value();
  auto rows = CanteenDay(tz);
  // Its one message of the day, a battery report at 16:00; no press, no call.
  rows.push_back(Raw("canteen-1", "cord-1", "battery", Value(uint32_t(97)), tz.FromLocal(2026, 3, 2, 16 * 60)));
  REQUIRE(rig.Feed(rows).ok());
  rig.AdvanceTo("canteen-1", tz.FromLocal(2026, 3, 3, 0));
  const auto f = rig.Figures("canteen-1", Day("2026-03-02"), Day("2026-03-02"));
  // The cord silent all morning changes nothing: the door counter alone decides, as in
  // the canteen day without it (160 of 180 open minutes complete).
  CHECK(f.sum.open_ms == 180 * kMin);
  CHECK(f.sum.complete_ms == 160 * kMin);
  CHECK(f.sum.occ_ms == 1005 * kMin);
  // Its own reporting time: from 16:00 to the end of the day (its bound reaches into
  // the next), 8 h, in one reading.
  REQUIRE(f.sensors.size() == 2);
  CHECK(f.sensors[1].sensor == "cord-1");
  CHECK(f.sensors[1].reported_ms == 8 * 60 * kMin);
  CHECK(f.sensors[1].readings == 1);
}

TEST_CASE("a restart mid-day and a failed commit count nothing twice", "[history][report]") {
  Rig rig(CanteenConfig());
  auto tz = TimeZone::Load("Asia/Shanghai").value();
  auto rows = CanteenDay(tz);
  std::sort(rows.begin(), rows.end(), [](const Reading& a, const Reading& b) { return a.ts_ms < b.ts_ms; });
  const int64_t noon = tz.FromLocal(2026, 3, 2, 14 * 60);
  std::vector<Reading> morning, evening;
  for (const auto& r : rows) (r.ts_ms < noon ? morning : evening).push_back(r);

  // Many small commits in the morning, as the pipeline makes them: a reading and what
  // the facility model derived from it are always in the same commit.
  for (size_t i = 0; i < morning.size();) {
    std::vector<Reading> batch;
    while (i < morning.size() && (batch.size() < 3 || morning[i].ts_ms == batch.back().ts_ms)) {
      batch.push_back(morning[i++]);
    }
    REQUIRE(rig.Feed(batch).ok());
  }
  // The power goes at 14:00: everything in memory is gone.
  rig.Restart();
  // The first evening batch fails at COMMIT (the pipeline rolls back and the driver
  // re-submits); then it goes through.
  rig.fail_next_commits = 1;
  CHECK_FALSE(rig.Feed(evening).ok());
  REQUIRE(rig.Feed(evening).ok());
  rig.AdvanceTo("canteen-1", tz.FromLocal(2026, 3, 3, 0));
  CheckCanteenDay(rig.Figures("canteen-1", Day("2026-03-02"), Day("2026-03-02")), tz);
}

// A charging station with one charge point cp-1 of two connectors.
Config ChargingConfig(const char* driver, double silent_after_s) {
  Config c;
  c.timezone = "Asia/Shanghai";
  FacilityConfig f;
  f.id = "charging-1";
  f.type = FacilityType::kChargingStation;
  SensorConfig cp;
  cp.id = "cp-1";
  cp.kind = SensorKind::kChargePoint;
  cp.driver = driver;
  cp.connectors = 2;
  cp.silent_after_s = silent_after_s;
  f.sensors.push_back(cp);
  c.facilities.push_back(f);
  return c;
}

TEST_CASE("a charging station: a session across midnight, energy, faults, by hand", "[history][report]") {
  Rig rig(ChargingConfig("test", 900));
  auto tz = TimeZone::Load("Asia/Shanghai").value();
  auto at = [&](int day, int h, int m) { return tz.FromLocal(2026, 3, 2 + day, h * 60 + m); };
  std::vector<Reading> rows;
  // The charge point reports every 5 minutes, both days: always complete. (Its status
  // readings are the raw side of the derived connector rows below.)
  for (int m = 0; m < 2 * 24 * 60; m += 5) {
    rows.push_back(Raw("charging-1", "cp-1", "heartbeat", Value(true), at(0, 0, 0) + m * kMin));
  }
  auto status = [&](int n, int day, int h, int m, const char* s) {
    rows.push_back(Derived("charging-1", "connectors/" + std::to_string(n) + "/status", Value(std::string(s)), at(day, h, m)));
  };
  auto energy = [&](int n, int day, int h, int m, double kwh) {
    rows.push_back(Derived("charging-1", "connectors/" + std::to_string(n) + "/energy_kwh", Value(kwh), at(day, h, m)));
  };
  // The facility model states the occupancy at start-up (occupied connectors).
  rows.push_back(Derived("charging-1", "occupancy/current", Value(uint32_t(0)), at(0, 0, 0)));
  status(1, 0, 0, 0, "Available");
  status(2, 0, 0, 0, "Available");
  energy(1, 0, 0, 0, 100.0);
  energy(2, 0, 0, 0, 500.0);
  // Connector 1: a session 08:00-09:10 (70 min), charging 08:05-09:05, 10.5 kWh.
  status(1, 0, 8, 0, "Preparing");
  status(1, 0, 8, 5, "Charging");
  energy(1, 0, 9, 5, 110.5);
  status(1, 0, 9, 5, "Finishing");
  status(1, 0, 9, 10, "Available");
  // Connector 2: faulted 12:00-14:00, then a session 23:00 - 01:05 next day (125 min),
  // charging 23:10-01:00; 5 kWh read before midnight, 15 after.
  status(2, 0, 12, 0, "Faulted");
  status(2, 0, 14, 0, "Available");
  status(2, 0, 23, 0, "Preparing");
  status(2, 0, 23, 10, "Charging");
  energy(2, 0, 23, 50, 505.0);
  energy(2, 1, 0, 30, 520.0);
  status(2, 1, 1, 0, "Finishing");
  status(2, 1, 1, 5, "Available");
  REQUIRE(rig.Feed(rows).ok());
  rig.AdvanceTo("charging-1", at(2, 0, 0));

  auto d0 = rig.Figures("charging-1", Day("2026-03-02"), Day("2026-03-02"));
  CHECK(d0.capacity == 2);                 // the connectors
  CHECK(d0.sum.sessions == 2);             // both started on the 2nd
  CHECK(d0.sum.sessions_ended == 2);
  CHECK(*d0.MeanSessionMinutes() == Approx((70.0 + 125.0) / 2));  // 97.5
  CHECK(d0.sum.energy_kwh == Approx(15.5));                         // 10.5 + 5
  // 2 connectors x 24 h known = 2880 min; charging 60 + 50 = 110 min; faulted 120 min.
  CHECK(d0.sum.connector_ms == 2880 * kMin);
  CHECK(*d0.ConnectorUtilisation() == Approx(110.0 / 2880.0));
  CHECK(*d0.Availability() == Approx(2760.0 / 2880.0));
  CHECK(*d0.Completeness() == Approx(1.0));
  CHECK(d0.OpeningHours() == Approx(24.0));  // no opening hours: always open
  auto d1 = rig.Figures("charging-1", Day("2026-03-03"), Day("2026-03-03"));
  CHECK(d1.sum.sessions == 0);
  CHECK(d1.sum.energy_kwh == Approx(15.0));
  CHECK(d1.sum.charging_ms == 60 * kMin);  // 00:00-01:00
  // Over the two days the session is counted once.
  auto both = rig.Figures("charging-1", Day("2026-03-02"), Day("2026-03-03"));
  CHECK(both.sum.sessions == 2);
  CHECK(both.sum.energy_kwh == Approx(30.5));
}

TEST_CASE("a fitness point: equipment sessions, active minutes, morning and evening peaks", "[history][report]") {
  Config c;
  c.timezone = "Asia/Shanghai";
  FacilityConfig f;
  f.id = "fit-1";
  f.type = FacilityType::kFitnessPoint;
  f.opening_hours = {Period(6, 0, 21, 0)};
  for (const char* id : {"bike-1", "rower-1"}) {
    SensorConfig s;
    s.id = id;
    s.kind = SensorKind::kEquipment;
    s.driver = "test";
    s.silent_after_s = 600;
    f.sensors.push_back(s);
  }
  c.facilities.push_back(f);
  Rig rig(c);
  auto tz = TimeZone::Load("Asia/Shanghai").value();
  auto at = [&](int h, int m) { return tz.FromLocal(2026, 3, 2, h * 60 + m); };
  std::vector<Reading> rows;
  for (int m = 6 * 60; m <= 21 * 60; m += 5) {
    for (const char* id : {"bike-1", "rower-1"}) rows.push_back(Raw("fit-1", id, "in_use", Value(false), at(0, m)));
  }
  auto use = [&](const char* id, int h, int m, bool v) {
    rows.push_back(Derived("fit-1", std::string("equipment/") + id + "/in_use", Value(v), at(h, m)));
  };
  use("bike-1", 6, 0, false);
  use("rower-1", 6, 0, false);
  // Bike: 07:00-07:40 and 18:10-18:30. Rower: 07:20-08:20 and 19:00-19:45.
  use("bike-1", 7, 0, true);
  use("bike-1", 7, 40, false);
  use("rower-1", 7, 20, true);
  use("rower-1", 8, 20, false);
  use("bike-1", 18, 10, true);
  use("bike-1", 18, 30, false);
  use("rower-1", 19, 0, true);
  use("rower-1", 19, 45, false);
  REQUIRE(rig.Feed(rows).ok());
  rig.AdvanceTo("fit-1", tz.FromLocal(2026, 3, 3, 0));
  auto d = rig.Figures("fit-1", Day("2026-03-02"), Day("2026-03-02"));
  REQUIRE(d.sensors.size() == 2);
  CHECK(d.sensors[0].sessions == 2);
  CHECK(d.sensors[0].in_use_ms == 60 * kMin);   // 40 + 20
  CHECK(d.sensors[1].sessions == 2);
  CHECK(d.sensors[1].in_use_ms == 105 * kMin);  // 60 + 45
  CHECK(d.EquipmentSessions() == 4);
  CHECK(d.EquipmentActiveMinutes() == Approx(165.0));
  // 07h: bike 40 + rower 40 = 80 min in use (1.333 pieces on average); 08h: 20 min.
  CHECK(d.MorningPeak().hour == 7);
  CHECK(d.MorningPeak().in_use == Approx(80.0 / 60.0));
  // 18h: 20 min; 19h: 45 min.
  CHECK(d.EveningPeak().hour == 19);
  CHECK(d.EveningPeak().in_use == Approx(0.75));
  // Capacity is the equipment count; no occupancy/current was fed.
  CHECK(d.capacity == 2);
  CHECK_FALSE(d.MeanOccupancy().has_value());
}

TEST_CASE("local days follow the facility's zone: Asia/Shanghai and Europe/Berlin DST", "[history][report]") {
  Config c;
  c.timezone = "Asia/Shanghai";
  for (const char* zone : {"Asia/Shanghai", "Europe/Berlin"}) {
    FacilityConfig f;
    f.id = zone == std::string("Asia/Shanghai") ? "sh" : "berlin";
    f.type = FacilityType::kElderlyStation;
    f.capacity = 4;
    f.timezone = zone;
    SensorConfig s;
    s.id = "occ-1";
    s.kind = SensorKind::kOccupancy;
    s.driver = "test";
    s.silent_after_s = 900;
    f.sensors.push_back(s);
    c.facilities.push_back(f);
  }
  Rig rig(c);
  // Each facility is always open, its sensor reports every 10 minutes and 2 people are
  // present, from a day before to a day after each DST change of 2026 in Berlin
  // (29 March: 02:00 -> 03:00; 25 October: 03:00 -> 02:00).
  for (const auto& [start, end] : {std::pair{Day("2026-03-28"), Day("2026-03-31")},
                                   std::pair{Day("2026-10-24"), Day("2026-10-27")}}) {
    for (const char* id : {"sh", "berlin"}) {
      auto tz = TimeZone::Load(id == std::string("sh") ? "Asia/Shanghai" : "Europe/Berlin").value();
      std::vector<Reading> rows;
      // Local midnight of a day number: noon UTC of that date is within it in both zones.
      auto midnight = [&](int64_t day) { return tz.DayStartMs(day * 86'400'000 + 12 * 3'600'000); };
      const int64_t from = midnight(start);
      const int64_t to = midnight(end);
      rows.push_back(Derived(id, "occupancy/current", Value(uint32_t(2)), from));
      for (int64_t t = from; t < to; t += 10 * kMin) rows.push_back(Raw(id, "occ-1", "occupancy", Value(uint32_t(2)), t));
      REQUIRE(rig.Feed(rows).ok());
      rig.AdvanceTo(id, to);
    }
  }
  auto day = [&](const char* id, const char* date) { return rig.Figures(id, Day(date), Day(date)); };
  // Shanghai has no DST: 24-hour days all year.
  CHECK(day("sh", "2026-03-29").OpeningHours() == Approx(24.0));
  CHECK(day("sh", "2026-10-25").OpeningHours() == Approx(24.0));
  // Berlin: 23 hours on the day clocks go forward, 25 on the day they go back.
  CHECK(day("berlin", "2026-03-28").OpeningHours() == Approx(24.0));
  auto spring = day("berlin", "2026-03-29");
  CHECK(spring.OpeningHours() == Approx(23.0));
  CHECK(spring.by_hour[2].open_ms == 0);  // 02:00-03:00 does not exist that day
  CHECK(spring.by_hour[3].open_ms == 60 * kMin);
  auto autumn = day("berlin", "2026-10-25");
  CHECK(autumn.OpeningHours() == Approx(25.0));
  CHECK(autumn.by_hour[2].open_ms == 120 * kMin);  // 02:00-03:00 happens twice
  // Mean occupancy is 2 whatever the length of the day: time-weighted, not per hour.
  CHECK(*autumn.MeanOccupancy() == Approx(2.0));
  CHECK(*spring.Utilisation() == Approx(0.5));
  CHECK(day("berlin", "2026-10-26").OpeningHours() == Approx(24.0));
  // Date parsing for the report command.
  CHECK(report::ParseDate("2026-03-29").value() == Day("2026-03-29"));
  CHECK_FALSE(report::ParseDate("2026-02-30").ok());
  CHECK_FALSE(report::ParseDate("29/03/2026").ok());
  CHECK_FALSE(report::ParseDate("2026-3-29").ok());
}

TEST_CASE("rollups older than the retention are deleted", "[history]") {
  Config c = CanteenConfig();
  c.history.retention_days = 3;
  Rig rig(c);
  auto tz = TimeZone::Load("Asia/Shanghai").value();
  for (int d = 0; d < 6; ++d) {
    const int64_t t = tz.FromLocal(2026, 3, 2 + d, 10 * 60);
    REQUIRE(rig.Feed({Raw("canteen-1", "door-1", "entries_total", Value(uint64_t(d)), t),
                      Derived("canteen-1", "occupancy/current", Value(uint32_t(1)), t)})
                .ok());
  }
  auto rows = store::ReadHourRows(rig.outbox->db(), {}, 0, 100000);
  REQUIRE(rows.ok());
  int64_t oldest = 1 << 30;
  for (const auto& r : rows.value()) oldest = std::min(oldest, r.day);
  // The newest day is 2026-03-07; three days back is 03-04.
  CHECK(oldest >= Day("2026-03-04"));
  CHECK(oldest <= Day("2026-03-05"));
}

TEST_CASE("daily reports come due after local midnight plus the delay, once", "[history]") {
  Config c = CanteenConfig();
  Rig rig(c);
  auto tz = TimeZone::Load("Asia/Shanghai").value();
  REQUIRE(rig.Feed(CanteenDay(tz)).ok());
  const int64_t midnight = tz.FromLocal(2026, 3, 3, 0);
  CHECK(rig.history->DueReports(midnight + 59'000, 60'000).empty());
  auto due = rig.history->DueReports(midnight + 60'000, 60'000);
  REQUIRE(due.size() == 1);
  CHECK(due[0].day == Day("2026-03-02"));
  CHECK(due[0].end_ms == midnight);
  rig.history->AdvanceTo("canteen-1", midnight);
  auto rows = rig.history->ReadDay(rig.outbox->db(), "canteen-1", due[0].day);
  REQUIRE(rows.ok());
  DataSet ds = report::DailyDataSet(c.facilities[0], due[0].day, rows.value());
  REQUIRE(ds.rows.size() == 25);
  REQUIRE(ds.columns[0] == "date");
  CHECK(std::get<std::string>(ds.rows[0][0]) == "2026-03-02");
  CHECK(std::get<std::string>(ds.rows[0][1]) == "day");
  CHECK(std::get<uint64_t>(ds.rows[0][4]) == 23);                    // visits
  CHECK(std::get<int64_t>(ds.rows[0][5]) == 12);                     // peak
  CHECK(std::get<double>(ds.rows[0][7]) == Approx(1005.0 / 160.0));  // mean occupancy
  CHECK(std::get<std::string>(ds.rows[11][1]) == "10");
  CHECK(std::get<double>(ds.rows[11][7]) == Approx(7.25));
  rig.history->MarkReported("canteen-1", due[0].day);
  REQUIRE(rig.Commit({}).ok());
  // Marked in the same commit: after a restart it is not due again.
  rig.Restart();
  CHECK(rig.history->DueReports(midnight + 3'600'000, 60'000).empty());
  // Days missed while the gateway was off are all caught up, oldest first.
  auto later = rig.history->DueReports(tz.FromLocal(2026, 3, 6, 1), 60'000);
  REQUIRE(later.size() == 3);
  CHECK(later[0].day == Day("2026-03-03"));
  CHECK(later[2].day == Day("2026-03-05"));
}

TEST_CASE("a DataSet value survives the outbox and Sparkplug encode/decode", "[history][codec]") {
  DataSet ds;
  ds.columns = {"date", "visits", "utilisation", "open", "peak"};
  ds.types = {DataType::kString, DataType::kUInt64, DataType::kDouble, DataType::kBoolean, DataType::kInt64};
  ds.rows.push_back({Scalar(std::string("2026-03-02")), Scalar(uint64_t(1) << 40), Scalar(0.628125), Scalar(true),
                     Scalar(int64_t(-1))});
  ds.rows.push_back({Scalar(std::string("10")), Scalar(uint64_t(13)), Scalar(-1.0), Scalar(false), Scalar(int64_t(12))});
  auto back = DataSetFromJson(DataSetToJson(ds));
  REQUIRE(back.ok());
  CHECK(back.value() == ds);
  CHECK(DataTypeOf(Value(ds)) == DataType::kDataSet);
  CHECK(ValueToString(Value(ds)) == "DataSet(5 columns, 2 rows)");

  Rig rig(CanteenConfig());
  REQUIRE(rig.outbox->Commit({Derived("canteen-1", "reports/daily", Value(ds), 1000)}, nullptr).ok());
  auto stored = rig.outbox->ReadAfter(0, 10);
  REQUIRE(stored.ok());
  REQUIRE(stored->size() == 1);
  CHECK(std::get<DataSet>(stored.value()[0].value) == ds);
}

TEST_CASE("readings with impossible clocks do not drag the history's time", "[history]") {
  Rig rig(CanteenConfig());
  auto tz = TimeZone::Load("Asia/Shanghai").value();
  const int64_t now = tz.FromLocal(2026, 3, 2, 10 * 60);
  // A device whose clock says 1970, and one a year ahead.
  rig.history->Ingest({Raw("canteen-1", "door-1", "entries_total", Value(uint64_t(1)), 1000),
                       Raw("canteen-1", "door-1", "entries_total", Value(uint64_t(2)), now + 365 * 86'400'000LL)},
                      now);
  CHECK(rig.history->ignored_clock() == 2);
  CHECK(rig.history->PendingRows().empty());
  // Then the gateway is off for two years: the gap is not walked minute by minute
  // beyond the retention (365 days).
  rig.history->Ingest({Raw("canteen-1", "door-1", "entries_total", Value(uint64_t(3)), now)}, now);
  const int64_t later = tz.FromLocal(2028, 3, 2, 10 * 60);
  rig.history->Ingest({Raw("canteen-1", "door-1", "entries_total", Value(uint64_t(4)), later)}, later);
  REQUIRE(rig.Commit({}).ok());
  auto rows = store::ReadHourRows(rig.outbox->db(), {}, 0, 1000000);
  REQUIRE(rows.ok());
  int64_t days_recorded = 0, last = -1;
  for (const auto& r : rows.value()) {
    if (r.sensor.empty() && r.day != last) {
      ++days_recorded;
      last = r.day;
    }
  }
  CHECK(days_recorded <= 367 + 1);
}

TEST_CASE("rows the gateway clock stamps do not make a lagging driver's readings late", "[history]") {
  Rig rig(CanteenConfig());
  auto tz = TimeZone::Load("Asia/Shanghai").value();
  auto at = [&](int day, int h, int m) { return tz.FromLocal(2026, 3, 2 + day, h * 60 + m); };
  REQUIRE(rig.Feed({Raw("canteen-1", "door-1", "entries_total", Value(uint64_t(5)), at(0, 23, 0)),
                    Derived("canteen-1", "occupancy/current", Value(uint32_t(0)), at(0, 23, 0))})
              .ok());
  // The clock passed midnight before the driver's next samples were committed: the
  // facility model's midnight reset comes first, stamped at midnight.
  REQUIRE(rig.Feed({Derived("canteen-1", "visits/entries", Value(uint64_t(0)), at(1, 0, 0)),
                    Derived("canteen-1", "occupancy/current", Value(uint32_t(0)), at(1, 0, 0))})
              .ok());
  // Then the sample of 23:30 arrives: still on time, the door counter reported
  // 23:00-23:10 and 23:30-23:40 (silence bound 10 min).
  REQUIRE(rig.Feed({Raw("canteen-1", "door-1", "entries_total", Value(uint64_t(5)), at(0, 23, 30))}).ok());
  rig.AdvanceTo("canteen-1", at(1, 1, 0));
  auto d = rig.Figures("canteen-1", Day("2026-03-02"), Day("2026-03-02"));
  REQUIRE(d.sensors.size() == 1);
  CHECK(d.sensors[0].reported_ms == 20 * kMin);
  CHECK(d.sensors[0].readings == 2);
}

namespace {

Reading Transaction(const std::string& cp, int connector, int32_t id, int64_t start, int64_t stop, double m0,
                    double m1, const std::string& reason) {
  DataSet d;
  d.columns = {"transaction_id", "start_ms", "stop_ms", "meter_start_kwh", "meter_stop_kwh",
               "energy_kwh", "stop_reason", "id_tag_hash"};
  d.types = {DataType::kInt32, DataType::kInt64, DataType::kInt64, DataType::kDouble, DataType::kDouble,
             DataType::kDouble, DataType::kString, DataType::kString};
  d.rows.push_back({Scalar(id), Scalar(start), Scalar(stop), Scalar(m0), Scalar(m1), Scalar(m1 - m0),
                    Scalar(reason), Scalar(std::string("9f86d081884c7d659a2feaa0c55ad015"))});
  return Reading{"charging-1", cp, "connector/" + std::to_string(connector) + "/transaction", Value(std::move(d)),
                 stop, Quality::kGood};
}

}  // namespace

TEST_CASE("finished OCPP transactions are kept once, by their local start day, for the report",
          "[history][report]") {
  Rig rig(ChargingConfig("ocpp", 0));
  auto tz = TimeZone::Load("Asia/Shanghai").value();
  auto at = [&](int day, int h, int m) { return tz.FromLocal(2026, 3, 2 + day, h * 60 + m); };

  // 23:30 to 00:40 belongs to the day it started; a repeated StopTransaction (the charge
  // point resent it after a reconnect) is not a second session.
  const Reading late = Transaction("cp-1", 1, 7, at(0, 23, 30), at(1, 0, 40), 100.0, 112.5, "EVDisconnected");
  REQUIRE(rig.Feed({late}).ok());
  REQUIRE(rig.Feed({late}).ok());
  REQUIRE(rig.Feed({Transaction("cp-1", 2, 8, at(1, 9, 0), at(1, 9, 30), 50.0, 54.0, "Local")}).ok());
  REQUIRE(rig.Feed({Transaction("cp-1", 1, 9, at(1, 10, 0), at(1, 11, 0), 112.5, 120.5, "EVDisconnected")}).ok());

  // A failed commit keeps nothing of its batch.
  rig.fail_next_commits = 1;
  REQUIRE_FALSE(rig.Feed({Transaction("cp-1", 2, 10, at(1, 12, 0), at(1, 12, 10), 54.0, 55.0, "Local")}).ok());

  // The columns of the contract are checked; a wrong reading is counted, not stored.
  Reading bad = Transaction("cp-1", 1, 11, at(1, 13, 0), at(1, 13, 5), 0, 1, "Local");
  std::get<DataSet>(bad.value).columns[7] = "id_tag";
  REQUIRE(rig.Feed({bad}).ok());
  CHECK(rig.history->bad_sessions() == 1);

  auto day0 = store::ReadSessions(rig.outbox->db(), "charging-1", Day("2026-03-02"), Day("2026-03-02"));
  REQUIRE(day0.ok());
  REQUIRE(day0->size() == 1);
  CHECK(day0->front().transaction_id == 7);
  CHECK(day0->front().connector == 1);
  CHECK(day0->front().energy_kwh == Approx(12.5));
  CHECK(day0->front().stop_reason == "EVDisconnected");
  CHECK(day0->front().id_tag_hash == "9f86d081884c7d659a2feaa0c55ad015");

  rig.Restart();
  auto both = store::ReadSessions(rig.outbox->db(), "charging-1", Day("2026-03-02"), Day("2026-03-03"));
  REQUIRE(both.ok());
  REQUIRE(both->size() == 3);
  const auto t = report::SummariseTransactions(both.value());
  CHECK(t.count == 3);
  CHECK(t.energy_kwh == Approx(12.5 + 4.0 + 8.0));
  REQUIRE(t.MeanMinutes());
  CHECK(*t.MeanMinutes() == Approx((70.0 + 30.0 + 60.0) / 3));
  REQUIRE(t.by_reason.size() == 2);
  CHECK(t.by_reason[0].reason == "EVDisconnected");
  CHECK(t.by_reason[0].count == 2);
  CHECK(t.by_reason[0].energy_kwh == Approx(20.5));
  CHECK(t.by_reason[1].reason == "Local");
}
