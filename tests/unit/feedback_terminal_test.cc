// Feedback terminals (residents' satisfaction): the facility model's counting of presses
// and counters, the repeat rule, the figures' definitions, the config's checks, and the
// figures through the history into reports/daily. Expected figures are worked from the
// definitions (include/gateway/satisfaction.h, docs/report-format.md) in each test.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <map>

#include "core/facility_model.h"
#include "core_harness.h"
#include "http_ingest/ingest_body.h"
#include "gateway/config.h"
#include "gateway/satisfaction.h"
#include "report/feedback_report.h"
#include "report/figures.h"
#include "store/history.h"

using namespace gateway;
namespace fs = std::filesystem;

namespace {

constexpr int64_t kSec = 1000;
constexpr int64_t kT0 = 1710477000000;  // 2024-03-15 12:30 CST

Config FeedbackConfig(double repeat_s, uint32_t min_responses, bool door = true) {
  Config c;
  c.timezone = "Asia/Shanghai";
  FacilityConfig f;
  f.id = "canteen-1";
  f.type = FacilityType::kCanteen;
  f.capacity = 40;
  f.feedback_min_responses = min_responses;
  SensorConfig s;
  s.id = "smiley-1";
  s.kind = SensorKind::kFeedbackTerminal;
  s.driver = "test";
  s.buttons = DefaultFeedbackButtons();
  s.repeat_interval_s = repeat_s;
  f.sensors.push_back(s);
  if (door) {
    SensorConfig d;
    d.id = "door-1";
    d.kind = SensorKind::kDoorCounter;
    d.driver = "test";
    f.sensors.push_back(d);
  }
  c.facilities.push_back(f);
  return c;
}

Reading Raw(const std::string& point, Value v, int64_t ts, const std::string& sensor = "smiley-1") {
  Reading r;
  r.facility_id = "canteen-1";
  r.sensor_id = sensor;
  r.point = point;
  r.value = std::move(v);
  r.ts_ms = ts;
  return r;
}

// The last value of each facility metric in `out`.
std::map<std::string, Value> Last(const std::vector<Reading>& out) {
  std::map<std::string, Value> m;
  for (const auto& r : out) {
    if (r.sensor_id.empty()) m[r.point] = r.value;
  }
  return m;
}

// The definition, worked independently of the program's function.
double Index(const std::vector<int>& scores, const std::vector<uint64_t>& counts) {
  double sum = 0, n = 0;
  for (size_t i = 0; i < scores.size(); ++i) {
    sum += double(scores[i]) * double(counts[i]);
    n += double(counts[i]);
  }
  const double lo = *std::min_element(scores.begin(), scores.end());
  const double hi = *std::max_element(scores.begin(), scores.end());
  return 100.0 * (sum / n - lo) / (hi - lo);
}

}  // namespace

TEST_CASE("feedback: press events count once within the repeat interval, in event time", "[feedback]") {
  Config c = FeedbackConfig(5, 3);
  auto m = std::move(FacilityModel::Create(c).value());
  std::vector<Reading> out;
  // very_happy at t0; a repeat 2 s later (any button: the same person); happy 6 s after
  // t0; "unhappy" by its score (2) 20 s after; a late event 1 s before t0 (a repeat of t0
  // too, judged by its own time); an unknown button; very_happy 40 s after.
  m->Process({Raw("press", std::string("very_happy"), kT0), Raw("press", std::string("happy"), kT0 + 2 * kSec),
              Raw("press", std::string("happy"), kT0 + 6 * kSec), Raw("press", int64_t(2), kT0 + 20 * kSec)},
             out);
  m->Process({Raw("press", std::string("very_unhappy"), kT0 - 1 * kSec), Raw("press", std::string("meh"), kT0 + 30 * kSec),
              Raw("press", std::string("very_happy"), kT0 + 40 * kSec)},
             out);
  auto last = Last(out);
  // Counted: very_happy x2, happy x1, unhappy x1.
  const std::vector<uint64_t> counts = {0, 1, 1, 2};
  const uint64_t n = 4;
  CHECK(std::get<uint32_t>(last.at("feedback/responses")) == n);
  CHECK(std::get<uint32_t>(last.at("feedback/very_happy/responses")) == 2);
  CHECK(std::get<uint32_t>(last.at("feedback/happy/responses")) == 1);
  CHECK(std::get<uint32_t>(last.at("feedback/unhappy/responses")) == 1);
  CHECK(std::get<uint32_t>(last.at("feedback/very_unhappy/responses")) == 0);
  CHECK(std::get<float>(last.at("feedback/very_happy/share")) == Approx(2.0 / 4.0));
  CHECK(std::get<float>(last.at("feedback/index")) == Approx(Index({1, 2, 3, 4}, counts)).epsilon(1e-6));

  auto snap = m->Snapshot();
  REQUIRE(snap[0].feedback.present);
  CHECK(snap[0].feedback.responses == n);
  CHECK(snap[0].feedback.significant);
  CHECK(*snap[0].feedback.index == Approx(Index({1, 2, 3, 4}, counts)));

  // The state survives a restart: a repeat of the last counted press is still one.
  auto m2 = std::move(FacilityModel::Create(c).value());
  REQUIRE(m2->LoadState(m->SaveState()).ok());
  std::vector<Reading> out2;
  m2->Process({Raw("press", std::string("very_unhappy"), kT0 + 42 * kSec)}, out2);
  CHECK(Last(out2).count("feedback/responses") == 0);
  m2->Process({Raw("press", std::string("very_unhappy"), kT0 + 50 * kSec)}, out2);
  CHECK(std::get<uint32_t>(Last(out2).at("feedback/responses")) == n + 1);
}

