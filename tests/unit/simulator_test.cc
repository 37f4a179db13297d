// Unit tests of the simulator driver: determinism, the shape of the daily patterns, the
// OCPP connector state machine, dropouts, and the Asio plumbing against a fake sink.
#include <catch2/catch.hpp>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <cmath>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "gateway/local_time.h"
#include "simulator/facility_patterns.h"
#include "simulator/simulator_driver.h"

namespace {

using gateway::Config;
using gateway::FacilityConfig;
using gateway::FacilityType;
using gateway::OpeningPeriod;
using gateway::Reading;
using gateway::SensorConfig;
using gateway::SensorKind;
using gateway::Status;
using simulator::SimulatedClock;
using simulator::SimulatorDriver;

constexpr int64_t kStartMs = 1709481600000;  // 2024-03-04T00:00 Asia/Shanghai, a Monday
constexpr int64_t kMinute = 60000;
constexpr uint64_t kPerDay = 1440;  // samples per day at one a minute

SensorConfig Sensor(const std::string& id, SensorKind kind, uint32_t connectors = 0, double kw = 0) {
  SensorConfig s;
  s.id = id;
  s.kind = kind;
  s.connectors = connectors;
  s.max_power_kw = kw;
  return s;
}

OpeningPeriod Hours(int open_h, int open_m, int close_h, int close_m, uint8_t mask = 0x7f) {
  OpeningPeriod p;
  p.weekdays_mask = mask;
  p.open_minute = open_h * 60 + open_m;
  p.close_minute = close_h * 60 + close_m;
  return p;
}

Config MakeConfig(uint64_t seed = 42) {
  Config c;
  c.timezone = "Asia/Shanghai";
  c.simulator.enabled = true;
  c.simulator.seed = seed;
  c.simulator.interval_s = 60;
  c.simulator.dropout_probability = 0;
  c.simulator.start = "2024-03-04T00:00";
  c.simulator.speed = 1;

  FacilityConfig canteen;
  canteen.id = "canteen-1";
  canteen.type = FacilityType::kCanteen;
  canteen.capacity = 60;
  canteen.opening_hours = {Hours(10, 30, 19, 30)};
  canteen.sensors = {Sensor("door-1", SensorKind::kDoorCounter), Sensor("door-2", SensorKind::kDoorCounter),
                     Sensor("occ-1", SensorKind::kOccupancy),    Sensor("seat-1", SensorKind::kSeat),
                     Sensor("seat-2", SensorKind::kSeat),        Sensor("meal-1", SensorKind::kMealTerminal)};
  SensorConfig foreign = Sensor("cam-9", SensorKind::kOccupancy);
  foreign.driver = "http_ingest";  // not ours: never simulated
  canteen.sensors.push_back(foreign);

  FacilityConfig station;
  station.id = "station-1";
  station.type = FacilityType::kElderlyStation;
  station.capacity = 40;
  station.opening_hours = {Hours(7, 30, 18, 0, 0x1f)};  // Monday to Friday
  station.sensors = {Sensor("door-1", SensorKind::kDoorCounter), Sensor("checkin-1", SensorKind::kCheckinTerminal)};

  FacilityConfig ev;
  ev.id = "ev-1";
  ev.type = FacilityType::kChargingStation;
  ev.sensors = {Sensor("cp-ac", SensorKind::kChargePoint, 4, 7), Sensor("cp-dc", SensorKind::kChargePoint, 2, 60),
                Sensor("gate", SensorKind::kDoorCounter)};

  FacilityConfig fit;
  fit.id = "fit-1";
  fit.type = FacilityType::kFitnessPoint;
  fit.capacity = 30;
  fit.opening_hours = {Hours(5, 30, 22, 0)};
  fit.sensors = {Sensor("gate", SensorKind::kDoorCounter)};
  for (int i = 1; i <= 8; ++i) fit.sensors.push_back(Sensor("eq-" + std::to_string(i), SensorKind::kEquipment));

  c.facilities = {canteen, station, ev, fit};
  return c;
}

// A driver with its io_context and clock, for SampleForTest.
struct Harness {
  explicit Harness(const Config& config, int64_t start_ms = kStartMs, double speed = 1.0)
      : clock(start_ms, speed), driver(io, config, clock) {}
  boost::asio::io_context io;
  SimulatedClock clock;
  SimulatorDriver driver;
};

bool SameReading(const Reading& a, const Reading& b) {
  return a.facility_id == b.facility_id && a.sensor_id == b.sensor_id && a.point == b.point &&
         a.value == b.value && a.ts_ms == b.ts_ms && a.quality == b.quality;
}

bool SameBatch(const std::vector<Reading>& a, const std::vector<Reading>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!SameReading(a[i], b[i])) return false;
  }
  return true;
}

