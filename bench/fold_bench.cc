// bench_fold: the cost of folding readings into facility metrics and the hourly
// history (FacilityModel::Process + History::Ingest), without SQLite, so that the
// event-time model can be compared with the code before it (bench/RESULTS.md, "Event-
// time folding"). Built against the interfaces both versions share (Create, Process
// with two arguments, Ingest, Committed), so the same file measures both.
//
//   bench_fold [days] [repeats] [peak_minutes]   (default: 2 days, 3 repeats, 10 min)
//
// Loads:
// - field: four facilities as in the field (a canteen's door counter every 1 s and meal
//   terminal every 5 s, a station's camera and check-in terminal every 5 s, two fitness
//   pieces every 5 s, a two-connector charge point every 10 s), `days` of it. Folded
//   in batches of 2 readings ("reference": a commit per sample, as at real rates) and
//   of 1,000 ("backlog": a drain after an outage).
// - r1000: the peak rate of bench/RESULTS.md (flash wear): 50 canteens with 10 door
//   counters each, every counter a sample a second (1,000 raw readings/s), folded in
//   batches of 20 (a 20 ms group commit at that rate), `peak_minutes` of it.
// Each load is folded three ways, each on a fresh model and history: the model alone
// (Process), the history alone (Ingest + Committed of the rows the model made, made
// beforehand and not timed) and both, as the pipeline does in a commit. Prints raw
// readings folded per second of this thread's CPU time (the figure to compare on a
// shared machine) and per second of wall time.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/facility_model.h"
#include "store/history.h"

using namespace gateway;