TEST_CASE("feedback: fewer answers than the minimum is not significant: -1 on the wire", "[feedback]") {
  Config c = FeedbackConfig(0, 3);
  auto m = std::move(FacilityModel::Create(c).value());
  std::vector<Reading> out;
  m->Process({Raw("press", std::string("happy"), kT0), Raw("press", std::string("happy"), kT0 + 1)}, out);
  auto last = Last(out);
  CHECK(std::get<uint32_t>(last.at("feedback/responses")) == 2);  // repeat_interval_s 0: every press
  CHECK(std::get<float>(last.at("feedback/index")) == -1.0f);
  CHECK_FALSE(m->Snapshot()[0].feedback.significant);
  out.clear();
  m->Process({Raw("press", std::string("very_happy"), kT0 + 2)}, out);
  CHECK(std::get<float>(Last(out).at("feedback/index")) == Approx(Index({1, 2, 3, 4}, {0, 0, 2, 1})));
}

TEST_CASE("feedback: per-button counters wrap and reset as door counters, bounded by the repeat rule", "[feedback]") {
  Config c = FeedbackConfig(5, 1);
  auto m = std::move(FacilityModel::Create(c).value());
  std::vector<Reading> out;
  const std::string vh = "button/very_happy_total", uh = "button/unhappy_total";
  // Baselines (count nothing), then over 60 s: very_happy 65534 -> 3 (a 16-bit wrap: 5
  // presses), unhappy 900 -> 2 (a reset: 2 presses); then 1 s later very_happy +4, of
  // which a 1 s span allows ceil(1 / 5) = 1.
  m->Process({Raw(vh, uint64_t(65534), kT0), Raw(uh, uint64_t(900), kT0)}, out);
  CHECK(Last(out).count("feedback/responses") == 0);
  m->Process({Raw(vh, uint64_t(3), kT0 + 60 * kSec), Raw(uh, uint64_t(2), kT0 + 60 * kSec)}, out);
  m->Process({Raw(vh, uint64_t(7), kT0 + 61 * kSec)}, out);
  auto last = Last(out);
  const uint64_t very_happy = 5 + 1, unhappy = 2;
  CHECK(std::get<uint32_t>(last.at("feedback/very_happy/responses")) == very_happy);
  CHECK(std::get<uint32_t>(last.at("feedback/unhappy/responses")) == unhappy);
  CHECK(std::get<uint32_t>(last.at("feedback/responses")) == very_happy + unhappy);
  CHECK(std::get<float>(last.at("feedback/index")) == Approx(Index({1, 2, 3, 4}, {0, unhappy, 0, very_happy})));
}

TEST_CASE("feedback: the satisfaction definition", "[feedback]") {
  const std::vector<FeedbackButton> b = {{"no", 0}, {"maybe", 5}, {"yes", 10}};
  auto s = ComputeSatisfaction(b, {1, 1, 2}, 4);
  CHECK(s.responses == 4);
  CHECK(s.significant);
  CHECK(s.shares[2] == Approx(0.5));
  // mean (0 + 5 + 20) / 4 = 6.25 on 0..10: 62.5
  CHECK(*s.index == Approx(62.5));
  auto few = ComputeSatisfaction(b, {1, 1, 1}, 4);
  CHECK_FALSE(few.significant);
  CHECK_FALSE(few.ShownIndex().has_value());
  CHECK_FALSE(ComputeSatisfaction(b, {}, 1).index.has_value());
}