// Every reading of samples [0, n), per "facility/sensor/point", in order.
struct Series {
  std::map<std::string, std::vector<Reading>> by_key;
  std::vector<std::vector<Reading>> samples;
};

Series Collect(SimulatorDriver& d, uint64_t n) {
  Series s;
  for (uint64_t k = 0; k < n; ++k) {
    auto batch = d.SampleForTest(k);
    for (const auto& r : batch) s.by_key[r.facility_id + "/" + r.sensor_id + "/" + r.point].push_back(r);
    s.samples.push_back(std::move(batch));
  }
  return s;
}

const Series& Week() {
  static const Series series = [] {
    Harness h(MakeConfig());
    return Collect(h.driver, 7 * kPerDay);
  }();
  return series;
}

gateway::LocalDateTime Local(int64_t ts) {
  static const auto tz = gateway::TimeZone::Load("Asia/Shanghai").value();
  return tz.ToLocal(ts);
}

// People present in a facility according to its door counters: entries - exits,
// both relative to the first sample (taken at midnight, when everything is closed).
std::vector<int64_t> DoorOccupancy(const Series& s, const std::string& facility, const std::vector<std::string>& doors) {
  std::vector<int64_t> occ(s.samples.size(), 0);
  for (const auto& door : doors) {
    const auto& in = s.by_key.at(facility + "/" + door + "/entries_total");
    const auto& out = s.by_key.at(facility + "/" + door + "/exits_total");
    REQUIRE(in.size() == occ.size());
    REQUIRE(out.size() == occ.size());
    for (size_t k = 0; k < occ.size(); ++k) {
      occ[k] += int64_t(std::get<uint64_t>(in[k].value) - std::get<uint64_t>(in[0].value)) -
                int64_t(std::get<uint64_t>(out[k].value) - std::get<uint64_t>(out[0].value));
    }
  }
  return occ;
}

// A fake ReadingSink: records every batch and answers with scripted statuses
// (then ok), synchronously as a sink is allowed to.
class FakeSink : public gateway::ReadingSink {
 public:
  void Submit(std::vector<Reading> batch, Done done) override {
    batches.push_back(batch);
    Status s = Status::Ok();
    if (!script.empty()) {
      s = script.front();
      script.erase(script.begin());
    }
    if (hold) {
      held.push_back(std::move(done));
      return;
    }
    if (done) done(s);
  }
  std::vector<std::vector<Reading>> batches;
  std::vector<Status> script;
  bool hold = false;  // keep the callbacks instead of answering
  std::vector<Done> held;
};

}  // namespace

TEST_CASE("simulator: same seed gives identical samples, replay included", "[simulator]") {
  Harness a(MakeConfig(7));
  Harness b(MakeConfig(7));
  std::vector<std::vector<Reading>> first;
  for (uint64_t k = 0; k < 1500; ++k) {
    auto x = a.driver.SampleForTest(k);
    auto y = b.driver.SampleForTest(k);
    REQUIRE(!x.empty());
    REQUIRE(SameBatch(x, y));
    first.push_back(std::move(x));
  }
  // Asking for an earlier sample again replays from the start and gives the same values.
  CHECK(SameBatch(a.driver.SampleForTest(700), first[700]));
  CHECK(SameBatch(a.driver.SampleForTest(3), first[3]));
}

TEST_CASE("simulator: a different seed gives different samples", "[simulator]") {
  Harness a(MakeConfig(1));
  Harness b(MakeConfig(2));
  int differing = 0;
  for (uint64_t k = 0; k < 1440; ++k) {
    if (!SameBatch(a.driver.SampleForTest(k), b.driver.SampleForTest(k))) ++differing;
  }
  CHECK(differing > 1000);  // the counters' offsets alone differ in every sample
}

