#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "store/migrations.h"
#include "store/outbox.h"

using namespace gateway;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    path = fs::temp_directory_path() / ("outbox-test-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  static inline int counter = 0;
};

struct FixedClock : Clock {
  int64_t now = 1'700'000'000'000;
  int64_t NowMs() const override { return now; }
};

Reading R(const std::string& facility, const std::string& sensor, const std::string& point, Value v, int64_t ts) {
  return Reading{facility, sensor, point, std::move(v), ts, Quality::kGood};
}

std::unique_ptr<store::Outbox> OpenBox(const std::string& dir, BufferConfig cfg = {}) {
  static FixedClock clock;
  auto box = store::Outbox::Open(dir, cfg, clock);
  INFO(box.status().ToString());
  REQUIRE(box.ok());
  return std::move(box.value());
}

}  // namespace

TEST_CASE("outbox keeps every value type and reads oldest first", "[outbox]") {
  TempDir dir;
  auto box = OpenBox(dir.path);
  std::vector<Reading> rs = {
      R("c1", "door", "entries_total", Value(uint64_t(18446744073709551000ull)), 10),
      R("c1", "", "occupancy/current", Value(uint32_t(7)), 11),
      R("c1", "", "occupancy/ratio", Value(0.25f), 12),
      R("c1", "", "status/open", Value(true), 13),
      R("cs", "cp", "connector/1/status", Value(std::string("Charging")), 14),
      R("cs", "cp", "connector/1/energy_kwh", Value(1234.5), 15),
      R("cs", "x", "temp", Value(int32_t(-5)), 16),
      R("cs", "x", "big", Value(int64_t(-5000000000)), 17),
  };
  REQUIRE(box->Commit(rs, nullptr).ok());
  REQUIRE(box->depth() == rs.size());
  auto rows = box->ReadAfter(0, 100);
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == rs.size());
  for (size_t i = 0; i < rs.size(); ++i) {
    const auto& row = rows.value()[i];
    CHECK(row.value == rs[i].value);
    CHECK(row.ts_ms == rs[i].ts_ms);
    CHECK(box->metric(row.metric_id).facility == rs[i].facility_id);
    CHECK(box->metric(row.metric_id).name == rs[i].MetricName());
    if (i > 0) CHECK(row.seq > rows.value()[i - 1].seq);
  }
  // Reading past a cursor returns only newer rows: nothing in flight is read twice.
  auto after = box->ReadAfter(rows.value()[3].seq, 100);
  REQUIRE(after->size() == rs.size() - 4);
}

TEST_CASE("acknowledged rows are deleted at the next commit, not before", "[outbox]") {
  TempDir dir;
  auto box = OpenBox(dir.path);
  std::vector<Reading> rs;
  for (int i = 0; i < 10; ++i) rs.push_back(R("f", "s", "p", Value(uint32_t(i)), i));
  REQUIRE(box->Commit(rs, nullptr).ok());
  auto rows = box->ReadAfter(0, 100).value();
  box->Ack(rows[0].seq, rows[4].seq);
  CHECK(box->HasPendingAcks());
  CHECK(box->ReadAfter(0, 100)->size() == 10);  // not yet committed
  REQUIRE(box->Commit({}, nullptr).ok());
  CHECK_FALSE(box->HasPendingAcks());
  CHECK(box->depth() == 5);
  auto left = box->ReadAfter(0, 100).value();
  REQUIRE(left.size() == 5);
  CHECK(left.front().value == Value(uint32_t(5)));
}

TEST_CASE("a reopened outbox resumes with what is on disk", "[outbox]") {
  TempDir dir;
  {
    auto box = OpenBox(dir.path);
    std::vector<Reading> rs;
    for (int i = 0; i < 100; ++i) rs.push_back(R("f", "s", "p", Value(uint64_t(i)), 1000 + i));
    std::string state = R"({"x":1})";
    REQUIRE(box->Commit(rs, &state).ok());
    auto rows = box->ReadAfter(0, 10).value();
    box->Ack(rows.front().seq, rows.back().seq);
    // The destructor commits the pending delete.
  }
  auto box = OpenBox(dir.path);
  CHECK(box->depth() == 90);
  CHECK(box->max_accepted_ts() == 1099);
  CHECK(box->GetMeta("model_state").value() == R"({"x":1})");
  auto latest = box->Latest("f").value();
  REQUIRE(latest.size() == 1);
  CHECK(latest[0].name == "sensors/s/p");
  CHECK(latest[0].value == Value(uint64_t(99)));
  CHECK(box->ReadAfter(0, 1)->front().value == Value(uint64_t(10)));
}

