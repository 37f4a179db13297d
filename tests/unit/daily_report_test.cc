// The pipeline with the history: the daily report is queued by the pipeline's tick after
// local midnight plus the delay, committed with the history state that marks the day
// reported, stamped at midnight, and made once, also across a restart.
#include <catch2/catch.hpp>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <filesystem>

#include "core_harness.h"
#include "core/facility_model.h"
#include "core/pipeline.h"
#include "report/figures.h"
#include "store/history.h"
#include "store/outbox.h"

using namespace gateway;
namespace fs = std::filesystem;

namespace {

using testing::FakeClock;

struct Gateway : testing::CoreHarness {
  using CoreHarness::CoreHarness;

  std::vector<store::StoredReading> Reports() {
    std::vector<store::StoredReading> out;
    auto all = outbox->ReadAfter(0, 1000000);
    REQUIRE(all.ok());
    const std::vector<store::StoredReading>& rows = all.value();
    for (const auto& r : rows) {
      if (outbox->metric(r.metric_id).name == "reports/daily") out.push_back(r);
    }
    return out;
  }
};

}  // namespace

TEST_CASE("the pipeline publishes reports/daily once after local midnight, across restarts", "[history][pipeline]") {
  Config config;
  config.data_dir = fs::temp_directory_path() / ("daily-report-test-" + std::to_string(::getpid()));
  fs::remove_all(config.data_dir);
  config.timezone = "Asia/Shanghai";
  config.buffer.commit_interval_ms = 5;
  config.buffer.low_rate_commit_delay_ms = 0;
  config.history.daily_report_delay_s = 60;
  FacilityConfig f;
  f.id = "canteen-1";
  f.type = FacilityType::kCanteen;
  f.capacity = 10;
  SensorConfig door;
  door.id = "door-1";
  door.kind = SensorKind::kDoorCounter;
  door.driver = "test";
  f.sensors.push_back(door);
  config.facilities.push_back(f);
  auto tz = TimeZone::Load("Asia/Shanghai").value();
  FakeClock clock;
  clock.now = tz.FromLocal(2026, 3, 2, 10 * 60);
  const int64_t midnight = tz.FromLocal(2026, 3, 3, 0);
  {
    Gateway gw(config, clock);
    std::optional<Status> done;
    // 7 people in at 10:00 (the counter's first sample is its baseline: 100), 3 more at 10:05.
    gw.pipeline->Submit({Reading{"canteen-1", "door-1", "entries_total", Value(uint64_t(100)), clock.now, Quality::kGood},
                         Reading{"canteen-1", "door-1", "exits_total", Value(uint64_t(100)), clock.now, Quality::kGood}});
    gw.pipeline->Submit({Reading{"canteen-1", "door-1", "entries_total", Value(uint64_t(107)), clock.now + 60000, Quality::kGood},
                         Reading{"canteen-1", "door-1", "exits_total", Value(uint64_t(100)), clock.now + 60000, Quality::kGood}});
    gw.pipeline->Submit({Reading{"canteen-1", "door-1", "entries_total", Value(uint64_t(110)), clock.now + 300000, Quality::kGood},
                         Reading{"canteen-1", "door-1", "exits_total", Value(uint64_t(104)), clock.now + 300000, Quality::kGood}},
                        [&](const Status& s) { done = s; });
    gw.RunUntil([&] { return done.has_value(); }, 5000);
    REQUIRE(done.has_value());
    REQUIRE(done->ok());
    // Midnight has passed, but not the delay: nothing yet.
    clock.now = midnight + 30'000;
    gw.RunUntil([] { return false; }, 1300);
    CHECK(gw.Reports().empty());
    clock.now = midnight + 61'000;
    gw.RunUntil([&] { return !gw.Reports().empty(); }, 3000);
    auto reports = gw.Reports();
    REQUIRE(reports.size() == 1);
    CHECK(reports[0].ts_ms == midnight);
    const auto& ds = std::get<DataSet>(reports[0].value);
    REQUIRE(ds.rows.size() == 25);
    CHECK(std::get<std::string>(ds.rows[0][0]) == "2026-03-02");
    CHECK(std::get<uint64_t>(ds.rows[0][4]) == 10);  // visits
    CHECK(std::get<int64_t>(ds.rows[0][5]) == 7);    // peak: 7 present at 10:01
    // More ticks do not make it again.
    gw.RunUntil([] { return false; }, 1300);
    CHECK(gw.Reports().size() == 1);
  }
  {
    // A restart after midnight: the day is marked reported in the same file.
    clock.now = midnight + 3'600'000;
    Gateway gw(config, clock);
    gw.RunUntil([] { return false; }, 1300);
    CHECK(gw.Reports().size() == 1);
  }
  fs::remove_all(config.data_dir);
}