TEST_CASE("simulator: every point of every simulated sensor on every grid timestamp, typed", "[simulator]") {
  const Series& s = Week();
  // canteen: 2 doors x 2 + occ + 2 seats + meal; station: door x 2 + checkin;
  // ev: 6 connectors x 3 + gate x 2; fitness: gate x 2 + 8 equipment.
  const size_t expected = (4 + 1 + 2 + 1) + (2 + 1) + (6 * 3 + 2) + (2 + 8);
  for (size_t k = 0; k < s.samples.size(); ++k) {
    REQUIRE(s.samples[k].size() == expected);
    for (const auto& r : s.samples[k]) {
      REQUIRE(r.ts_ms == kStartMs + int64_t(k) * kMinute);
      REQUIRE(r.quality == gateway::Quality::kGood);
      REQUIRE(r.sensor_id != "cam-9");
    }
  }
  auto type_of = [&](const std::string& key) { return s.by_key.at(key).front().value.index(); };
  using V = gateway::Value;
  CHECK(type_of("canteen-1/door-1/entries_total") == V(uint64_t{}).index());
  CHECK(type_of("canteen-1/door-1/exits_total") == V(uint64_t{}).index());
  CHECK(type_of("canteen-1/occ-1/occupancy") == V(uint32_t{}).index());
  CHECK(type_of("canteen-1/seat-1/occupied") == V(bool{}).index());
  CHECK(type_of("canteen-1/meal-1/meals_total") == V(uint64_t{}).index());
  CHECK(type_of("station-1/checkin-1/checkins_total") == V(uint64_t{}).index());
  CHECK(type_of("ev-1/cp-ac/connector/4/status") == V(std::string{}).index());
  CHECK(type_of("ev-1/cp-ac/connector/1/power_kw") == V(float{}).index());
  CHECK(type_of("ev-1/cp-dc/connector/2/energy_kwh") == V(double{}).index());
  CHECK(type_of("fit-1/eq-8/in_use") == V(bool{}).index());
  CHECK(s.by_key.count("ev-1/cp-dc/connector/3/status") == 0);
}

TEST_CASE("simulator: counters are monotonic and start at a running offset", "[simulator]") {
  const Series& s = Week();
  int counters = 0;
  for (const auto& [key, series] : s.by_key) {
    bool is_counter = key.ends_with("_total");
    bool is_energy = key.ends_with("energy_kwh");
    if (!is_counter && !is_energy) continue;
    ++counters;
    if (is_counter) {
      CHECK(std::get<uint64_t>(series.front().value) >= 1000);
      for (size_t k = 1; k < series.size(); ++k) {
        REQUIRE(std::get<uint64_t>(series[k].value) >= std::get<uint64_t>(series[k - 1].value));
      }
      if (!key.starts_with("ev-1/gate")) {
        // Everybody who counts has had visitors during the week.
        CHECK(std::get<uint64_t>(series.back().value) > std::get<uint64_t>(series.front().value));
      }
    } else {
      CHECK(std::get<double>(series.front().value) >= 500);
      for (size_t k = 1; k < series.size(); ++k) {
        REQUIRE(std::get<double>(series[k].value) >= std::get<double>(series[k - 1].value));
      }
    }
  }
  CHECK(counters == 2 * 2 + 1 + 2 + 1 + 2 + 6 + 2);
}

