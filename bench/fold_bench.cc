// bench_fold: the cost of folding readings into facility metrics and the hourly
// history (FacilityModel::Process + History::Ingest), without SQLite, so that the
// event-time model can be compared with the code before it in one run.
//
//   bench_fold [days] [repeats]     (default: 2 days, 3 repeats)
//
// Load: four facilities as in the field (a canteen's door counter every 1 s and meal
// terminal every 5 s, a station's camera and check-in terminal every 5 s, two fitness
// pieces every 5 s, a two-connector charge point every 10 s), i.e. ~1.9 readings/s,
// days of it. Folded twice: in batches of 2 readings (a commit per sample, as at real
// rates) and of 1,000 (a backlog). Prints raw readings folded per second of CPU.
// Built against the interfaces both versions share, so the same file measures both.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/facility_model.h"
#include "store/history.h"

using namespace gateway;
using Clk = std::chrono::steady_clock;

namespace {

SensorConfig S(const std::string& id, SensorKind k, uint32_t connectors = 0) {
  SensorConfig s;
  s.id = id;
  s.kind = k;
  s.driver = "bench";
  s.connectors = connectors;
  return s;
}

Config MakeConfig() {
  Config c;
  c.timezone = "Asia/Shanghai";
  auto f = [](const char* id, FacilityType t, uint32_t cap, std::vector<SensorConfig> s) {
    FacilityConfig fc;
    fc.id = id;
    fc.type = t;
    fc.capacity = cap;
    fc.sensors = std::move(s);
    return fc;
  };
  c.facilities = {f("canteen", FacilityType::kCanteen, 60, {S("door", SensorKind::kDoorCounter), S("meal", SensorKind::kMealTerminal)}),
                  f("station", FacilityType::kElderlyStation, 30, {S("cam", SensorKind::kOccupancy), S("checkin", SensorKind::kCheckinTerminal)}),
                  f("fitness", FacilityType::kFitnessPoint, 0, {S("bike", SensorKind::kEquipment), S("rower", SensorKind::kEquipment)}),
                  f("charging", FacilityType::kChargingStation, 0, {S("cp", SensorKind::kChargePoint, 2)})};
  return c;
}

Reading R(const char* f, const char* s, const std::string& p, Value v, int64_t ts) {
  Reading r;
  r.facility_id = f;
  r.sensor_id = s;
  r.point = p;
  r.value = std::move(v);
  r.ts_ms = ts;
  return r;
}

std::vector<Reading> MakeLoad(int64_t start, int days) {
  std::vector<Reading> out;
  uint64_t in = 0, outs = 0, meals = 0, checkins = 0;
  double energy[2] = {0, 0};
  for (int64_t t = start; t < start + days * 86'400'000LL; t += 1000) {
    const int64_t s = (t - start) / 1000;
    in += uint64_t(s % 7 == 0);
    outs += uint64_t(s % 7 == 3 && outs < in);
    out.push_back(R("canteen", "door", "entries_total", in, t));
    out.push_back(R("canteen", "door", "exits_total", outs, t));
    if (s % 5 == 0) {
      meals += uint64_t(s % 15 == 0);
      checkins += uint64_t(s % 25 == 0);
      out.push_back(R("canteen", "meal", "meals_total", meals, t));
      out.push_back(R("station", "cam", "occupancy", int64_t(s / 60 % 25), t));
      out.push_back(R("station", "checkin", "checkins_total", checkins, t));
      out.push_back(R("fitness", "bike", "in_use", bool(s / 300 % 3 == 0), t));
      out.push_back(R("fitness", "rower", "in_use", bool(s / 420 % 2 == 0), t));
    }
    if (s % 10 == 0) {
      for (int c = 0; c < 2; ++c) {
        const bool charging = (s / 3600 + c) % 3 == 0;
        if (charging) energy[c] += 0.02;
        const std::string p = "connector/" + std::to_string(c + 1) + "/";
        out.push_back(R("charging", "cp", p + "status", std::string(charging ? "Charging" : "Available"), t));
        out.push_back(R("charging", "cp", p + "energy_kwh", energy[c], t));
      }
    }
  }
  return out;
}

double Fold(const Config& config, const std::vector<Reading>& load, size_t batch) {
  auto model = std::move(FacilityModel::Create(config).value());
  auto history = std::move(store::History::Create(config).value());
  const auto t0 = Clk::now();
  std::vector<Reading> raw, rows;
  for (size_t i = 0; i < load.size(); i += batch) {
    raw.assign(load.begin() + long(i), load.begin() + long(std::min(load.size(), i + batch)));
    rows.clear();
    model->Process(raw, rows);
    rows.insert(rows.begin(), raw.begin(), raw.end());
    history->Ingest(rows, raw.back().ts_ms);
    history->Committed();
  }
  return std::chrono::duration<double>(Clk::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  const int days = argc > 1 ? std::atoi(argv[1]) : 2;
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 3;
  const Config config = MakeConfig();
  const int64_t start = 1772380800000;  // 2026-03-02 00:00 Asia/Shanghai
  const std::vector<Reading> load = MakeLoad(start, days);
  std::printf("bench_fold: %zu raw readings over %d days (%.2f readings/s)\n", load.size(), days,
              double(load.size()) / (days * 86400.0));
  for (size_t batch : {size_t(2), size_t(1000)}) {
    for (int r = 0; r < repeats; ++r) {
      const double s = Fold(config, load, batch);
      std::printf("batch %4zu  run %d: %.2f s, %.0f readings/s folded\n", batch, r + 1, s, double(load.size()) / s);
    }
  }
  return 0;
}