TEST_CASE("the disk cap drops the oldest rows that are not in flight and counts them", "[outbox]") {
  TempDir dir;
  BufferConfig cfg;
  cfg.max_disk_bytes = 256 * 1024;
  auto box = OpenBox(dir.path, cfg);
  uint64_t committed = 0;
  int64_t ts = 0;
  for (int c = 0; c < 200; ++c) {
    std::vector<Reading> rs;
    for (int i = 0; i < 100; ++i, ++ts) rs.push_back(R("f", "s", "p", Value(uint64_t(ts)), ts));
    REQUIRE(box->Commit(rs, nullptr).ok());
    committed += rs.size();
    if (c == 10) box->set_in_flight_up_to(box->ReadAfter(0, 50)->back().seq);
  }
  CHECK(box->dropped_total() > 0);
  CHECK(box->file_bytes_used() <= cfg.max_disk_bytes);
  CHECK(box->depth() + box->dropped_total() == committed);
  auto rows = box->ReadAfter(0, 1000000).value();
  REQUIRE(rows.size() == box->depth());
  // The 50 in flight survive; after them, the survivors are the newest, contiguous.
  CHECK(rows[49].value == Value(uint64_t(49)));
  auto first_kept = std::get<uint64_t>(rows[50].value);
  CHECK(first_kept == 50 + box->dropped_total());
  CHECK(std::get<uint64_t>(rows.back().value) == committed - 1);
  // The count survives a restart.
  uint64_t dropped = box->dropped_total();
  box.reset();
  CHECK(OpenBox(dir.path, cfg)->dropped_total() == dropped);
}

TEST_CASE("a corrupt buffer file is moved aside and a fresh one started", "[outbox]") {
  TempDir dir;
  {
    auto box = OpenBox(dir.path);
    std::vector<Reading> rs;
    for (int i = 0; i < 2000; ++i) rs.push_back(R("f", "s", "p", Value(uint64_t(i)), i));
    REQUIRE(box->Commit(rs, nullptr).ok());
  }
  {
    // Scribble over the middle of the file, as a dying SD card might.
    std::fstream f(dir.path + "/buffer.db", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4096 + 100);
    std::string junk(8192, '\xA5');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  auto box = OpenBox(dir.path);
  CHECK(box->depth() == 0);
  bool moved = false;
  for (const auto& e : fs::directory_iterator(dir.path)) {
    if (e.path().filename().string().rfind("buffer.db.corrupt-", 0) == 0) moved = true;
  }
  CHECK(moved);
  REQUIRE(box->Commit({R("f", "s", "p", Value(uint64_t(1)), 1)}, nullptr).ok());
  CHECK(box->depth() == 1);
}

TEST_CASE("a file that is not a database at all is moved aside", "[outbox]") {
  TempDir dir;
  std::ofstream(dir.path + "/buffer.db") << std::string(10000, 'x');
  auto box = OpenBox(dir.path);
  CHECK(box->depth() == 0);
  CHECK(box->Commit({R("f", "s", "p", Value(true), 1)}, nullptr).ok());
}

TEST_CASE("schema migrations walk every version up and down", "[outbox][migrations]") {
  TempDir dir;
  store::SqliteDb db;
  REQUIRE(db.Open(dir.path + "/m.db").ok());
  CHECK(store::SchemaVersion(db).value() == 0);
  for (int v = 1; v <= store::LatestSchemaVersion(); ++v) {
    REQUIRE(store::MigrateTo(db, v).ok());
    CHECK(store::SchemaVersion(db).value() == v);
  }
  for (int v = store::LatestSchemaVersion() - 1; v >= 0; --v) {
    REQUIRE(store::MigrateTo(db, v).ok());
    CHECK(store::SchemaVersion(db).value() == v);
  }
  CHECK(db.QueryInt("SELECT count(*) FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'").value() == 0);
  REQUIRE(store::MigrateTo(db, store::LatestSchemaVersion()).ok());
  CHECK_FALSE(store::MigrateTo(db, store::LatestSchemaVersion() + 1).ok());
}

TEST_CASE("seq keeps growing after the outbox has been emptied", "[outbox]") {
  // The uplink reads past a cursor: a reused seq would be skipped for good.
  TempDir dir;
  auto box = OpenBox(dir.path);
  REQUIRE(box->Commit({R("f", "s", "p", Value(uint32_t(1)), 1)}, nullptr).ok());
  auto first = box->ReadAfter(0, 10).value();
  box->Ack(first[0].seq, first[0].seq);
  REQUIRE(box->Commit({}, nullptr).ok());
  REQUIRE(box->depth() == 0);
  REQUIRE(box->Commit({R("f", "s", "p", Value(uint32_t(2)), 2)}, nullptr).ok());
  auto next = box->ReadAfter(first[0].seq, 10).value();
  REQUIRE(next.size() == 1);
  CHECK(next[0].seq > first[0].seq);
}