TEST_CASE("simulator: occupancy is never negative and zero while closed", "[simulator]") {
  const Series& s = Week();
  auto canteen = DoorOccupancy(s, "canteen-1", {"door-1", "door-2"});
  auto station = DoorOccupancy(s, "station-1", {"door-1"});
  auto fitness = DoorOccupancy(s, "fit-1", {"gate"});
  const auto& occ_sensor = s.by_key.at("canteen-1/occ-1/occupancy");
  int64_t canteen_max = 0;
  int over_capacity = 0;
  for (size_t k = 0; k < s.samples.size(); ++k) {
    auto local = Local(kStartMs + int64_t(k) * kMinute);
    int m = local.minute_of_day;
    REQUIRE(canteen[k] >= 0);
    REQUIRE(station[k] >= 0);
    REQUIRE(fitness[k] >= 0);
    // The occupancy sensor sees what the doors count.
    REQUIRE(int64_t(std::get<uint32_t>(occ_sensor[k].value)) == canteen[k]);
    if (m < 10 * 60 + 30 || m >= 19 * 60 + 30) REQUIRE(canteen[k] == 0);
    if (local.weekday >= 5 || m < 7 * 60 + 30 || m >= 18 * 60) REQUIRE(station[k] == 0);
    if (m < 5 * 60 + 30 || m >= 22 * 60) REQUIRE(fitness[k] == 0);
    canteen_max = std::max(canteen_max, canteen[k]);
    if (canteen[k] > 60) ++over_capacity;
  }
  // The lunch peak fills the room; crowding above capacity happens but is not the rule.
  CHECK(canteen_max >= 45);
  CHECK(over_capacity < int(s.samples.size() / 50));
  // Per door, exits never pass entries.
  for (const std::string door : {"door-1", "door-2"}) {
    const auto& in = s.by_key.at("canteen-1/" + door + "/entries_total");
    const auto& out = s.by_key.at("canteen-1/" + door + "/exits_total");
    for (size_t k = 0; k < in.size(); ++k) REQUIRE(std::get<uint64_t>(out[k].value) <= std::get<uint64_t>(in[k].value));
  }
}

TEST_CASE("simulator: canteen peaks at lunch, day-care in the daytime, fitness morning and evening", "[simulator]") {
  const Series& s = Week();
  auto canteen = DoorOccupancy(s, "canteen-1", {"door-1", "door-2"});
  auto station = DoorOccupancy(s, "station-1", {"door-1"});
  auto fitness = DoorOccupancy(s, "fit-1", {"gate"});
  auto mean_between = [&](const std::vector<int64_t>& occ, int from_min, int to_min, bool weekdays_only) {
    double sum = 0;
    int n = 0;
    for (size_t k = 0; k < occ.size(); ++k) {
      auto l = Local(kStartMs + int64_t(k) * kMinute);
      if (weekdays_only && l.weekday >= 5) continue;
      if (l.minute_of_day >= from_min && l.minute_of_day < to_min) {
        sum += double(occ[k]);
        ++n;
      }
    }
    return sum / std::max(n, 1);
  };
  double lunch = mean_between(canteen, 11 * 60, 13 * 60, false);
  double afternoon = mean_between(canteen, 15 * 60, 16 * 60, false);
  double supper = mean_between(canteen, 17 * 60, 18 * 60 + 30, false);
  CHECK(lunch > 3 * afternoon);
  CHECK(supper > 2 * afternoon);
  CHECK(lunch > 15);

  double station_midday = mean_between(station, 11 * 60, 15 * 60, true);
  double station_early = mean_between(station, 7 * 60 + 30, 8 * 60, true);
  CHECK(station_midday > 20);  // most of the 40 places taken during the day
  CHECK(station_midday > 3 * station_early);

  double fit_morning = mean_between(fitness, 6 * 60 + 30, 8 * 60, false);
  double fit_evening = mean_between(fitness, 18 * 60 + 30, 20 * 60, false);
  double fit_afternoon = mean_between(fitness, 14 * 60, 16 * 60, false);
  CHECK(fit_morning > 2 * fit_afternoon);
  CHECK(fit_evening > 2 * fit_afternoon);

  // Meals and check-ins follow the entrants.
  auto delta = [&](const std::string& key) {
    const auto& v = s.by_key.at(key);
    return double(std::get<uint64_t>(v.back().value) - std::get<uint64_t>(v.front().value));
  };
  double canteen_entries = delta("canteen-1/door-1/entries_total") + delta("canteen-1/door-2/entries_total");
  double meals = delta("canteen-1/meal-1/meals_total");
  CHECK(meals > 0.7 * canteen_entries);
  CHECK(meals <= canteen_entries);
  double station_entries = delta("station-1/door-1/entries_total");
  double checkins = delta("station-1/checkin-1/checkins_total");
  CHECK(checkins > 0.85 * station_entries);
  CHECK(checkins <= station_entries);
}