namespace {

SensorConfig S(const std::string& id, SensorKind k, uint32_t connectors = 0) {
  SensorConfig s;
  s.id = id;
  s.kind = k;
  s.driver = "bench";
  s.connectors = connectors;
  return s;
}

FacilityConfig F(const std::string& id, FacilityType t, uint32_t cap, std::vector<SensorConfig> s) {
  FacilityConfig fc;
  fc.id = id;
  fc.type = t;
  fc.capacity = cap;
  fc.sensors = std::move(s);
  return fc;
}

Config FieldConfig() {
  Config c;
  c.timezone = "Asia/Shanghai";
  c.facilities = {F("canteen", FacilityType::kCanteen, 60, {S("door", SensorKind::kDoorCounter), S("meal", SensorKind::kMealTerminal)}),
                  F("station", FacilityType::kElderlyStation, 30, {S("cam", SensorKind::kOccupancy), S("checkin", SensorKind::kCheckinTerminal)}),
                  F("fitness", FacilityType::kFitnessPoint, 0, {S("bike", SensorKind::kEquipment), S("rower", SensorKind::kEquipment)}),
                  F("charging", FacilityType::kChargingStation, 0, {S("cp", SensorKind::kChargePoint, 2)})};
  return c;
}

constexpr int kPeakFacilities = 50, kPeakCounters = 10;

Config PeakConfig() {
  Config c;
  c.timezone = "Asia/Shanghai";
  for (int f = 0; f < kPeakFacilities; ++f) {
    std::vector<SensorConfig> doors;
    for (int d = 0; d < kPeakCounters; ++d) doors.push_back(S("door-" + std::to_string(d), SensorKind::kDoorCounter));
    c.facilities.push_back(F("canteen-" + std::to_string(f), FacilityType::kCanteen, 200, std::move(doors)));
  }
  return c;
}

Reading R(const std::string& f, const std::string& s, const std::string& p, Value v, int64_t ts) {
  Reading r;
  r.facility_id = f;
  r.sensor_id = s;
  r.point = p;
  r.value = std::move(v);
  r.ts_ms = ts;
  return r;
}

std::vector<Reading> FieldLoad(int64_t start, int days) {
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

// 50 x 10 door counters, a sample (entries and exits) every second each; the counters
// are staggered over the second, as independent devices are.
std::vector<Reading> PeakLoad(int64_t start, int minutes) {
  std::vector<Reading> out;
  std::vector<uint64_t> in(kPeakFacilities * kPeakCounters, 0), outs(in.size(), 0);
  std::vector<std::string> fid, sid;
  for (int f = 0; f < kPeakFacilities; ++f) fid.push_back("canteen-" + std::to_string(f));
  for (int d = 0; d < kPeakCounters; ++d) sid.push_back("door-" + std::to_string(d));
  for (int64_t s = 0; s < int64_t(minutes) * 60; ++s) {
    for (int f = 0; f < kPeakFacilities; ++f) {
      for (int d = 0; d < kPeakCounters; ++d) {
        const size_t i = size_t(f * kPeakCounters + d);
        const int64_t t = start + s * 1000 + int64_t(i) * 1000 / int64_t(in.size());
        in[i] += uint64_t((s + d) % 6 == 0);
        outs[i] += uint64_t((s + d) % 6 == 3 && outs[i] < in[i]);
        out.push_back(R(fid[size_t(f)], sid[size_t(d)], "entries_total", in[i], t));
        out.push_back(R(fid[size_t(f)], sid[size_t(d)], "exits_total", outs[i], t));
      }
    }
  }
  return out;
}

double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

struct Timing {
  double cpu = 0, wall = 0;
};

enum class Mode { kModel, kHistory, kBoth };

// The rows each batch commits (raw + what the model derived), for the history alone.
// Each with the clock the pipeline would pass (the batch's last raw reading, as below).
struct Commit {
  int64_t now_ms;
  std::vector<Reading> rows;
};
std::vector<Commit> CommitRows(const Config& config, const std::vector<Reading>& load, size_t batch) {
  auto model = std::move(FacilityModel::Create(config).value());
  std::vector<Commit> out;
  std::vector<Reading> raw, rows;
  for (size_t i = 0; i < load.size(); i += batch) {
    raw.assign(load.begin() + long(i), load.begin() + long(std::min(load.size(), i + batch)));
    rows.clear();
    model->Process(raw, rows);
    rows.insert(rows.begin(), raw.begin(), raw.end());
    out.push_back({raw.back().ts_ms, rows});
  }
  return out;
}

Timing Fold(const Config& config, const std::vector<Reading>& load, size_t batch, Mode mode) {
  auto model = std::move(FacilityModel::Create(config).value());
  auto history = std::move(store::History::Create(config).value());
  std::vector<Commit> prepared;
  if (mode == Mode::kHistory) prepared = CommitRows(config, load, batch);
  const auto w0 = std::chrono::steady_clock::now();
  const double c0 = CpuSeconds();
  if (mode == Mode::kHistory) {
    for (const Commit& c : prepared) {
      history->Ingest(c.rows, c.now_ms);
      history->Committed();
    }
  } else {
    std::vector<Reading> raw, rows;
    for (size_t i = 0; i < load.size(); i += batch) {
      raw.assign(load.begin() + long(i), load.begin() + long(std::min(load.size(), i + batch)));
      rows.clear();
      model->Process(raw, rows);
      if (mode == Mode::kBoth) {
        rows.insert(rows.begin(), raw.begin(), raw.end());
        history->Ingest(rows, raw.back().ts_ms);
        history->Committed();
      }
    }
  }
  Timing t;
  t.cpu = CpuSeconds() - c0;
  t.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  const int days = argc > 1 ? std::atoi(argv[1]) : 2;
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 3;
  const int peak_minutes = argc > 3 ? std::atoi(argv[3]) : 10;
  const int64_t start = 1772380800000;  // 2026-03-02 00:00 Asia/Shanghai
  struct Load {
    const char* name;
    Config config;
    std::vector<Reading> readings;
    size_t batch;
    double seconds;  // of readings' time
  };
  const Config field = FieldConfig();
  std::vector<Reading> field_load = FieldLoad(start, days);
  std::vector<Load> loads;
  loads.push_back({"reference", field, field_load, 2, days * 86400.0});
  loads.push_back({"backlog", field, std::move(field_load), 1000, days * 86400.0});
  // The peak starts at 11:00, in a canteen's opening hours.
  loads.push_back({"r1000", PeakConfig(), PeakLoad(start + 11 * 3'600'000LL, peak_minutes), 20, peak_minutes * 60.0});
  for (const Load& l : loads) {
    std::printf("load %-9s: %zu raw readings (%.1f readings/s of readings' time), batches of %zu\n", l.name,
                l.readings.size(), double(l.readings.size()) / l.seconds, l.batch);
  }
  for (const Load& l : loads) {
    for (Mode mode : {Mode::kModel, Mode::kHistory, Mode::kBoth}) {
      const char* m = mode == Mode::kModel ? "model" : mode == Mode::kHistory ? "history" : "both";
      for (int r = 0; r < repeats; ++r) {
        const Timing t = Fold(l.config, l.readings, l.batch, mode);
        std::printf("%-9s %-7s run %d: cpu %.3f s, %.0f readings/s folded; wall %.3f s, %.0f readings/s\n", l.name,
                    m, r + 1, t.cpu, double(l.readings.size()) / t.cpu, t.wall, double(l.readings.size()) / t.wall);
        std::fflush(stdout);
      }
    }
  }
  return 0;
}
