// The pipeline with its real collaborators (outbox on a temp dir, facility model): what
// "accepted" means, back-pressure, and what is committed together.
#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <thread>

#include "core/facility_model.h"
#include "core/pipeline.h"
#include "store/outbox.h"

using namespace gateway;
namespace fs = std::filesystem;

namespace {

struct Fixture {
  std::string dir;
  Config config;
  boost::asio::io_context io;
  std::unique_ptr<store::Outbox> outbox;
  std::unique_ptr<FacilityModel> model;
  std::unique_ptr<Pipeline> pipeline;

  explicit Fixture(int max_pending = 100000) {
    dir = fs::temp_directory_path() / ("pipeline-test-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    fs::remove_all(dir);
    config.timezone = "Asia/Shanghai";
    config.buffer.commit_interval_ms = 5;
    config.buffer.low_rate_commit_delay_ms = 0;
    config.buffer.max_pending_readings = max_pending;
    FacilityConfig f;
    f.id = "canteen-1";
    f.type = FacilityType::kCanteen;
    f.capacity = 10;
    SensorConfig door;
    door.id = "door-1";
    door.kind = SensorKind::kDoorCounter;
    f.sensors.push_back(door);
    config.facilities.push_back(f);
    outbox = std::move(store::Outbox::Open(dir, config.buffer, SystemClock::Instance()).value());
    model = std::move(FacilityModel::Create(config).value());
    pipeline = std::make_unique<Pipeline>(io, config, *outbox, *model, SystemClock::Instance());
  }
  ~Fixture() {
    pipeline.reset();
    outbox.reset();
    fs::remove_all(dir);
  }
  static inline int n = 0;

  // Runs the loop until `done` holds (the loop has no other way to finish).
  template <typename Pred>
  void RunUntil(Pred done) {
    for (int i = 0; i < 10000 && !done(); ++i) io.run_one_for(std::chrono::milliseconds(10));
    REQUIRE(done());
  }
};

std::vector<Reading> Door(uint64_t entries, uint64_t exits, int64_t ts) {
  return {Reading{"canteen-1", "door-1", "entries_total", Value(entries), ts, Quality::kGood},
          Reading{"canteen-1", "door-1", "exits_total", Value(exits), ts, Quality::kGood}};
}

}  // namespace

TEST_CASE("a reading is acknowledged only once it is in the outbox", "[pipeline]") {
  Fixture fx;
  REQUIRE(fx.pipeline->Start(SystemClock::Instance().NowMs()).ok());
  uint64_t depth_after_start = fx.outbox->depth();
  CHECK(depth_after_start > 0);  // the initial facility metrics

  std::optional<Status> first, second;
  int64_t t = SystemClock::Instance().NowMs();
  fx.pipeline->Submit(Door(100, 90, t), [&](const Status& s) {
    first = s;
    // At the moment of the callback the rows are already committed.
    CHECK(fx.outbox->depth() >= depth_after_start + 2);
  });
  fx.RunUntil([&] { return first.has_value(); });
  REQUIRE(first->ok());
  fx.pipeline->Submit(Door(105, 92, t + 1000), [&](const Status& s) { second = s; });
  fx.RunUntil([&] { return second.has_value(); });
  REQUIRE(second->ok());

  // Raw readings and the derived occupancy are in the outbox; the model's state with them.
  auto rows = fx.outbox->ReadAfter(0, 1000).value();
  bool saw_raw = false, saw_occupancy = false;
  for (const auto& r : rows) {
    const auto& m = fx.outbox->metric(r.metric_id);
    if (m.name == "sensors/door-1/entries_total" && r.value == Value(uint64_t(105))) saw_raw = true;
    // First sample is the baseline; the second adds 5 in and 2 out.
    if (m.name == "occupancy/current" && r.ts_ms == t + 1000) {
      saw_occupancy = true;
      CHECK(r.value == Value(uint32_t(3)));
    }
  }
  CHECK(saw_raw);
  CHECK(saw_occupancy);
  CHECK(fx.outbox->GetMeta("model_state").ok());
  CHECK(fx.pipeline->stats().accepted == 4);
}

TEST_CASE("at a low rate readings share a commit; at a high rate they do not wait", "[pipeline]") {
  Fixture fx;
  // Longer than anything this test waits for, so a commit before the delay is up can
  // only be one that enough readings made.
  fx.config.buffer.low_rate_commit_delay_ms = 60000;
  REQUIRE(fx.pipeline->Start(SystemClock::Instance().NowMs()).ok());
  const uint64_t commits0 = fx.pipeline->stats().commits;
  int64_t t = SystemClock::Instance().NowMs();
  // Two door samples (4 readings): fewer than kLowRateReadings, so they wait together.
  std::optional<Status> a, b;
  fx.pipeline->Submit(Door(10, 5, t), [&](const Status& s) { a = s; });
  fx.pipeline->Submit(Door(12, 6, t + 1), [&](const Status& s) { b = s; });
  // Past commit_interval_ms (5 ms) several times over: nothing is committed yet.
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
  while (std::chrono::steady_clock::now() < until) fx.io.run_one_for(std::chrono::milliseconds(10));
  CHECK_FALSE(a.has_value());
  CHECK(fx.pipeline->stats().commits == commits0);
  // Enough readings join (4 waiting, 2 per sample): all go in one commit at once.
  std::vector<std::optional<Status>> more((Pipeline::kLowRateReadings - 4) / 2);
  for (size_t i = 0; i < more.size(); ++i) {
    fx.pipeline->Submit(Door(20 + i, 10 + i, t + 2 + int64_t(i)), [&, i](const Status& s) { more[i] = s; });
  }
  fx.RunUntil([&] { return a.has_value() && b.has_value() && more.back().has_value(); });
  CHECK(a->ok());
  CHECK(b->ok());
  CHECK(fx.pipeline->stats().commits == commits0 + 1);
  CHECK(fx.pipeline->stats().accepted == 4 + 2 * more.size());
}

TEST_CASE("acknowledged rows are deleted with the next readings or on their own", "[pipeline]") {
  Fixture fx;
  REQUIRE(fx.pipeline->Start(SystemClock::Instance().NowMs()).ok());
  const uint64_t depth0 = fx.outbox->depth();
  REQUIRE(depth0 > 0);
  auto rows = fx.outbox->ReadAfter(0, 1000).value();
  fx.outbox->Ack(rows.front().seq, rows.back().seq);
  // The acknowledgement alone: deleted within the delete delay, in a commit of its own.
  fx.pipeline->RequestCommit();
  fx.RunUntil([&] { return fx.outbox->depth() == 0; });
  CHECK_FALSE(fx.outbox->HasPendingAcks());
  // An acknowledgement followed by readings: the readings' commit deletes it.
  std::optional<Status> done;
  int64_t t = SystemClock::Instance().NowMs();
  fx.pipeline->Submit(Door(1, 0, t), [&](const Status& s) { done = s; });
  fx.RunUntil([&] { return done.has_value(); });
  REQUIRE(done->ok());
  rows = fx.outbox->ReadAfter(0, 1000).value();
  REQUIRE_FALSE(rows.empty());
  fx.outbox->Ack(rows.front().seq, rows.back().seq);
  fx.pipeline->RequestCommit();
  done.reset();
  fx.pipeline->Submit(Door(2, 0, t + 1), [&](const Status& s) { done = s; });
  fx.RunUntil([&] { return done.has_value(); });
  REQUIRE(done->ok());
  CHECK_FALSE(fx.outbox->HasPendingAcks());
  const int64_t acked_up_to = rows.back().seq;
  auto left = fx.outbox->ReadAfter(0, 1000);
  REQUIRE(left.ok());
  for (const auto& r : left.value()) CHECK(r.seq > acked_up_to);
}

TEST_CASE("readings for unknown facilities or sensors are counted, not stored", "[pipeline]") {
  Fixture fx;
  REQUIRE(fx.pipeline->Start(SystemClock::Instance().NowMs()).ok());
  uint64_t before = fx.outbox->depth();
  std::optional<Status> result;
  fx.pipeline->Submit({Reading{"nowhere", "door-1", "entries_total", Value(uint64_t(1)), 1, Quality::kGood},
                       Reading{"canteen-1", "ghost", "entries_total", Value(uint64_t(1)), 1, Quality::kGood}},
                      [&](const Status& s) { result = s; });
  fx.RunUntil([&] { return result.has_value(); });
  CHECK(result->ok());
  CHECK(fx.pipeline->stats().rejected_unknown == 2);
  CHECK(fx.outbox->depth() == before);
}

TEST_CASE("past max_pending_readings the pipeline answers busy and stores nothing", "[pipeline]") {
  Fixture fx(3);
  REQUIRE(fx.pipeline->Start(SystemClock::Instance().NowMs()).ok());
  uint64_t before = fx.outbox->depth();
  std::vector<Status> results;
  int64_t t = SystemClock::Instance().NowMs();
  // Both posts are handled before the commit timer fires: 2 wait, 2 more would be 4 > 3.
  fx.pipeline->Submit(Door(1, 0, t), [&](const Status& s) { results.push_back(s); });
  fx.pipeline->Submit(Door(2, 0, t + 1), [&](const Status& s) { results.push_back(s); });
  fx.RunUntil([&] { return results.size() == 2; });
  CHECK(results[0].code() == Status::Code::kBusy);  // refused at once
  CHECK(results[1].ok());                           // committed later
  CHECK(fx.pipeline->stats().refused_busy == 2);
  CHECK(fx.outbox->depth() > before);
}

TEST_CASE("after Stop the pipeline refuses readings with kShutdown", "[pipeline]") {
  Fixture fx;
  REQUIRE(fx.pipeline->Start(SystemClock::Instance().NowMs()).ok());
  REQUIRE(fx.pipeline->Stop().ok());
  std::optional<Status> result;
  fx.pipeline->Submit(Door(1, 0, 1), [&](const Status& s) { result = s; });
  fx.RunUntil([&] { return result.has_value(); });
  CHECK(result->code() == Status::Code::kShutdown);
}

TEST_CASE("drivers' threads may submit while the loop commits", "[pipeline][threads]") {
  // What the Modbus pollers do: Submit from their own threads, callbacks on the loop.
  // Run under ThreadSanitizer by scripts/test.sh.
  Fixture fx;
  REQUIRE(fx.pipeline->Start(SystemClock::Instance().NowMs()).ok());
  constexpr int kThreads = 4, kBatches = 50;
  int acked = 0, failed = 0;  // loop thread only
  int64_t t0 = SystemClock::Instance().NowMs();
  std::vector<std::thread> threads;
  for (int k = 0; k < kThreads; ++k) {
    threads.emplace_back([&fx, &acked, &failed, k, t0] {
      for (int i = 0; i < kBatches; ++i) {
        uint64_t n = uint64_t(k) * kBatches + i;
        fx.pipeline->Submit(Door(n, 0, t0 + int64_t(n)), [&acked, &failed](const Status& s) {
          (s.ok() ? acked : failed)++;
        });
      }
    });
  }
  fx.RunUntil([&] { return acked + failed == kThreads * kBatches; });
  for (auto& t : threads) t.join();
  CHECK(failed == 0);
  CHECK(fx.pipeline->stats().accepted == 2u * kThreads * kBatches);
}