TEST_CASE("simulator: equipment is used in proportion to the people present", "[simulator]") {
  const Series& s = Week();
  auto fitness = DoorOccupancy(s, "fit-1", {"gate"});
  double used_peak = 0, used_quiet = 0;
  int n_peak = 0, n_quiet = 0;
  for (size_t k = 0; k < fitness.size(); ++k) {
    int in_use = 0;
    for (int i = 1; i <= 8; ++i) in_use += std::get<bool>(s.by_key.at("fit-1/eq-" + std::to_string(i) + "/in_use")[k].value);
    REQUIRE(in_use <= std::max<int64_t>(fitness[k], 0));  // nobody present, nothing in use
    auto l = Local(kStartMs + int64_t(k) * kMinute);
    if (l.minute_of_day >= 18 * 60 + 30 && l.minute_of_day < 20 * 60) {
      used_peak += in_use;
      ++n_peak;
    } else if (l.minute_of_day >= 14 * 60 && l.minute_of_day < 16 * 60) {
      used_quiet += in_use;
      ++n_quiet;
    }
  }
  CHECK(used_peak / n_peak > 2 * used_quiet / n_quiet);
  CHECK(used_peak / n_peak > 3);
}

TEST_CASE("simulator: charge points follow the OCPP states; DC sessions are shorter", "[simulator]") {
  const Series& s = Week();
  const std::set<std::string> valid = {"Available", "Preparing", "Charging", "SuspendedEV", "SuspendedEVSE",
                                       "Finishing", "Reserved",  "Unavailable", "Faulted"};
  struct Cp {
    std::string sensor;
    int connectors;
  };
  std::map<std::string, std::vector<double>> durations;  // per sensor, minutes
  int faulted_samples = 0;
  for (const Cp& cp : {Cp{"cp-ac", 4}, Cp{"cp-dc", 2}}) {
    for (int n = 1; n <= cp.connectors; ++n) {
      std::string prefix = "ev-1/" + cp.sensor + "/connector/" + std::to_string(n) + "/";
      const auto& status = s.by_key.at(prefix + "status");
      const auto& power = s.by_key.at(prefix + "power_kw");
      const auto& energy = s.by_key.at(prefix + "energy_kwh");
      int64_t session_start = -1;
      std::string prev = "Available";
      for (size_t k = 0; k < status.size(); ++k) {
        const std::string& st = std::get<std::string>(status[k].value);
        float kw = std::get<float>(power[k].value);
        REQUIRE(valid.count(st) == 1);
        if (st == "Charging") {
          REQUIRE(kw > 0);
          REQUIRE(kw <= (cp.sensor == "cp-dc" ? 60.0f : 7.0f));
        } else {
          REQUIRE(kw == 0.0f);
        }
        if (k > 0) {
          double e0 = std::get<double>(energy[k - 1].value), e1 = std::get<double>(energy[k].value);
          REQUIRE(e1 >= e0);
          if (st != "Charging") REQUIRE(e1 == e0);
        }
        if (st == "Faulted") ++faulted_samples;
        if (st == "Preparing" && prev != "Preparing") {
          REQUIRE(prev == "Available");
          session_start = int64_t(k);
        }
        if (st == "Charging") REQUIRE((prev == "Preparing" || prev == "Charging"));
        if (st == "SuspendedEV") REQUIRE((prev == "Charging" || prev == "SuspendedEV"));
        if (st == "Finishing") REQUIRE((prev == "Charging" || prev == "SuspendedEV" || prev == "Finishing"));
        if (st == "Available" && prev == "Finishing" && session_start >= 0) {
          durations[cp.sensor].push_back(double(int64_t(k) - session_start));
          session_start = -1;
        }
        if (st == "Faulted") session_start = -1;
        prev = st;
      }
    }
  }
  REQUIRE(durations["cp-ac"].size() >= 10);
  REQUIRE(durations["cp-dc"].size() >= 10);
  auto mean = [](const std::vector<double>& v) {
    double sum = 0;
    for (double x : v) sum += x;
    return sum / double(v.size());
  };
  double ac = mean(durations["cp-ac"]), dc = mean(durations["cp-dc"]);
  CHECK(dc < ac);
  CHECK(dc >= 20);
  CHECK(dc <= 70);
  CHECK(ac >= 60);
  CHECK(ac <= 250);
  for (double d : durations["cp-dc"]) CHECK(d <= 70);
  CHECK(faulted_samples < int(s.samples.size()));  // faults are occasional

  // Cars at the connectors are what the gate counts: entries minus exits = sessions.
  auto cars = DoorOccupancy(s, "ev-1", {"gate"});
  for (size_t k = 0; k < cars.size(); k += 37) {
    int in_session = 0;
    for (const Cp& cp : {Cp{"cp-ac", 4}, Cp{"cp-dc", 2}}) {
      for (int n = 1; n <= cp.connectors; ++n) {
        const auto& st = std::get<std::string>(
            s.by_key.at("ev-1/" + cp.sensor + "/connector/" + std::to_string(n) + "/status")[k].value);
        in_session += st == "Preparing" || st == "Charging" || st == "SuspendedEV" || st == "Finishing";
      }
    }
    REQUIRE(cars[k] == in_session);
  }
}

