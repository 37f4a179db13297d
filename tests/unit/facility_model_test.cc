#include <catch2/catch.hpp>

#include <algorithm>

#include <set>
#include <tuple>

#include "core/facility_model.h"

using namespace gateway;

// All figures below are worked by hand. Times: Asia/Shanghai is UTC+8, so local
// midnight is 16:00 UTC; kT0 is Friday 2024-03-15 12:30 local (04:30 UTC).

namespace {

constexpr int64_t kMin = 60'000;
constexpr int64_t kHour = 60 * kMin;
constexpr int64_t kT0 = 1710477000000;             // 2024-03-15 12:30 CST (Friday)
constexpr int64_t kMidnight = 1710518400000;       // 2024-03-16 00:00 CST = 16:00Z
constexpr int64_t kLocalDayStart = kMidnight - 24 * kHour;  // 2024-03-15 00:00 CST

SensorConfig Sensor(const std::string& id, SensorKind kind, uint32_t connectors = 0) {
  SensorConfig s;
  s.id = id;
  s.kind = kind;
  s.connectors = connectors;
  s.driver = "modbus";
  return s;
}

FacilityConfig Facility(const std::string& id, FacilityType type, uint32_t capacity,
                        std::vector<SensorConfig> sensors) {
  FacilityConfig f;
  f.id = id;
  f.name = id + " name";
  f.type = type;
  f.capacity = capacity;
  f.sensors = std::move(sensors);
  return f;
}

Config MakeConfig(std::vector<FacilityConfig> facilities) {
  Config c;
  c.timezone = "Asia/Shanghai";
  c.facilities = std::move(facilities);
  return c;
}

std::unique_ptr<FacilityModel> Model(const Config& c) {
  auto m = FacilityModel::Create(c);
  REQUIRE(m.ok());
  return std::move(m.value());
}

Reading Raw(const std::string& facility, const std::string& sensor, const std::string& point, Value v,
            int64_t ts) {
  Reading r;
  r.facility_id = facility;
  r.sensor_id = sensor;
  r.point = point;
  r.value = std::move(v);
  r.ts_ms = ts;
  return r;
}

std::vector<Reading> Door(const std::string& f, const std::string& s, uint64_t in, uint64_t out,
                          int64_t ts) {
  return {Raw(f, s, "entries_total", in, ts), Raw(f, s, "exits_total", out, ts)};
}

std::vector<Reading> Run(FacilityModel& m, const std::vector<Reading>& raw) {
  std::vector<Reading> out;
  m.Process(raw, out);
  return out;
}

std::vector<Reading> Tick(FacilityModel& m, int64_t now) {
  std::vector<Reading> out;
  m.Tick(now, out);
  return out;
}

std::vector<Reading> Of(const std::vector<Reading>& out, const std::string& point,
                        const std::string& facility = "") {
  std::vector<Reading> r;
  for (const auto& x : out) {
    if (x.point == point && (facility.empty() || x.facility_id == facility)) r.push_back(x);
  }
  return r;
}

// The only value of `point` in `out`; fails when there is none or more than one.
template <typename T>
T One(const std::vector<Reading>& out, const std::string& point, int64_t* ts = nullptr) {
  auto v = Of(out, point);
  INFO("metric " << point);
  REQUIRE(v.size() == 1);
  CHECK(v[0].sensor_id.empty());
  if (ts) *ts = v[0].ts_ms;
  return std::get<T>(v[0].value);
}

// The newest value of `point` in `out` (a reading that crosses a midnight first states
// the day's counts as 0 at the midnight, then its own).
template <typename T>
T Last(const std::vector<Reading>& out, const std::string& point, int64_t* ts = nullptr) {
  auto v = Of(out, point);
  INFO("metric " << point);
  REQUIRE(!v.empty());
  auto it = std::max_element(v.begin(), v.end(), [](const Reading& a, const Reading& b) { return a.ts_ms < b.ts_ms; });
  if (ts) *ts = it->ts_ms;
  return std::get<T>(it->value);
}

Config CanteenConfig() {
  return MakeConfig({Facility("c1", FacilityType::kCanteen, 50,
                              {Sensor("d1", SensorKind::kDoorCounter), Sensor("m1", SensorKind::kMealTerminal)})});
}

}  // namespace

TEST_CASE("counter: the first value is a baseline, then deltas", "[facility_model]") {
  auto m = Model(CanteenConfig());
  auto out = Run(*m, Door("c1", "d1", 1000, 990, kT0));
  CHECK(One<uint32_t>(out, "occupancy/current") == 0);
  CHECK(One<float>(out, "occupancy/ratio") == 0.0f);
  CHECK(One<uint64_t>(out, "visits/entries") == 0);
  CHECK(One<bool>(out, "sensors/d1/online") == true);

  out = Run(*m, Door("c1", "d1", 1010, 992, kT0 + kMin));
  int64_t ts = 0;
  CHECK(One<uint32_t>(out, "occupancy/current", &ts) == 8);  // +10 -2
  CHECK(ts == kT0 + kMin);
  CHECK(One<float>(out, "occupancy/ratio") == Approx(8.0f / 50.0f));
  CHECK(One<uint64_t>(out, "visits/entries") == 10);
  CHECK(Of(out, "sensors/d1/online").empty());  // already online: no repeat

  // Integer types other than UInt64 are accepted.
  out = Run(*m, {Raw("c1", "d1", "entries_total", uint32_t(1015), kT0 + 2 * kMin),
                 Raw("c1", "d1", "exits_total", int64_t(993), kT0 + 2 * kMin)});
  CHECK(One<uint32_t>(out, "occupancy/current") == 12);
  CHECK(One<uint64_t>(out, "visits/entries") == 15);
  out = Run(*m, {Raw("c1", "d1", "entries_total", int32_t(1016), kT0 + 3 * kMin)});
  CHECK(One<uint64_t>(out, "visits/entries") == 16);
}