TEST_CASE("feedback: config keys are checked with file, line and key", "[feedback][config]") {
  const std::string yaml = R"(gateway:
  group_id: huacao
  edge_node_id: gw-1
facilities:
  - id: canteen-1
    type: canteen
    capacity: 40
    feedback_min_responses: 0
    sensors:
      - id: smiley-1
        kind: feedback_terminal
        driver: http
        repeat_interval_s: -1
        buttons:
          - {name: bad, score: 1}
          - {name: bad, score: 1}
          - {name: good}
      - id: smiley-2
        kind: feedback_terminal
        driver: http
      - id: door-1
        kind: door_counter
        driver: http
        repeat_interval_s: 5
)";
  auto load = LoadConfigText(yaml, "fb.yaml");
  std::vector<std::string> msgs;
  for (const auto& e : load.errors) msgs.push_back(e.ToString());
  auto has = [&](const std::string& s) {
    return std::any_of(msgs.begin(), msgs.end(), [&](const std::string& m) { return m.find(s) != std::string::npos; });
  };
  INFO(Catch::Detail::stringify(msgs));
  CHECK(has("fb.yaml:8: facilities[0].feedback_min_responses: must be between 1 and 1000000"));
  CHECK(has("fb.yaml:13: facilities[0].sensors[0].repeat_interval_s: must be between 0 and 3600"));
  CHECK(has("fb.yaml:16: facilities[0].sensors[0].buttons[1].name: button 'bad' is given twice"));
  CHECK(has("fb.yaml:16: facilities[0].sensors[0].buttons[1].score: score 1 is also that of buttons[0]"));
  CHECK(has("facilities[0].sensors[0].buttons[2].score: required"));
  CHECK(has("facilities[0].sensors[1].buttons: must be the same buttons"));
  CHECK(has("fb.yaml:24: facilities[0].sensors[2].repeat_interval_s: only for kind feedback_terminal"));

  // Defaults: four buttons 1..4, 5 s, a minimum of 20.
  const std::string ok = R"(gateway:
  group_id: huacao
  edge_node_id: gw-1
facilities:
  - id: canteen-1
    type: canteen
    capacity: 40
    sensors:
      - id: smiley-1
        kind: feedback_terminal
        driver: http
)";
  auto good = LoadConfigText(ok, "ok.yaml");
  for (const auto& e : good.errors) UNSCOPED_INFO(e.ToString());
  REQUIRE(good.ok());
  const auto& s = good.config.facilities[0].sensors[0];
  REQUIRE(s.buttons.size() == 4);
  CHECK(s.buttons[0].name == "very_unhappy");
  CHECK(s.buttons[3].score == 4);
  CHECK(s.repeat_interval_s == 5);
  CHECK(good.config.facilities[0].feedback_min_responses == 20);
}

TEST_CASE("feedback: through the history into reports/daily and the report", "[feedback][history]") {
  Config config = FeedbackConfig(5, 3);
  config.data_dir = fs::temp_directory_path() / ("feedback-test-" + std::to_string(::getpid()));
  fs::remove_all(config.data_dir);
  config.buffer.commit_interval_ms = 5;
  auto tz = TimeZone::Load("Asia/Shanghai").value();
  testing::FakeClock clock;
  const int64_t t = tz.FromLocal(2026, 3, 2, 11 * 60);  // 11:00 local
  clock.now = t;
  {
    testing::CoreHarness gw(config, clock);
    // 10 visitors (door baseline 0 -> 10); presses: happy, very_happy at +10 s, a repeat
    // at +12 s, unhappy at 12:10 (another hour), very_happy at 12:20.
    gw.Submit({Raw("entries_total", uint64_t(0), t, "door-1"), Raw("exits_total", uint64_t(0), t, "door-1")});
    gw.Submit({Raw("entries_total", uint64_t(10), t + 60 * kSec, "door-1"),
               Raw("exits_total", uint64_t(0), t + 60 * kSec, "door-1")});
    gw.Submit({Raw("press", std::string("happy"), t), Raw("press", std::string("very_happy"), t + 10 * kSec),
               Raw("press", std::string("very_happy"), t + 12 * kSec)});
    clock.now = t + 81 * 60 * kSec;  // readings ahead of the gateway's clock are not history
    gw.Submit({Raw("press", std::string("unhappy"), t + 70 * 60 * kSec),
               Raw("press", std::string("very_happy"), t + 80 * 60 * kSec)});
    auto rows = gw.history->ReadDay(gw.outbox->db(), "canteen-1", tz.ToLocal(t).day_number);
    REQUIRE(rows.ok());
    const auto& fc = config.facilities[0];
    auto ds = report::DailyDataSet(fc, tz.ToLocal(t).day_number, rows.value());
    auto col = [&](const std::string& name) {
      auto it = std::find(ds.columns.begin(), ds.columns.end(), name);
      REQUIRE(it != ds.columns.end());
      return size_t(it - ds.columns.begin());
    };
    const std::vector<uint64_t> counts = {0, 1, 1, 2};
    const uint64_t n = 4;
    CHECK(std::get<uint64_t>(ds.rows[0][col("feedback_responses")]) == n);
    CHECK(std::get<double>(ds.rows[0][col("satisfaction_index")]) == Approx(Index({1, 2, 3, 4}, counts)));
    CHECK(std::get<double>(ds.rows[0][col("answer_rate")]) == Approx(double(n) / 10.0));
    CHECK(std::get<uint64_t>(ds.rows[0][col("feedback_very_happy")]) == 2);
    // Hour 11 has 2 answers (< 3): not significant, -1; hour 12 likewise.
    CHECK(std::get<uint64_t>(ds.rows[1 + 11][col("feedback_responses")]) == 2);
    CHECK(std::get<double>(ds.rows[1 + 11][col("satisfaction_index")]) == -1.0);
    // The report's figures and writers.
    auto f = report::Summarise(fc, rows.value(), tz.ToLocal(t).day_number, tz.ToLocal(t).day_number);
    auto cells = report::FeedbackCsvCells(fc, f);
    CHECK(cells[0] == std::to_string(n));
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", Index({1, 2, 3, 4}, counts));
    CHECK(cells[1] == buf);
    auto j = report::FeedbackJson(fc, f);
    CHECK(j["responses"].get<uint64_t>() == n);
    CHECK(j["significant"].get<bool>());
    // Hour 11 alone (2 answers, fewer than 3): not significant in every format, never a number.
    std::vector<store::HourRow> hour11;
    for (const auto& r : rows.value()) {
      if (r.hour == 11) hour11.push_back(r);
    }
    auto h = report::Summarise(fc, hour11, tz.ToLocal(t).day_number, tz.ToLocal(t).day_number);
    CHECK(report::FeedbackCsvCells(fc, h)[0] == "2");
    CHECK(report::FeedbackCsvCells(fc, h)[1] == "不显著 not significant");
    auto jh = report::FeedbackJson(fc, h);
    CHECK(jh["index"].is_null());
    CHECK_FALSE(jh["significant"].get<bool>());
    CHECK(report::FeedbackKpiHtml(fc, h).find("不显著 not significant (n = 2 &lt; 3)") != std::string::npos);
  }
  fs::remove_all(config.data_dir);
}

