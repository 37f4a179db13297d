// Reports against the simulator's ground truth, and the three writers.
//
// The simulator is deterministic and says what it generated per facility and local day
// (entries, meals, check-ins, charging sessions, equipment sessions). Its samples go
// through the facility model and the history exactly as the pipeline sends them (raw
// and derived rows, one commit per batch), and the report's figures must equal the
// simulator's counts, day by day.
#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "core/facility_model.h"
#include "report/figures.h"
#include "report/writers.h"
#include "simulator/facility_patterns.h"
#include "store/history.h"
#include "store/outbox.h"

using namespace gateway;
namespace fs = std::filesystem;

namespace {

struct SimRun {
  std::string dir;
  Config config;
  std::unique_ptr<store::Outbox> outbox;
  // facility -> local day -> what the simulator generated
  std::map<std::string, std::map<int64_t, simulator::FacilityEvents>> truth;
  int64_t first_day = 0, last_day = 0;

  SimRun(double dropout, int days) {
    dir = fs::temp_directory_path() / ("report-sim-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    fs::remove_all(dir);
    ConfigLoad load = LoadConfig(std::string(TEST_SOURCE_DIR) + "/config/demo.yaml");
    REQUIRE(load.ok());
    config = load.config;
    config.data_dir = dir;
    config.simulator.interval_s = 60;
    config.simulator.dropout_probability = dropout;
    outbox = std::move(store::Outbox::Open(dir, config.buffer, SystemClock::Instance()).value());
    auto model = std::move(FacilityModel::Create(config).value());
    auto history = std::move(store::History::Create(config).value());
    REQUIRE(history->Load(outbox->db()).ok());
    simulator::SimulationOptions opt;
    opt.seed = config.simulator.seed;
    opt.interval_ms = 60000;
    opt.dropout_probability = dropout;
    auto sim = std::move(simulator::Simulation::Create(config, opt).value());
    auto tz = TimeZone::Load("Asia/Shanghai").value();
    const int64_t start = tz.FromLocal(2026, 3, 2, 0);  // a Monday
    first_day = tz.ToLocal(start).day_number;
    last_day = first_day + days - 1;

    std::vector<Reading> pending;
    model->EmitAll(start - 1, pending);
    const store::Outbox::TxnHook hook = [&](store::SqliteDb& db) { return history->WriteInTxn(db); };
    auto commit = [&](int64_t now) {
      history->Ingest(pending, now);
      REQUIRE(outbox->Commit(pending, nullptr, &hook).ok());
      history->Committed();
      pending.clear();
    };
    const int64_t samples = int64_t(days) * 1440;
    for (int64_t k = 0; k < samples; ++k) {
      const int64_t t = start + k * 60000;
      std::vector<Reading> raw;
      std::vector<simulator::FacilityStepResult> results;
      sim->Step(t, raw, &results);
      for (const auto& r : results) {
        auto& e = truth[sim->facility_id(r.facility_index)][r.local_day];
        e.entries += r.events.entries;
        e.meals += r.events.meals;
        e.checkins += r.events.checkins;
        e.charging_sessions += r.events.charging_sessions;
        e.equipment_sessions += r.events.equipment_sessions;
        e.feedback += r.events.feedback;
      }
      std::vector<Reading> derived;
      model->Process(raw, derived);
      model->Tick(t, derived);
      for (auto& r : raw) pending.push_back(std::move(r));
      for (auto& r : derived) pending.push_back(std::move(r));
      if (k % 30 == 29) commit(t);  // a commit every 30 samples
    }
    commit(start + samples * 60000);
    for (const auto& f : config.facilities) history->AdvanceTo(f.id, start + samples * 60000);
    commit(start + samples * 60000);
  }
  ~SimRun() {
    outbox.reset();
    fs::remove_all(dir);
  }
  static inline int n = 0;
};

}  // namespace

TEST_CASE("the report's totals equal what the simulator generated, day by day", "[report][simulator]") {
  SimRun run(0.0, 5);
  auto data = report::BuildReport(run.config, run.outbox->db(), run.first_day, run.last_day, {});
  REQUIRE(data.ok());
  REQUIRE(data->facilities.size() == 4);
  uint64_t checked = 0, feedback = 0;
  for (const auto& ff : data->facilities) {
    const auto& truth = run.truth[ff.config->id];
    for (const auto& d : ff.days) {
      INFO(ff.config->id << " " << FormatDayNumber(d.day_from));
      const auto& e = truth.at(d.day_from);
      CHECK(uint64_t(d.sum.entries) == e.entries);
      CHECK(uint64_t(d.sum.meals) == e.meals);
      CHECK(uint64_t(d.sum.checkins) == e.checkins);
      CHECK(uint64_t(d.sum.sessions) == e.charging_sessions);
      CHECK(uint64_t(d.EquipmentSessions()) == e.equipment_sessions);
      // Feedback presses (the demo canteen's terminal): a sample a minute, so the repeat
      // bound of counters (ceil(60 s / 5 s) = 12 presses of one button per sample) is far
      // above what the simulated visitors press.
      if (auto sat = report::SatisfactionOf(*ff.config, d)) {
        CHECK(sat->responses == e.feedback);
        feedback += e.feedback;
      }
      // Without dropouts every sensor reported all the time: the data is complete.
      if (d.Completeness()) CHECK(*d.Completeness() == Approx(1.0));
      checked += e.entries + e.meals + e.checkins + e.charging_sessions + e.equipment_sessions;
    }
  }
  CHECK(checked > 1000);  // the days were not empty
  CHECK(feedback > 100);
  // The day-care centre is closed on Sunday (2026-03-08 is outside; 03-02..03-06 are
  // weekdays): 9.5 opening hours a day.
  for (const auto& ff : data->facilities) {
    if (ff.config->id == "daycare-1") CHECK(ff.total.OpeningHours() == Approx(5 * 9.5));
    if (ff.config->id == "canteen-1") CHECK(ff.total.OpeningHours() == Approx(5 * 5.5));
    if (ff.config->id == "charging-1") CHECK(ff.total.OpeningHours() == Approx(5 * 24.0));
  }
}

TEST_CASE("with sensor dropouts the counts over the range still equal the simulator's", "[report][simulator]") {
  SimRun run(0.01, 3);
  auto data = report::BuildReport(run.config, run.outbox->db(), run.first_day, run.last_day, {});
  REQUIRE(data.ok());
  bool incomplete = false;
  for (const auto& ff : data->facilities) {
    uint64_t entries = 0, meals = 0, checkins = 0;
    for (const auto& [day, e] : run.truth[ff.config->id]) {
      entries += e.entries;
      meals += e.meals;
      checkins += e.checkins;
    }
    INFO(ff.config->id);
    // Counters catch up when a silent sensor reports again (the facilities are closed
    // at midnight, so nothing moves between days).
    if (ff.config->id != "charging-1") CHECK(uint64_t(ff.total.sum.entries) == entries);
    CHECK(uint64_t(ff.total.sum.meals) == meals);
    CHECK(uint64_t(ff.total.sum.checkins) == checkins);
    if (ff.total.Completeness() && *ff.total.Completeness() < 0.999) incomplete = true;
  }
  // ... and the silences show in the completeness figure.
  CHECK(incomplete);
}

TEST_CASE("the writers: CSV with BOM and bilingual headings, JSON schema, HTML sections", "[report]") {
  SimRun run(0.0, 2);
  auto data = report::BuildReport(run.config, run.outbox->db(), run.first_day, run.last_day, {});
  REQUIRE(data.ok());

  std::string csv = report::WriteCsv(run.config, data.value());
  REQUIRE(csv.rfind("\xEF\xBB\xBF", 0) == 0);
  CHECK(csv.find("设施编号 Facility ID") != std::string::npos);
  CHECK(csv.find("利用率(%) Utilisation (%)") != std::string::npos);
  size_t lines = 0;
  for (char c : csv) lines += c == '\n';
  CHECK(lines == 1 + 4 * (2 + 1));  // heading, then per facility 2 days and a total
  CHECK(csv.find("\"华漕长者食堂 Huacao Elderly Canteen\"") == std::string::npos);  // no needless quotes

  std::string json = report::WriteJson(run.config, data.value(), "2026-03-04T00:00:00Z");
  auto j = nlohmann::json::parse(json);
  CHECK(j["schema"] == "community-gateway/report/v1");
  CHECK(j["from"] == "2026-03-02");
  CHECK(j["to"] == "2026-03-03");
  REQUIRE(j["facilities"].size() == 4);
  uint64_t visits = 0;
  for (const auto& f : j["facilities"]) {
    CHECK(f["days"].size() == 2);
    CHECK(f["total"]["hourly_mean_occupancy"].size() == 24);
    if (!f["total"]["visits"].is_null()) visits += f["total"]["visits"].get<uint64_t>();
  }
  CHECK(j["town"]["visits"].get<uint64_t>() == visits);
  CHECK(j["facilities"][2]["total"].contains("charging"));
  CHECK(j["facilities"][3]["total"]["fitness"]["equipment"].size() == 4);

  std::string html = report::WriteHtml(run.config, data.value(), "2026-03-04T00:00:00Z");
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("http://") == html.find("http://www.w3.org/2000/svg"));  // only the SVG namespace
  CHECK(html.find("id=\"town-summary\"") != std::string::npos);
  for (const char* id : {"canteen-1", "daycare-1", "charging-1", "fitness-1"}) {
    CHECK(html.find(std::string("id=\"facility-") + id + "\"") != std::string::npos);
  }
  size_t svgs = 0;
  for (size_t p = html.find("<svg"); p != std::string::npos; p = html.find("<svg", p + 1)) ++svgs;
  // Hourly profile and daily trend per facility, and the share per button of the
  // canteen's feedback terminal.
  CHECK(svgs == 9);
  CHECK(html.find("id=\"feedback-canteen-1\"") != std::string::npos);
  // The same input gives the same bytes (reproducible reports).
  CHECK(html == report::WriteHtml(run.config, data.value(), "2026-03-04T00:00:00Z"));
}

TEST_CASE("report requests with bad dates, unknown facilities or no data are refused clearly", "[report]") {
  SimRun run(0.0, 1);
  auto bad = report::BuildReport(run.config, run.outbox->db(), run.first_day, run.first_day, {"nope"});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("unknown facility 'nope'") != std::string::npos);
  CHECK(bad.status().message().find("canteen-1") != std::string::npos);
  auto reversed = report::BuildReport(run.config, run.outbox->db(), run.first_day, run.first_day - 1, {});
  REQUIRE_FALSE(reversed.ok());
  CHECK(reversed.status().message().find("before --from") != std::string::npos);
  auto empty = report::BuildReport(run.config, run.outbox->db(), run.first_day + 100, run.first_day + 110, {});
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.status().message().find("no utilisation history") != std::string::npos);
  // One facility only.
  auto one = report::BuildReport(run.config, run.outbox->db(), run.first_day, run.first_day, {"fitness-1"});
  REQUIRE(one.ok());
  REQUIRE(one->facilities.size() == 1);
  CHECK(one->facilities[0].config->id == "fitness-1");
}