TEST_CASE("counter: 32-bit wrap near the top of the range", "[facility_model]") {
  auto m = Model(CanteenConfig());
  Run(*m, Door("c1", "d1", 4294967290ull, 4294967290ull, kT0));
  auto out = Run(*m, Door("c1", "d1", 4, 2, kT0 + kMin));  // 6 + 4 = 10 in, 6 + 2 = 8 out
  CHECK(One<uint64_t>(out, "visits/entries") == 10);
  CHECK(One<uint32_t>(out, "occupancy/current") == 2);
  out = Run(*m, Door("c1", "d1", 9, 2, kT0 + 2 * kMin));
  CHECK(One<uint64_t>(out, "visits/entries") == 15);
  CHECK(One<uint32_t>(out, "occupancy/current") == 7);
}

TEST_CASE("counter: going back outside the wrap zone is a reset counted from 0", "[facility_model]") {
  auto m = Model(CanteenConfig());
  Run(*m, Door("c1", "d1", 500, 480, kT0));
  auto out = Run(*m, Door("c1", "d1", 3, 1, kT0 + kMin));  // device rebooted: 3 in, 1 out
  CHECK(One<uint64_t>(out, "visits/entries") == 3);
  CHECK(One<uint32_t>(out, "occupancy/current") == 2);
  out = Run(*m, Door("c1", "d1", 7, 1, kT0 + 2 * kMin));
  CHECK(One<uint64_t>(out, "visits/entries") == 7);
  CHECK(One<uint32_t>(out, "occupancy/current") == 6);

  // A 32-bit-looking value that falls from the top to above 2^32 is not a wrap.
  auto m2 = Model(CanteenConfig());
  Run(*m2, Door("c1", "d1", 4294967290ull, 0, kT0));
  out = Run(*m2, Door("c1", "d1", 40, 0, kT0 + kMin));  // wrap: 6 + 40
  CHECK(One<uint64_t>(out, "visits/entries") == 46);
}

TEST_CASE("counter: an implausible jump is not counted and re-bases", "[facility_model]") {
  auto m = Model(CanteenConfig());
  Run(*m, Door("c1", "d1", 1000, 1000, kT0));
  auto out = Run(*m, Door("c1", "d1", 1005, 1000, kT0 + kMin));
  CHECK(One<uint64_t>(out, "visits/entries") == 5);
  // A swapped device: +249000 in one step.
  out = Run(*m, Door("c1", "d1", 250000, 1000, kT0 + 2 * kMin));
  CHECK(One<uint64_t>(out, "visits/entries") == 5);
  CHECK(One<uint32_t>(out, "occupancy/current") == 5);
  out = Run(*m, Door("c1", "d1", 250004, 1001, kT0 + 3 * kMin));
  CHECK(One<uint64_t>(out, "visits/entries") == 9);
  CHECK(One<uint32_t>(out, "occupancy/current") == 8);
  // Exactly the bound is still counted.
  out = Run(*m, Door("c1", "d1", 350004, 1001, kT0 + 4 * kMin));
  CHECK(One<uint64_t>(out, "visits/entries") == 100009);
}

TEST_CASE("counter: wrong types and late samples are ignored", "[facility_model]") {
  auto m = Model(CanteenConfig());
  Run(*m, Door("c1", "d1", 100, 100, kT0));
  auto out = Run(*m, {Raw("c1", "d1", "entries_total", std::string("lots"), kT0 + kMin),
                      Raw("c1", "d1", "entries_total", 3.5, kT0 + kMin),
                      Raw("c1", "d1", "exits_total", true, kT0 + kMin),
                      Raw("c1", "d1", "exits_total", int32_t(-4), kT0 + kMin),
                      Raw("c1", "d1", "battery", 3.3f, kT0 + kMin)});
  CHECK(Of(out, "visits/entries").empty());
  CHECK(Of(out, "occupancy/current").empty());

  out = Run(*m, Door("c1", "d1", 110, 104, kT0 + 5 * kMin));
  CHECK(One<uint64_t>(out, "visits/entries") == 10);
  // A sample older than the last one must not look like a reset.
  out = Run(*m, Door("c1", "d1", 105, 101, kT0 + 3 * kMin));
  CHECK(Of(out, "visits/entries").empty());
  out = Run(*m, Door("c1", "d1", 111, 104, kT0 + 6 * kMin));
  CHECK(One<uint64_t>(out, "visits/entries") == 11);
  CHECK(One<uint32_t>(out, "occupancy/current") == 7);
}

TEST_CASE("occupancy from door counters never goes negative", "[facility_model]") {
  auto m = Model(CanteenConfig());
  Run(*m, Door("c1", "d1", 10, 10, kT0));
  auto out = Run(*m, Door("c1", "d1", 12, 15, kT0 + kMin));  // 2 in, 5 out
  CHECK(One<uint32_t>(out, "occupancy/current") == 0);
  CHECK(One<float>(out, "occupancy/ratio") == 0.0f);
  out = Run(*m, Door("c1", "d1", 15, 15, kT0 + 2 * kMin));  // 3 in: the deficit is gone
  CHECK(One<uint32_t>(out, "occupancy/current") == 3);
  CHECK(m->Snapshot().at(0).occupancy == 3);
}