TEST_CASE("simulator: a dropout silences a sensor for 3 to 30 samples", "[simulator]") {
  Config c = MakeConfig(5);
  c.simulator.dropout_probability = 0.01;
  Harness h(c);
  Series s = Collect(h.driver, 2000);
  int gaps = 0;
  for (const auto& [key, series] : s.by_key) {
    for (size_t i = 1; i < series.size(); ++i) {
      int64_t missing = (series[i].ts_ms - series[i - 1].ts_ms) / kMinute - 1;
      if (missing == 0) continue;
      ++gaps;
      CHECK(missing >= 3);
      CHECK(missing <= 30 + 30);  // two dropouts may follow each other
      if (key.ends_with("_total")) {
        CHECK(std::get<uint64_t>(series[i].value) >= std::get<uint64_t>(series[i - 1].value));
      }
    }
  }
  CHECK(gaps > 10);
  // A dropout takes a sensor's points away together and leaves its counting untouched:
  // the same run without dropouts has the same values where both report.
  Config quiet = MakeConfig(5);
  Harness q(quiet);
  auto full = Collect(q.driver, 2000);
  for (const auto& [key, series] : s.by_key) {
    const auto& ref = full.by_key.at(key);
    for (const auto& r : series) {
      REQUIRE(r.value == ref[size_t((r.ts_ms - kStartMs) / kMinute)].value);
    }
  }
}

TEST_CASE("simulator: MakeClock parses the local start and checks speed", "[simulator]") {
  Config c = MakeConfig();
  c.simulator.start = "2024-03-04T06:00";
  c.simulator.speed = 60;
  auto clock = SimulatorDriver::MakeClock(c);
  REQUIRE(clock.ok());
  CHECK(clock.value()->start_ms() == 1709503200000);  // 2024-03-03T22:00Z
  CHECK(clock.value()->speed() == 60);
  CHECK(clock.value()->NowMs() >= 1709503200000);

  c.facilities[0].timezone = "Europe/Berlin";  // the first facility's zone wins
  auto berlin = SimulatorDriver::MakeClock(c);
  REQUIRE(berlin.ok());
  CHECK(berlin.value()->start_ms() == 1709503200000 + 7 * 3600 * 1000);
  c.facilities[0].timezone = "";

  c.simulator.start = "";
  c.simulator.interval_s = 15;
  auto now = SimulatorDriver::MakeClock(c);
  REQUIRE(now.ok());
  CHECK(now.value()->start_ms() % 15000 == 0);

  c.simulator.start = "2024-13-04T06:00";
  CHECK(!SimulatorDriver::MakeClock(c).ok());
  c.simulator.start = "2023-02-29T06:00";
  CHECK(!SimulatorDriver::MakeClock(c).ok());
  c.simulator.start = "2024-02-29 06:00:30";  // a space and seconds are fine too
  auto leap = SimulatorDriver::MakeClock(c);
  REQUIRE(leap.ok());
  CHECK(leap.value()->start_ms() == 1709157630000);  // 2024-02-28T22:00:30Z
  c.simulator.start = "2024-03-04T06:00x";
  CHECK(!SimulatorDriver::MakeClock(c).ok());
  c.simulator.start = "yesterday";
  CHECK(!SimulatorDriver::MakeClock(c).ok());
  c.simulator.start = "2024-03-04T06:00";
  c.simulator.speed = 0;
  CHECK(!SimulatorDriver::MakeClock(c).ok());
}

