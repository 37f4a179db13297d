// bench_report: time to produce a one-year utilisation report for 20 facilities.
//
//   bench_report [dir] [days]     (default: a temp dir, 365 days)
//
// First builds a year of history the way the gateway does: 20 facilities (5 of each
// type; 76 sensors in all) sampled every 5 minutes, the rows of each simulated hour
// folded into the History and committed through the Outbox with the history's hook
// (synchronous=FULL, as shipped). Then times what `community-gateway report` does for
// the whole year and all facilities: open the file read-only, read the rollups, compute
// the figures (per day and over the year), and write CSV, JSON and HTML. Prints the
// sizes and times; peak RSS at the end.
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "report/figures.h"
#include "report/writers.h"
#include "store/history.h"
#include "store/migrations.h"
#include "store/outbox.h"

using namespace gateway;
namespace fs = std::filesystem;
using Clk = std::chrono::steady_clock;

namespace {

double PeakRssMb() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_maxrss) / 1024.0;
}

double Seconds(Clk::time_point a) { return std::chrono::duration<double>(Clk::now() - a).count(); }

OpeningPeriod Period(int open_h, int close_h) {
  OpeningPeriod p;
  p.open_minute = open_h * 60;
  p.close_minute = close_h * 60;
  return p;
}

Config MakeConfig(const std::string& dir) {
  Config c;
  c.group_id = "bench";
  c.edge_node_id = "bench";
  c.data_dir = dir;
  c.timezone = "Asia/Shanghai";
  auto sensor = [](const std::string& id, SensorKind kind, uint32_t connectors = 0) {
    SensorConfig s;
    s.id = id;
    s.kind = kind;
    s.driver = "bench";
    s.silent_after_s = 900;
    s.connectors = connectors;
    return s;
  };
  for (int i = 0; i < 5; ++i) {
    FacilityConfig f;
    f.id = "canteen-" + std::to_string(i);
    f.name = "长者食堂 Canteen " + std::to_string(i);
    f.type = FacilityType::kCanteen;
    f.capacity = 60;
    f.opening_hours = {Period(10, 14), Period(16, 19)};
    f.sensors = {sensor("door-1", SensorKind::kDoorCounter), sensor("meal-1", SensorKind::kMealTerminal)};
    c.facilities.push_back(f);
    f.id = "station-" + std::to_string(i);
    f.name = "日间照料中心 Day-care " + std::to_string(i);
    f.type = FacilityType::kElderlyStation;
    f.capacity = 40;
    f.opening_hours = {Period(8, 18)};
    f.sensors = {sensor("door-1", SensorKind::kDoorCounter), sensor("checkin-1", SensorKind::kCheckinTerminal)};
    c.facilities.push_back(f);
    f.id = "charging-" + std::to_string(i);
    f.name = "充电站 Charging " + std::to_string(i);
    f.type = FacilityType::kChargingStation;
    f.capacity = 0;
    f.opening_hours = {};
    f.sensors = {sensor("cp-1", SensorKind::kChargePoint, 2), sensor("cp-2", SensorKind::kChargePoint, 2)};
    c.facilities.push_back(f);
    f.id = "fitness-" + std::to_string(i);
    f.name = "健身点 Fitness " + std::to_string(i);
    f.type = FacilityType::kFitnessPoint;
    f.capacity = 30;
    f.opening_hours = {Period(6, 21)};
    f.sensors = {sensor("gate-1", SensorKind::kDoorCounter)};
    for (int e = 0; e < 8; ++e) f.sensors.push_back(sensor("equip-" + std::to_string(e), SensorKind::kEquipment));
    c.facilities.push_back(f);
  }
  return c;
}