TEST_CASE("one emission per (facility, metric, ts) per batch, with the final value", "[facility_model]") {
  auto m = Model(CanteenConfig());
  Run(*m, Door("c1", "d1", 0, 0, kT0));
  // Three samples in one batch, out of order, exits before entries at one ts.
  std::vector<Reading> batch = {
      Raw("c1", "d1", "exits_total", uint64_t(1), kT0 + 2 * kMin),
      Raw("c1", "d1", "entries_total", uint64_t(4), kT0 + 2 * kMin),
      Raw("c1", "d1", "entries_total", uint64_t(3), kT0 + kMin),
      Raw("c1", "d1", "exits_total", uint64_t(0), kT0 + kMin),
      Raw("c1", "d1", "entries_total", uint64_t(9), kT0 + 3 * kMin),
      Raw("c1", "d1", "exits_total", uint64_t(2), kT0 + 3 * kMin),
  };
  auto out = Run(*m, batch);
  std::set<std::tuple<std::string, std::string, int64_t>> seen;
  for (const auto& r : out) {
    INFO(r.point << " at " << r.ts_ms);
    CHECK(seen.emplace(r.facility_id, r.point, r.ts_ms).second);
  }
  auto occ = Of(out, "occupancy/current");
  REQUIRE(occ.size() == 3);
  std::map<int64_t, uint32_t> by_ts;
  for (const auto& r : occ) by_ts[r.ts_ms] = std::get<uint32_t>(r.value);
  CHECK(by_ts[kT0 + kMin] == 3);
  CHECK(by_ts[kT0 + 2 * kMin] == 3);  // 4 in, 1 out
  CHECK(by_ts[kT0 + 3 * kMin] == 7);  // 9 in, 2 out
  auto visits = Of(out, "visits/entries");
  REQUIRE(visits.size() == 3);
  CHECK(std::get<uint64_t>(visits.back().value) == 9);
  CHECK(Of(out, "occupancy/ratio").size() == 3);
}

TEST_CASE("unknown facilities and sensors are ignored", "[facility_model]") {
  auto m = Model(CanteenConfig());
  CHECK(m->KnowsSensor("c1", "d1"));
  CHECK_FALSE(m->KnowsSensor("c1", "nope"));
  CHECK_FALSE(m->KnowsSensor("zz", "d1"));
  CHECK_FALSE(m->KnowsSensor("c1", ""));
  auto out = Run(*m, {Raw("zz", "d1", "entries_total", uint64_t(5), kT0),
                      Raw("c1", "nope", "entries_total", uint64_t(5), kT0)});
  CHECK(out.empty());
}

TEST_CASE("visits reset at Asia/Shanghai midnight (16:00 UTC)", "[facility_model]") {
  auto m = Model(CanteenConfig());
  Tick(*m, kMidnight - 2 * kHour);
  Run(*m, Door("c1", "d1", 100, 100, kMidnight - 2 * kMin));
  auto out = Run(*m, Door("c1", "d1", 105, 101, kMidnight - kMin));
  CHECK(One<uint64_t>(out, "visits/entries") == 5);

  out = Tick(*m, kMidnight - 1);
  CHECK(Of(out, "visits/entries").empty());
  out = Tick(*m, kMidnight + 500);
  int64_t ts = 0;
  CHECK(One<uint64_t>(out, "visits/entries", &ts) == 0);
  CHECK(ts == kMidnight);  // stamped at the midnight instant, not at now
  CHECK(One<uint32_t>(out, "meals/served") == 0);
  // Always open: people counted in stay counted.
  CHECK(Of(out, "occupancy/current").empty());
  CHECK(m->Snapshot().at(0).entries_today == 0);
  CHECK(m->Snapshot().at(0).occupancy == 4);

  out = Run(*m, Door("c1", "d1", 107, 101, kMidnight + kMin));
  CHECK(Last<uint64_t>(out, "visits/entries", &ts) == 2);
  CHECK(ts == kMidnight + kMin);
  CHECK(Of(out, "visits/entries").front().ts_ms == kMidnight);  // the announced 0, stated again
  CHECK(One<uint32_t>(out, "occupancy/current") == 6);
  out = Tick(*m, kMidnight + 2 * kMin);
  CHECK(Of(out, "visits/entries").empty());  // once a day
}