TEST_CASE("simulator: an Asio run submits exactly max_samples batches on the grid", "[simulator]") {
  Config c = MakeConfig();
  c.simulator.max_samples = 25;
  boost::asio::io_context io;
  SimulatedClock clock(kStartMs, 1e6);  // a minute of simulated time every 60 us
  SimulatorDriver driver(io, c, clock);
  FakeSink sink;
  REQUIRE(driver.Start(sink).ok());
  io.run();  // returns once the driver has nothing more to do
  REQUIRE(sink.batches.size() == 25);
  size_t readings = 0;
  for (size_t k = 0; k < sink.batches.size(); ++k) {
    REQUIRE(!sink.batches[k].empty());
    readings += sink.batches[k].size();
    for (const auto& r : sink.batches[k]) REQUIRE(r.ts_ms == kStartMs + int64_t(k) * kMinute);
  }
  // The live run and SampleForTest agree.
  CHECK(SameBatch(sink.batches[24], driver.SampleForTest(24)));

  // Totals: every reading counted, under the local day of the sample.
  const auto& totals = driver.totals();
  size_t counted = 0;
  for (const auto& [facility, days] : totals) {
    REQUIRE(days.size() == 1);
    REQUIRE(days.begin()->first == "2024-03-04");
    counted += days.begin()->second.readings;
  }
  CHECK(counted == readings);
}

TEST_CASE("simulator: totals match the counters a run produced", "[simulator]") {
  Config c = MakeConfig(11);
  c.simulator.max_samples = 2 * kPerDay;
  boost::asio::io_context io;
  SimulatedClock clock(kStartMs, 1e9);
  SimulatorDriver driver(io, c, clock);
  FakeSink sink;
  REQUIRE(driver.Start(sink).ok());
  io.run();
  REQUIRE(sink.batches.size() == 2 * kPerDay);
  // Counter increments per facility and local day, from the readings themselves.
  std::map<std::string, uint64_t> last;
  std::map<std::string, std::map<std::string, uint64_t>> entries, meals;
  for (const auto& batch : sink.batches) {
    for (const auto& r : batch) {
      if (r.point != "entries_total" && r.point != "meals_total") continue;
      std::string key = r.facility_id + "/" + r.sensor_id + "/" + r.point;
      uint64_t v = std::get<uint64_t>(r.value);
      auto it = last.find(key);
      uint64_t inc = it == last.end() ? 0 : v - it->second;  // the first sample is at midnight
      last[key] = v;
      std::string day = gateway::FormatDayNumber(Local(r.ts_ms).day_number);
      (r.point == "entries_total" ? entries : meals)[r.facility_id][day] += inc;
    }
  }
  const auto& totals = driver.totals();
  for (const std::string day : {"2024-03-04", "2024-03-05"}) {
    CHECK(totals.at("canteen-1").at(day).entries == entries["canteen-1"][day]);
    CHECK(totals.at("canteen-1").at(day).meals == meals["canteen-1"][day]);
    CHECK(totals.at("fit-1").at(day).entries == entries["fit-1"][day]);
    CHECK(totals.at("ev-1").at(day).charging_sessions == entries["ev-1"][day]);
    CHECK(totals.at("canteen-1").at(day).entries > 50);
    CHECK(totals.at("fit-1").at(day).equipment_sessions > 10);
    CHECK(totals.at("station-1").at(day).checkins > 10);
    CHECK(totals.at("canteen-1").at(day).exits == totals.at("canteen-1").at(day).entries);
  }
}