Reading R(const std::string& f, const std::string& s, const std::string& p, Value v, int64_t ts) {
  return Reading{f, s, p, std::move(v), ts, Quality::kGood};
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  std::string dir = argc > 1 ? argv[1] : (fs::temp_directory_path() / "bench-report").string();
  const int days = argc > 2 ? std::atoi(argv[2]) : 365;
  fs::remove_all(dir);
  Config config = MakeConfig(dir);
  auto outbox = std::move(store::Outbox::Open(dir, config.buffer, SystemClock::Instance()).value());
  auto history = std::move(store::History::Create(config).value());
  history->Load(outbox->db());
  auto tz = TimeZone::Load("Asia/Shanghai").value();
  const int64_t start = tz.FromLocal(2025, 1, 1, 0);
  const int64_t step = 5 * 60000;

  // -- a year of history ----------------------------------------------------------------
  auto t0 = Clk::now();
  std::vector<int64_t> visits(config.facilities.size(), 0);
  std::vector<uint64_t> counters(config.facilities.size(), 0);
  std::vector<double> energy(config.facilities.size() * 4, 1000.0);
  uint64_t rows_total = 0;
  const store::Outbox::TxnHook hook = [&](store::SqliteDb& db) { return history->WriteInTxn(db); };
  std::vector<Reading> batch;
  for (int64_t t = start; t < start + int64_t(days) * 86'400'000; t += step) {
    LocalDateTime l = tz.ToLocal(t);
    if (l.ms_of_day == 0) {
      std::fill(visits.begin(), visits.end(), 0);
    }
    const double m = l.minute_of_day;
    for (size_t i = 0; i < config.facilities.size(); ++i) {
      const FacilityConfig& f = config.facilities[i];
      // A smooth daily curve with a weekly wobble: enough variety for the writers.
      const double curve = std::max(0.0, std::sin((m - 360.0) / 1080.0 * M_PI)) * (1.0 + 0.2 * std::sin(double(l.day_number)));
      const uint32_t occ = uint32_t(std::lround(curve * (f.capacity ? f.capacity : 4) * 0.8));
      for (const auto& s : f.sensors) {
        if (s.kind == SensorKind::kChargePoint) continue;
        batch.push_back(R(f.id, s.id, "value", Value(counters[i]), t));
      }
      batch.push_back(R(f.id, "", "occupancy/current", Value(occ), t));
      if (occ > 0) visits[i] += occ / 4 + 1;
      batch.push_back(R(f.id, "", "visits/entries", Value(uint64_t(visits[i])), t));
      if (f.type == FacilityType::kCanteen) batch.push_back(R(f.id, "", "meals/served", Value(uint32_t(visits[i])), t));
      if (f.type == FacilityType::kElderlyStation) batch.push_back(R(f.id, "", "checkins/count", Value(uint32_t(visits[i])), t));
      if (f.type == FacilityType::kChargingStation) {
        for (int n = 1; n <= 4; ++n) {
          batch.push_back(R(f.id, n <= 2 ? "cp-1" : "cp-2", "heartbeat", Value(true), t));
          const bool busy = (l.minute_of_day / 90 + n) % 3 == 0;
          batch.push_back(R(f.id, "", "connectors/" + std::to_string(n) + "/status",
                            Value(std::string(busy ? "Charging" : "Available")), t));
          double& e = energy[i * 4 + size_t(n - 1)];
          if (busy) e += 7.0 * 5 / 60;
          batch.push_back(R(f.id, "", "connectors/" + std::to_string(n) + "/energy_kwh", Value(e), t));
        }
      }
      if (f.type == FacilityType::kFitnessPoint) {
        for (int e = 0; e < 8; ++e) {
          batch.push_back(R(f.id, "", "equipment/equip-" + std::to_string(e) + "/in_use",
                            Value(bool(occ > uint32_t(e * 3))), t));
        }
      }
      ++counters[i];
    }
    if ((t - start + step) % 3'600'000 == 0) {  // one commit per simulated hour
      history->Ingest(batch, t);
      // Only the history is of interest here: the readings themselves are not stored.
      Status s = outbox->Commit({}, nullptr, &hook);
      if (!s.ok()) {
        std::fprintf(stderr, "commit: %s\n", s.ToString().c_str());
        return 1;
      }
      history->Committed();
      rows_total += batch.size();
      batch.clear();
    }
  }
  const double build_s = Seconds(t0);
  outbox.reset();
  history.reset();
  const auto file_bytes = fs::file_size(dir + "/buffer.db") +
                          (fs::exists(dir + "/buffer.db-wal") ? fs::file_size(dir + "/buffer.db-wal") : 0);
  std::printf("history: %d days x %zu facilities, %llu rows folded in %.1f s (%.0f rows/s), buffer.db %.1f MB\n",
              days, config.facilities.size(), (unsigned long long)rows_total, build_s, double(rows_total) / build_s,
              double(file_bytes) / 1e6);
  std::printf("peak RSS after building the history: %.1f MB\n", PeakRssMb());

  // -- the report ------------------------------------------------------------------------
  const int64_t day_from = tz.ToLocal(start).day_number;
  const int64_t day_to = day_from + days - 1;
  for (int run = 0; run < 3; ++run) {
    auto r0 = Clk::now();
    store::SqliteDb db;
    if (!db.Open(dir + "/buffer.db", true).ok()) return 1;
    auto data = report::BuildReport(config, db, day_from, day_to, {});
    if (!data.ok()) {
      std::fprintf(stderr, "report: %s\n", data.status().ToString().c_str());
      return 1;
    }
    const double read_s = Seconds(r0);
    if (run == 0) std::printf("peak RSS after reading and computing the figures: %.1f MB\n", PeakRssMb());
    auto c0 = Clk::now();
    std::string csv = report::WriteCsv(config, data.value());
    const double csv_s = Seconds(c0);
    auto j0 = Clk::now();
    std::string json = report::WriteJson(config, data.value(), "bench");
    const double json_s = Seconds(j0);
    auto h0 = Clk::now();
    std::string html = report::WriteHtml(config, data.value(), "bench");
    const double html_s = Seconds(h0);
    std::printf("report run %d: read+figures %.3f s; csv %.3f s (%.1f MB); json %.3f s (%.1f MB); "
                "html %.3f s (%.1f MB); total %.3f s\n",
                run + 1, read_s, csv_s, double(csv.size()) / 1e6, json_s, double(json.size()) / 1e6, html_s,
                double(html.size()) / 1e6, read_s + csv_s + json_s + html_s);
  }
  std::printf("peak RSS at the end (after the writers): %.1f MB\n", PeakRssMb());
  fs::remove_all(dir);
  return 0;
}