TEST_CASE("a reading on a later local day resets first, whatever Tick does", "[facility_model]") {
  auto m = Model(CanteenConfig());
  Run(*m, Door("c1", "d1", 100, 100, kMidnight - 3 * kMin));
  // One batch across midnight, no Tick in between.
  auto out = Run(*m, {Raw("c1", "d1", "entries_total", uint64_t(104), kMidnight - kMin),
                      Raw("c1", "d1", "entries_total", uint64_t(107), kMidnight + kMin),
                      Raw("c1", "m1", "meals_total", uint64_t(50), kMidnight - kMin)});
  auto visits = Of(out, "visits/entries");
  REQUIRE(visits.size() == 3);
  CHECK(visits[0].ts_ms == kMidnight - kMin);
  CHECK(std::get<uint64_t>(visits[0].value) == 4);
  CHECK(visits[1].ts_ms == kMidnight);
  CHECK(std::get<uint64_t>(visits[1].value) == 0);
  CHECK(visits[2].ts_ms == kMidnight + kMin);
  CHECK(std::get<uint64_t>(visits[2].value) == 3);
  // The later Tick finds the day already started.
  out = Tick(*m, kMidnight + 2 * kMin);
  CHECK(Of(out, "visits/entries").empty());

  // A late sample from the day before is counted in its own day, stamped at its time.
  out = Run(*m, {Raw("c1", "m1", "meals_total", uint64_t(52), kMidnight - 30'000)});
  int64_t late_ts = 0;
  CHECK(One<uint32_t>(out, "meals/served", &late_ts) == 2);
  CHECK(late_ts == kMidnight - 30'000);
  out = Run(*m, {Raw("c1", "m1", "meals_total", uint64_t(55), kMidnight + 3 * kMin)});
  CHECK(One<uint32_t>(out, "meals/served") == 3);
  out = Run(*m, Door("c1", "d1", 108, 100, kMidnight + 4 * kMin));
  CHECK(One<uint64_t>(out, "visits/entries") == 4);
}

TEST_CASE("midnight while closed resets counter-based occupancy", "[facility_model]") {
  auto cfg = CanteenConfig();
  OpeningPeriod p;
  p.open_minute = 10 * 60;
  p.close_minute = 20 * 60;
  cfg.facilities[0].opening_hours = {p};
  // A second facility open across midnight keeps its count.
  auto late = Facility("bar", FacilityType::kElderlyStation, 10, {Sensor("d2", SensorKind::kDoorCounter)});
  OpeningPeriod night;
  night.open_minute = 18 * 60;
  night.close_minute = 2 * 60;
  late.opening_hours = {night};
  cfg.facilities.push_back(late);
  auto m = Model(cfg);

  Run(*m, Door("c1", "d1", 0, 0, kLocalDayStart + 19 * kHour));
  Run(*m, Door("bar", "d2", 0, 0, kLocalDayStart + 19 * kHour));
  Run(*m, Door("c1", "d1", 6, 2, kLocalDayStart + 19 * kHour + 30 * kMin));
  Run(*m, Door("bar", "d2", 5, 0, kLocalDayStart + 19 * kHour + 30 * kMin));
  Tick(*m, kLocalDayStart + 21 * kHour);

  auto out = Tick(*m, kMidnight + 1000);
  auto occ = Of(out, "occupancy/current", "c1");
  REQUIRE(occ.size() == 1);
  CHECK(std::get<uint32_t>(occ[0].value) == 0);
  CHECK(occ[0].ts_ms == kMidnight);
  CHECK(Of(out, "occupancy/current", "bar").empty());
  CHECK(Of(out, "visits/entries", "bar").size() == 1);
  CHECK(Of(out, "checkins/count", "bar").size() == 1);
  auto snap = m->Snapshot();
  CHECK(snap.at(0).occupancy == 0);
  CHECK(snap.at(1).occupancy == 5);

  out = Run(*m, Door("c1", "d1", 7, 2, kMidnight + 10 * kHour));
  CHECK(Last<uint32_t>(out, "occupancy/current") == 1);
}

TEST_CASE("visits reset at Europe/Berlin midnight across DST changes", "[facility_model]") {
  auto cfg = CanteenConfig();
  cfg.facilities[0].timezone = "Europe/Berlin";
  auto m = Model(cfg);

  // Spring forward: Sunday 2024-03-31 starts at 2024-03-30T23:00Z and lasts 23 hours.
  const int64_t sun_start = 1711839600000;
  const int64_t mon_start = 1711922400000;  // 2024-03-31T22:00Z
  Run(*m, Door("c1", "d1", 0, 0, sun_start - 30 * kMin));
  auto out = Run(*m, Door("c1", "d1", 4, 0, sun_start - kMin));
  CHECK(One<uint64_t>(out, "visits/entries") == 4);
  out = Tick(*m, sun_start - 1);
  CHECK(Of(out, "visits/entries").empty());
  out = Tick(*m, sun_start);
  int64_t ts = 0;
  CHECK(One<uint64_t>(out, "visits/entries", &ts) == 0);
  CHECK(ts == sun_start);
  // 21:59Z is 23:59 CEST, still Sunday although 24 h after the UTC midnight it is not.
  out = Run(*m, Door("c1", "d1", 11, 0, mon_start - kMin));
  CHECK(Last<uint64_t>(out, "visits/entries") == 7);
  out = Tick(*m, mon_start - 1);
  CHECK(Of(out, "visits/entries").empty());
  out = Run(*m, Door("c1", "d1", 13, 0, mon_start + 30 * 1000));
  auto visits = Of(out, "visits/entries");
  REQUIRE(visits.size() == 2);
  CHECK(visits[0].ts_ms == mon_start);
  CHECK(std::get<uint64_t>(visits[0].value) == 0);
  CHECK(std::get<uint64_t>(visits[1].value) == 2);

  // Fall back: Sunday 2024-10-27 starts at 2024-10-26T22:00Z and lasts 25 hours.
  const int64_t oct_start = 1729980000000;
  const int64_t oct_end = 1730070000000;  // 2024-10-27T23:00Z
  out = Tick(*m, oct_start + 1);
  CHECK(One<uint64_t>(out, "visits/entries", &ts) == 0);
  CHECK(ts == oct_start);
  Run(*m, Door("c1", "d1", 20, 0, oct_start + kHour));
  out = Run(*m, Door("c1", "d1", 30, 0, oct_start + 24 * kHour + 30 * kMin));  // 23:30 CET
  CHECK(One<uint64_t>(out, "visits/entries") == 17);  // 13 -> 20 -> 30, all on the 27th
  CHECK(Of(Tick(*m, oct_end - 1), "visits/entries").empty());
  out = Tick(*m, oct_end);
  CHECK(One<uint64_t>(out, "visits/entries", &ts) == 0);
  CHECK(ts == oct_end);
}

TEST_CASE("status/open flips in Tick, with two periods a day", "[facility_model]") {
  auto cfg = CanteenConfig();
  OpeningPeriod lunch, supper;
  lunch.open_minute = 10 * 60 + 30;
  lunch.close_minute = 13 * 60 + 30;
  supper.open_minute = 16 * 60 + 30;
  supper.close_minute = 19 * 60;
  cfg.facilities[0].opening_hours = {lunch, supper};
  auto m = Model(cfg);
  auto at = [](int h, int mi) { return kLocalDayStart + h * kHour + mi * kMin; };

  auto out = Tick(*m, at(9, 0));
  int64_t ts = 0;
  CHECK(One<bool>(out, "status/open", &ts) == false);  // first Tick states it
  CHECK(ts == at(9, 0));
  CHECK(Of(Tick(*m, at(10, 29)), "status/open").empty());
  CHECK(One<bool>(Tick(*m, at(10, 30)), "status/open") == true);
  CHECK(m->Snapshot().at(0).open);
  CHECK(Of(Tick(*m, at(12, 0)), "status/open").empty());
  CHECK(One<bool>(Tick(*m, at(13, 30)), "status/open") == false);
  CHECK(Of(Tick(*m, at(15, 0)), "status/open").empty());
  CHECK(One<bool>(Tick(*m, at(16, 45)), "status/open") == true);
  CHECK(One<bool>(Tick(*m, at(19, 0)), "status/open") == false);
  CHECK_FALSE(m->Snapshot().at(0).open);
}

TEST_CASE("status/open with a period past midnight", "[facility_model]") {
  auto cfg = CanteenConfig();
  OpeningPeriod night;
  night.weekdays_mask = 1 << 4;  // Friday only
  night.open_minute = 22 * 60;
  night.close_minute = 3 * 60;
  cfg.facilities[0].opening_hours = {night};
  auto m = Model(cfg);
  // kLocalDayStart is Friday 2024-03-15 00:00 local.
  CHECK(One<bool>(Tick(*m, kLocalDayStart + 21 * kHour), "status/open") == false);
  CHECK(One<bool>(Tick(*m, kLocalDayStart + 22 * kHour), "status/open") == true);
  auto out = Tick(*m, kMidnight + kHour);  // Saturday 01:00: Friday's night, still open
  CHECK(Of(out, "status/open").empty());
  CHECK(m->Snapshot().at(0).open);
  CHECK(One<bool>(Tick(*m, kMidnight + 3 * kHour), "status/open") == false);
}

TEST_CASE("charging station: connectors, active and completed sessions", "[facility_model]") {
  auto cfg = MakeConfig({Facility("ev", FacilityType::kChargingStation, 0,
                                  {Sensor("cp1", SensorKind::kChargePoint, 2),
                                   Sensor("cp2", SensorKind::kChargePoint, 1)})});
  auto m = Model(cfg);
  auto status = [&](const std::string& cp, int n, const std::string& s, int64_t ts) {
    return Run(*m, {Raw("ev", cp, "connector/" + std::to_string(n) + "/status", s, ts)});
  };
  int64_t t = kT0;
  auto out = status("cp1", 1, "Available", t);
  CHECK(One<std::string>(out, "connectors/1/status") == "Available");
  CHECK(One<uint32_t>(out, "sessions/active") == 0);
  CHECK(One<uint32_t>(out, "sessions/completed") == 0);
  CHECK(One<uint32_t>(out, "occupancy/current") == 0);

  out = status("cp1", 1, "Preparing", t += kMin);
  CHECK(One<uint32_t>(out, "sessions/active") == 0);
  CHECK(One<uint32_t>(out, "occupancy/current") == 1);  // a car is there
  CHECK(One<float>(out, "occupancy/ratio") == Approx(1.0f / 3.0f));  // capacity: 3 connectors
  out = status("cp1", 1, "Charging", t += kMin);
  CHECK(One<uint32_t>(out, "sessions/active") == 1);
  // cp2's only connector is the facility's connector 3.
  out = status("cp2", 1, "Charging", t += kMin);
  CHECK(One<std::string>(out, "connectors/3/status") == "Charging");
  CHECK(One<uint32_t>(out, "sessions/active") == 2);
  CHECK(One<uint32_t>(out, "occupancy/current") == 2);
  // Charging <-> suspended is the same session.
  out = status("cp1", 1, "SuspendedEV", t += kMin);
  CHECK(One<uint32_t>(out, "sessions/active") == 2);
  out = status("cp1", 1, "SuspendedEVSE", t += kMin);
  out = status("cp1", 1, "Charging", t += kMin);
  CHECK(One<uint32_t>(out, "sessions/completed") == 0);
  out = status("cp1", 1, "Finishing", t += kMin);
  CHECK(One<uint32_t>(out, "sessions/completed") == 1);
  CHECK(One<uint32_t>(out, "sessions/active") == 1);
  CHECK(One<uint32_t>(out, "occupancy/current") == 2);  // still plugged in
  out = status("cp1", 1, "Available", t += kMin);
  CHECK(One<uint32_t>(out, "sessions/completed") == 1);
  CHECK(One<uint32_t>(out, "occupancy/current") == 1);
  out = status("cp2", 1, "Faulted", t += kMin);  // a session ended by a fault
  CHECK(One<uint32_t>(out, "sessions/completed") == 2);
  CHECK(One<uint32_t>(out, "sessions/active") == 0);

  // Power and energy copies, with the facility-wide number.
  out = Run(*m, {Raw("ev", "cp1", "connector/2/power_kw", 6.8f, t += kMin),
                 Raw("ev", "cp1", "connector/2/energy_kwh", 1234.5, t)});
  CHECK(One<float>(out, "connectors/2/power_kw") == 6.8f);
  CHECK(One<double>(out, "connectors/2/energy_kwh") == 1234.5);
  // Wrong type, connector beyond the config, malformed point: ignored.
  out = Run(*m, {Raw("ev", "cp1", "connector/2/status", int32_t(3), t += kMin),
                 Raw("ev", "cp1", "connector/3/status", std::string("Charging"), t),
                 Raw("ev", "cp1", "connector/0/status", std::string("Charging"), t),
                 Raw("ev", "cp1", "connector/x/status", std::string("Charging"), t)});
  CHECK(out.empty());

  // Completed sessions are per local day.
  out = Tick(*m, kMidnight);
  CHECK(One<uint32_t>(out, "sessions/completed") == 0);
  out = status("cp2", 1, "Available", kMidnight + kMin);
  CHECK(Last<uint32_t>(out, "sessions/completed") == 0);
}

TEST_CASE("fitness point: equipment in use and sessions", "[facility_model]") {
  auto cfg = MakeConfig({Facility("fit", FacilityType::kFitnessPoint, 0,
                                  {Sensor("bike", SensorKind::kEquipment), Sensor("rower", SensorKind::kEquipment)})});
  auto m = Model(cfg);
  auto use = [&](const std::string& id, bool v, int64_t ts) {
    return Run(*m, {Raw("fit", id, "in_use", v, ts)});
  };
  int64_t t = kT0;
  auto out = use("bike", false, t);
  CHECK(One<bool>(out, "equipment/bike/in_use") == false);
  CHECK(One<uint32_t>(out, "equipment/bike/sessions") == 0);
  CHECK(One<uint32_t>(out, "occupancy/current") == 0);
  out = use("bike", true, t += kMin);
  CHECK(One<uint32_t>(out, "equipment/bike/sessions") == 1);
  CHECK(One<uint32_t>(out, "occupancy/current") == 1);
  CHECK(One<float>(out, "occupancy/ratio") == 0.5f);  // capacity: 2 pieces
  out = use("bike", true, t += kMin);  // still the same session, but reported again
  CHECK(One<uint32_t>(out, "equipment/bike/sessions") == 1);
  out = use("rower", true, t += kMin);  // first heard in use: a session
  CHECK(One<uint32_t>(out, "equipment/rower/sessions") == 1);
  CHECK(One<uint32_t>(out, "occupancy/current") == 2);
  use("bike", false, t += kMin);
  out = use("bike", true, t += kMin);
  CHECK(One<uint32_t>(out, "equipment/bike/sessions") == 2);
  // A 0/1 register works like a bool.
  out = Run(*m, {Raw("fit", "rower", "in_use", uint32_t(0), t += kMin)});
  CHECK(One<bool>(out, "equipment/rower/in_use") == false);
  out = Run(*m, {Raw("fit", "rower", "in_use", std::string("yes"), t += kMin)});
  CHECK(out.empty());

  out = Tick(*m, kMidnight);
  CHECK(One<uint32_t>(out, "equipment/bike/sessions") == 0);
  CHECK(One<uint32_t>(out, "equipment/rower/sessions") == 0);
  out = use("bike", true, kMidnight + kMin);  // in use across midnight: no new session
  CHECK(Last<uint32_t>(out, "equipment/bike/sessions") == 0);
}

TEST_CASE("meals and check-ins since midnight", "[facility_model]") {
  auto cfg = MakeConfig({Facility("c1", FacilityType::kCanteen, 40, {Sensor("m1", SensorKind::kMealTerminal)}),
                         Facility("e1", FacilityType::kElderlyStation, 30,
                                  {Sensor("k1", SensorKind::kCheckinTerminal)})});
  auto m = Model(cfg);
  auto out = Run(*m, {Raw("c1", "m1", "meals_total", uint64_t(7000), kT0),
                      Raw("e1", "k1", "checkins_total", uint32_t(120), kT0)});
  CHECK(One<uint32_t>(out, "meals/served") == 0);
  CHECK(One<uint32_t>(out, "checkins/count") == 0);
  out = Run(*m, {Raw("c1", "m1", "meals_total", uint64_t(7012), kT0 + kMin),
                 Raw("e1", "k1", "checkins_total", uint32_t(123), kT0 + kMin)});
  CHECK(One<uint32_t>(out, "meals/served") == 12);
  CHECK(One<uint32_t>(out, "checkins/count") == 3);
  // No people counter: occupancy is not fed by terminals.
  CHECK(Of(out, "occupancy/current").empty());
}

TEST_CASE("occupancy source priority", "[facility_model]") {
  auto cfg = MakeConfig({
      Facility("cam", FacilityType::kCanteen, 100,
               {Sensor("d1", SensorKind::kDoorCounter), Sensor("o1", SensorKind::kOccupancy),
                Sensor("o2", SensorKind::kOccupancy)}),
      Facility("seats", FacilityType::kElderlyStation, 0,
               {Sensor("s1", SensorKind::kSeat), Sensor("s2", SensorKind::kSeat), Sensor("s3", SensorKind::kSeat),
                Sensor("s4", SensorKind::kSeat)}),
  });
  auto m = Model(cfg);
  // Occupancy sensors win over the door counter: the sum of their latest values.
  auto out = Run(*m, {Raw("cam", "o1", "occupancy", uint32_t(12), kT0), Raw("cam", "o2", "occupancy", int32_t(5), kT0)});
  CHECK(One<uint32_t>(out, "occupancy/current") == 17);
  CHECK(One<float>(out, "occupancy/ratio") == Approx(0.17f));
  out = Run(*m, {Raw("cam", "o1", "occupancy", int64_t(10), kT0 + kMin)});
  CHECK(One<uint32_t>(out, "occupancy/current") == 15);
  Run(*m, Door("cam", "d1", 0, 0, kT0 + kMin));
  out = Run(*m, Door("cam", "d1", 30, 0, kT0 + 2 * kMin));
  CHECK(Of(out, "occupancy/current").empty());
  CHECK(One<uint64_t>(out, "visits/entries") == 30);
  CHECK(m->Snapshot().at(0).occupancy == 15);
  out = Run(*m, {Raw("cam", "o2", "occupancy", int32_t(-1), kT0 + 3 * kMin)});
  CHECK(Of(out, "occupancy/current").empty());

  // Seats: the count of occupied ones, against 4 seats when no capacity is configured.
  out = Run(*m, {Raw("seats", "s1", "occupied", true, kT0), Raw("seats", "s2", "occupied", true, kT0),
                 Raw("seats", "s3", "occupied", false, kT0)});
  CHECK(One<uint32_t>(out, "occupancy/current") == 2);
  CHECK(One<float>(out, "occupancy/ratio") == 0.5f);
  out = Run(*m, {Raw("seats", "s1", "occupied", false, kT0 + kMin)});
  CHECK(One<uint32_t>(out, "occupancy/current") == 1);
}

TEST_CASE("sensors go offline after silence and online on the next reading", "[facility_model]") {
  auto cfg = CanteenConfig();
  cfg.facilities[0].sensors[1].silent_after_s = 60;  // m1
  auto m = Model(cfg);
  std::vector<Reading> all;
  m->EmitAll(kT0 - kMin, all);
  // Nobody has spoken: nothing is said of them (no made-up sample).
  CHECK(Of(all, "sensors/d1/online").empty());
  CHECK(Of(all, "sensors/m1/online").empty());

  auto out = Run(*m, {Raw("c1", "d1", "entries_total", uint64_t(1), kT0),
                      Raw("c1", "m1", "meals_total", uint64_t(1), kT0)});
  int64_t ts = 0;
  CHECK(One<bool>(out, "sensors/d1/online", &ts) == true);
  CHECK(ts == kT0);
  CHECK(One<bool>(out, "sensors/m1/online") == true);
  CHECK(m->Snapshot().at(0).sensors_online == 2);
  Run(*m, {Raw("c1", "d1", "entries_total", uint64_t(2), kT0 + 10'000)});

  out = Tick(*m, kT0 + 60'000);
  CHECK(Of(out, "sensors/m1/online").empty());  // 60 s exactly is not yet silence
  out = Tick(*m, kT0 + 60'001);
  CHECK(One<bool>(out, "sensors/m1/online", &ts) == false);
  CHECK(ts == kT0 + 60'001);
  CHECK(Of(out, "sensors/d1/online").empty());
  out = Tick(*m, kT0 + 10'000 + 300'000);  // default bound: 300 s
  CHECK(Of(out, "sensors/d1/online").empty());
  out = Tick(*m, kT0 + 10'000 + 300'001);
  CHECK(One<bool>(out, "sensors/d1/online") == false);
  CHECK(m->Snapshot().at(0).sensors_online == 0);
  CHECK(Of(Tick(*m, kT0 + 400'000), "sensors/d1/online").empty());  // said once

  out = Run(*m, {Raw("c1", "d1", "entries_total", uint64_t(3), kT0 + 500'000)});
  CHECK(One<bool>(out, "sensors/d1/online", &ts) == true);
  CHECK(ts == kT0 + 500'000);
  CHECK(m->Snapshot().at(0).sensors_online == 1);
}

TEST_CASE("EmitAll states only what is taken now; nothing of a reading is re-stamped", "[facility_model]") {
  auto cfg = MakeConfig({Facility("ev", FacilityType::kChargingStation, 4,
                                  {Sensor("cp1", SensorKind::kChargePoint, 2), Sensor("g1", SensorKind::kDoorCounter)}),
                         Facility("fit", FacilityType::kFitnessPoint, 9, {Sensor("bike", SensorKind::kEquipment)})});
  cfg.facilities[0].timezone = "Europe/Berlin";
  auto m = Model(cfg);
  Run(*m, {Raw("ev", "cp1", "connector/2/energy_kwh", 77.25, kT0)});
  std::vector<Reading> out;
  m->EmitAll(kT0 + kMin, out);
  std::set<std::string> ev, fit;
  for (const auto& r : out) {
    CHECK(r.ts_ms == kT0 + kMin);
    CHECK(r.sensor_id.empty());
    (r.facility_id == "ev" ? ev : fit).insert(r.point);
  }
  // The configured capacity, type and name, and what the opening hours say of this moment;
  // the energy register read at kT0 stays in the buffer with kT0, and no connector has a
  // status yet.
  const std::set<std::string> own{"occupancy/capacity", "status/open", "facility/type", "facility/name"};
  CHECK(ev == own);
  CHECK(fit == own);
  CHECK(std::get<std::string>(Of(out, "facility/type", "ev").at(0).value) == "charging_station");
  CHECK(std::get<uint32_t>(Of(out, "occupancy/capacity", "ev").at(0).value) == 4);
  CHECK(std::get<bool>(Of(out, "status/open", "ev").at(0).value) == true);

  auto snap = m->Snapshot();
  REQUIRE(snap.size() == 2);
  CHECK(snap[0].id == "ev");
  CHECK(snap[0].name == "ev name");
  CHECK(snap[0].type == FacilityType::kChargingStation);
  CHECK(snap[0].capacity == 4);
  CHECK(snap[0].open);
  CHECK(snap[0].sensors_total == 2);
  CHECK(snap[0].sensors_online == 1);
  REQUIRE(snap[0].connectors.size() == 2);
  CHECK(snap[0].connectors[0].status.empty());  // no placeholder: the page shows "unknown"
  CHECK(snap[1].capacity == 9);
}

TEST_CASE("Create fails on an unknown time zone", "[facility_model]") {
  auto cfg = CanteenConfig();
  cfg.facilities[0].timezone = "Nowhere/Special";
  auto m = FacilityModel::Create(cfg);
  CHECK_FALSE(m.ok());
}

namespace {

Config MixedConfig() {
  auto cfg = MakeConfig({
      Facility("c1", FacilityType::kCanteen, 50,
               {Sensor("d1", SensorKind::kDoorCounter), Sensor("m1", SensorKind::kMealTerminal)}),
      Facility("ev", FacilityType::kChargingStation, 0, {Sensor("cp1", SensorKind::kChargePoint, 2)}),
      Facility("fit", FacilityType::kFitnessPoint, 0, {Sensor("bike", SensorKind::kEquipment)}),
  });
  OpeningPeriod p;
  p.open_minute = 8 * 60;
  p.close_minute = 20 * 60;
  cfg.facilities[0].opening_hours = {p};
  return cfg;
}

std::vector<Reading> FirstHalf() {
  std::vector<Reading> r = Door("c1", "d1", 4294967000ull, 100, kT0);
  r.push_back(Raw("c1", "m1", "meals_total", uint64_t(900), kT0));
  r.push_back(Raw("ev", "cp1", "connector/1/status", std::string("Charging"), kT0));
  r.push_back(Raw("ev", "cp1", "connector/2/energy_kwh", 10.5, kT0));
  r.push_back(Raw("fit", "bike", "in_use", true, kT0));
  for (auto& x : Door("c1", "d1", 4294967100ull, 103, kT0 + kMin)) r.push_back(x);
  r.push_back(Raw("c1", "m1", "meals_total", uint64_t(905), kT0 + kMin));
  return r;
}

std::vector<Reading> SecondHalf() {
  std::vector<Reading> r = Door("c1", "d1", 20, 110, kT0 + 2 * kMin);  // wrapped: +216 in, +7 out
  r.push_back(Raw("c1", "m1", "meals_total", uint64_t(909), kT0 + 2 * kMin));
  r.push_back(Raw("ev", "cp1", "connector/1/status", std::string("Finishing"), kT0 + 2 * kMin));
  r.push_back(Raw("fit", "bike", "in_use", false, kT0 + 2 * kMin));
  r.push_back(Raw("fit", "bike", "in_use", true, kT0 + 3 * kMin));
  return r;
}

bool SameReadings(const std::vector<Reading>& a, const std::vector<Reading>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].facility_id != b[i].facility_id || a[i].sensor_id != b[i].sensor_id ||
        a[i].point != b[i].point || a[i].value != b[i].value || a[i].ts_ms != b[i].ts_ms) {
      return false;
    }
  }
  return true;
}

}  // namespace

TEST_CASE("SaveState -> LoadState continues identically", "[facility_model]") {
  auto a = Model(MixedConfig());
  std::vector<Reading> ignore;
  a->EmitAll(kT0 - kHour, ignore);
  Run(*a, FirstHalf());
  Tick(*a, kT0 + kMin + 1000);
  const std::string state = a->SaveState();

  auto b = Model(MixedConfig());
  Status s = b->LoadState(state);
  REQUIRE(s.ok());
  CHECK(b->SaveState() == state);

  auto out_a = Run(*a, SecondHalf());
  auto out_b = Run(*b, SecondHalf());
  CHECK(SameReadings(out_a, out_b));
  CHECK(std::get<uint64_t>(Of(out_b, "visits/entries").back().value) == 316);  // 100 + 216
  CHECK(std::get<uint32_t>(Of(out_b, "occupancy/current", "c1").back().value) == 306);  // 316 - 10
  CHECK(std::get<uint32_t>(Of(out_b, "meals/served").back().value) == 9);
  CHECK(std::get<uint32_t>(Of(out_b, "sessions/completed").back().value) == 1);
  CHECK(std::get<uint32_t>(Of(out_b, "equipment/bike/sessions").back().value) == 2);
  CHECK(Of(out_b, "sensors/d1/online").empty());  // still online after the load

  // Time passes identically too: midnight while closed, silence.
  CHECK(SameReadings(Tick(*a, kMidnight + 1000), Tick(*b, kMidnight + 1000)));
  std::vector<Reading> all_a, all_b;
  a->EmitAll(kMidnight + 2000, all_a);
  b->EmitAll(kMidnight + 2000, all_b);
  CHECK(SameReadings(all_a, all_b));
  CHECK(a->SaveState() == b->SaveState());
}

TEST_CASE("LoadState tolerates ids no longer configured and rejects damage", "[facility_model]") {
  auto a = Model(MixedConfig());
  Run(*a, FirstHalf());
  const std::string state = a->SaveState();

  // A config without the fitness point and with a new sensor at the canteen.
  auto cfg = MixedConfig();
  cfg.facilities.pop_back();
  cfg.facilities[0].sensors.push_back(Sensor("d2", SensorKind::kDoorCounter));
  auto b = Model(cfg);
  REQUIRE(b->LoadState(state).ok());
  auto out = Run(*b, Door("c1", "d1", 4294967110ull, 103, kT0 + 2 * kMin));
  CHECK(One<uint64_t>(out, "visits/entries") == 110);
  CHECK(b->Snapshot().at(0).sensors_online == 2);

  // Damaged state: an error, and the model keeps what it had.
  auto c = Model(MixedConfig());
  const std::string fresh = c->SaveState();
  CHECK_FALSE(c->LoadState("{\"version\":1,\"facilities\":{\"c1\":").ok());
  CHECK_FALSE(c->LoadState("not json at all").ok());
  CHECK_FALSE(c->LoadState("[]").ok());
  CHECK_FALSE(c->LoadState(R"({"version":1,"facilities":{"c1":{"entries_today":"many"}}})").ok());
  CHECK(c->SaveState() == fresh);
  out = Run(*c, Door("c1", "d1", 50, 0, kT0));
  CHECK(One<uint64_t>(out, "visits/entries") == 0);  // a baseline, as for a fresh model

  // Loading replaces, it does not merge: the committed state comes back after a failed commit.
  auto d = Model(MixedConfig());
  const std::string empty = d->SaveState();
  Run(*d, FirstHalf());
  REQUIRE(d->LoadState(empty).ok());
  CHECK(d->SaveState() == empty);
  CHECK(d->Snapshot().at(0).entries_today == 0);
}