TEST_CASE("simulator: kBusy makes the driver offer the same batch again, in order", "[simulator]") {
  Config c = MakeConfig();
  c.simulator.max_samples = 5;
  boost::asio::io_context io;
  SimulatedClock clock(kStartMs, 1e6);
  SimulatorDriver driver(io, c, clock);
  FakeSink sink;
  sink.script = {Status::Ok(), Status::Busy("behind"), Status::Busy("still behind")};
  REQUIRE(driver.Start(sink).ok());
  io.run();
  REQUIRE(sink.batches.size() == 5 + 2);
  CHECK(SameBatch(sink.batches[1], sink.batches[2]));
  CHECK(SameBatch(sink.batches[1], sink.batches[3]));
  std::vector<int64_t> ts;
  for (const auto& b : sink.batches) ts.push_back(b.front().ts_ms);
  CHECK(ts == std::vector<int64_t>{kStartMs, kStartMs + kMinute, kStartMs + kMinute, kStartMs + kMinute,
                                   kStartMs + 2 * kMinute, kStartMs + 3 * kMinute, kStartMs + 4 * kMinute});
}

TEST_CASE("simulator: kShutdown stops the driver", "[simulator]") {
  Config c = MakeConfig();
  c.simulator.max_samples = 100;
  boost::asio::io_context io;
  SimulatedClock clock(kStartMs, 1e6);
  SimulatorDriver driver(io, c, clock);
  FakeSink sink;
  sink.script = {Status::Ok(), Status::Shutdown("stopping")};
  REQUIRE(driver.Start(sink).ok());
  io.run();
  CHECK(sink.batches.size() == 2);
}

TEST_CASE("simulator: no Submit after Stop; late callbacks are harmless", "[simulator]") {
  Config c = MakeConfig();
  c.simulator.max_samples = 100;
  boost::asio::io_context io;
  SimulatedClock clock(kStartMs, 1e6);
  FakeSink sink;
  sink.hold = true;
  auto driver = std::make_unique<SimulatorDriver>(io, c, clock);
  REQUIRE(driver->Start(sink).ok());
  REQUIRE(sink.batches.size() == 1);  // one batch in flight, awaiting its answer
  driver->Stop();
  sink.held.front()(Status::Ok());
  io.run();
  CHECK(sink.batches.size() == 1);

  // A driver destroyed with its answer outstanding: the callback finds it gone.
  auto second = std::make_unique<SimulatorDriver>(io, c, clock);
  REQUIRE(second->Start(sink).ok());
  REQUIRE(sink.batches.size() == 2);
  second.reset();
  sink.held.back()(Status::Ok());
  io.restart();
  io.run();
  CHECK(sink.batches.size() == 2);
}

TEST_CASE("simulator: a clock started after simulator.start resumes on the same grid", "[simulator]") {
  Config c = MakeConfig(3);
  c.simulator.max_samples = 3;
  Harness reference(c);  // starts at simulator.start
  boost::asio::io_context io;
  SimulatedClock clock(kStartMs + 600 * kMinute + 30000, 1e6);  // mid-interval, 10 h later
  SimulatorDriver driver(io, c, clock);
  FakeSink sink;
  REQUIRE(driver.Start(sink).ok());
  io.run();
  REQUIRE(sink.batches.size() == 3);
  CHECK(sink.batches[0].front().ts_ms == kStartMs + 601 * kMinute);
  CHECK(SameBatch(sink.batches[0], reference.driver.SampleForTest(601)));
  CHECK(SameBatch(sink.batches[2], reference.driver.SampleForTest(603)));
}

TEST_CASE("simulator: patterns are quiet at night", "[simulator]") {
  gateway::LocalDateTime night;
  night.ms_of_day = 3 * 3600 * 1000;
  night.minute_of_day = 180;
  gateway::LocalDateTime lunch;
  lunch.ms_of_day = (11 * 60 + 45) * 60000;
  lunch.minute_of_day = 11 * 60 + 45;
  CHECK(simulator::PeopleArrivalRatePerHour(FacilityType::kCanteen, night) < 0.001);
  CHECK(simulator::PeopleArrivalRatePerHour(FacilityType::kCanteen, lunch) > 1.5);
  CHECK(simulator::ChargingArrivalPerHour(night, false) < simulator::ChargingArrivalPerHour(lunch, false));
  CHECK(simulator::ChargingArrivalPerHour(lunch, true) > simulator::ChargingArrivalPerHour(lunch, false));
}