TEST_CASE("feedback: HTTP ingest readings of a terminal reach the model with their types", "[feedback]") {
  http_ingest::IngestBodyParser parser({{"canteen-1", "smiley-1"}}, 10);
  auto batch = parser.Parse(R"({"facility": "canteen-1", "sensor": "smiley-1", "readings": [
      {"point": "press", "value": "very_happy", "ts": 1710477000000},
      {"point": "press", "value": "very_happy", "ts": 1710477001000},
      {"point": "button/unhappy_total", "value": 7, "ts": 1710477000000},
      {"point": "button/unhappy_total", "value": 9, "ts": 1710477060000}]})",
                            kT0 + 120 * kSec);
  REQUIRE(batch.ok());
  REQUIRE(batch->size() == 4);
  CHECK(std::holds_alternative<std::string>((*batch)[0].value));
  CHECK(std::holds_alternative<uint64_t>((*batch)[2].value));  // a per-button counter is UInt64
  Config c = FeedbackConfig(5, 1, false);
  auto m = std::move(FacilityModel::Create(c).value());
  std::vector<Reading> out;
  m->Process(*batch, out);
  auto last = Last(out);
  // One very_happy (the second is 1 s after it: a repeat); unhappy 7 -> 9 over 60 s: 2.
  CHECK(std::get<uint32_t>(last.at("feedback/very_happy/responses")) == 1);
  CHECK(std::get<uint32_t>(last.at("feedback/unhappy/responses")) == 2);
  CHECK(std::get<uint32_t>(last.at("feedback/responses")) == 3);
}

TEST_CASE("feedback: the births state the buttons' scores and the minimum, for a town host", "[feedback]") {
  Config c = FeedbackConfig(5, 12);
  auto m = std::move(FacilityModel::Create(c).value());
  std::vector<Reading> out;
  m->EmitAll(kT0, out);
  auto last = Last(out);
  CHECK(std::get<uint32_t>(last.at("feedback/min_responses")) == 12);
  for (const auto& b : DefaultFeedbackButtons()) {
    std::string point = "feedback/";
    point.append(b.name).append("/score");
    CHECK(std::get<int32_t>(last.at(point)) == b.score);
  }
  // A facility without terminals states none.
  Config plain = FeedbackConfig(5, 12);
  plain.facilities[0].sensors.erase(plain.facilities[0].sensors.begin());
  auto p = std::move(FacilityModel::Create(plain).value());
  std::vector<Reading> none;
  p->EmitAll(kT0, none);
  for (const auto& r : none) CHECK(r.point.rfind("feedback/", 0) != 0);
}
