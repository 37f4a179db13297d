#include <catch2/catch.hpp>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <thread>

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
  // Padded with blanks to a steady size (so that it is overwritten in place): the same JSON.
  const std::string state = box->GetMeta("model_state").value();
  CHECK(state.substr(0, state.find_last_not_of(' ') + 1) == R"({"x":1})");
  CHECK(state.size() % 256 == 0);
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

namespace {

// The outbox's leaf pages, from SQLite's dbstat table, after a checkpoint has moved
// every row into the main file.
std::vector<int64_t> OutboxLeaves(store::SqliteDb& db) {
  REQUIRE(db.Exec("PRAGMA wal_checkpoint(TRUNCATE)").ok());
  auto st = db.Prepare("SELECT pageno FROM dbstat WHERE name = 'outbox' AND pagetype = 'leaf' ORDER BY pageno");
  REQUIRE(st.ok());
  std::vector<int64_t> pages;
  for (auto row = st->Step(); row.ok() && row.value(); row = st->Step()) pages.push_back(st->Int(0));
  return pages;
}

int64_t RowsOnPage(store::SqliteDb& db, int64_t page) {
  return db.QueryInt("SELECT ncell FROM dbstat WHERE name = 'outbox' AND pageno = " + std::to_string(page)).value();
}

// Scribbles over one page of the file, as a dying SD card might. The page size is the
// file's own (its header, bytes 16-17, big-endian; 1 means 65536).
void Scribble(const std::string& path, int64_t page) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  unsigned char header[18] = {};
  f.read(reinterpret_cast<char*>(header), sizeof header);
  int64_t page_size = (int64_t(header[16]) << 8) | header[17];
  if (page_size == 1) page_size = 65536;
  REQUIRE(page_size >= 512);
  f.seekp((page - 1) * page_size);
  std::string junk(static_cast<size_t>(page_size), '\xA5');
  f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
}

std::vector<std::string> AsideFiles(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const auto name = e.path().filename().string();
    if (name.rfind("buffer.db.corrupt-", 0) == 0 && name.find("-wal") == std::string::npos &&
        name.find("-shm") == std::string::npos) {
      out.push_back(name);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("a corrupt buffer file is moved aside and what can be read of it is salvaged", "[outbox]") {
  TempDir dir;
  int64_t damaged_rows = 0;
  {
    auto box = OpenBox(dir.path);
    std::vector<Reading> rs;
    for (int i = 1; i <= 2000; ++i) rs.push_back(R("f", "s", "p", Value(uint64_t(i)), i));
    REQUIRE(box->Commit(rs, nullptr).ok());
    auto leaves = OutboxLeaves(box->db());
    REQUIRE(leaves.size() > 4);
    const int64_t victim = leaves[leaves.size() / 2];
    damaged_rows = RowsOnPage(box->db(), victim);
    box.reset();
    Scribble(dir.path + "/buffer.db", victim);
  }
  auto box = OpenBox(dir.path);
  // The damaged page's rows are gone (and, skipping past it, at most twice as many
  // after it); every other row is there, with its own seq and value.
  CHECK(box->moved_aside() == 1);
  CHECK(box->depth() < 2000);
  CHECK(box->depth() >= static_cast<uint64_t>(2000 - 3 * damaged_rows));
  auto rows = box->ReadAfter(0, 10000).value();
  REQUIRE(rows.size() == box->depth());
  for (const auto& r : rows) CHECK(r.value == Value(uint64_t(r.seq)));
  CHECK(rows.front().seq == 1);
  CHECK(rows.back().seq == 2000);
  // Part of the file was unreadable: it is kept for an expert.
  CHECK(AsideFiles(dir.path).size() == 1);
  // New rows come after every seq that was used.
  REQUIRE(box->Commit({R("f", "s", "p", Value(uint64_t(1)), 1)}, nullptr).ok());
  CHECK(box->ReadAfter(2000, 10).value().size() == 1);
}

TEST_CASE("corruption found while running is proven, and a buffer that cannot be reopened answers errors", "[outbox]") {
  TempDir dir;
  auto box = OpenBox(dir.path);
  std::vector<Reading> rs;
  for (int i = 1; i <= 3000; ++i) rs.push_back(R("f", "s", "p", Value(uint64_t(i)), i));
  REQUIRE(box->Commit(rs, nullptr).ok());
  auto leaves = OutboxLeaves(box->db());
  REQUIRE(leaves.size() > 4);
  const int64_t damaged_rows = RowsOnPage(box->db(), leaves[1]);
  Scribble(dir.path + "/buffer.db", leaves[1]);
  {
    // Another connection's write makes the outbox's connection drop its page cache, so
    // that its next read sees the damage on disk.
    store::SqliteDb other;
    REQUIRE(other.Open(dir.path + "/buffer.db").ok());
    REQUIRE(other.Exec("INSERT INTO meta(key, value) VALUES('poke', 1)").ok());
  }
  // The file cannot be moved aside: directories stand where its new names would go (one
  // per second of the next few), so reopening fails as well.
  const std::time_t now = std::time(nullptr);
  std::vector<std::string> blockers;
  for (int s = 0; s < 20; ++s) {
    std::time_t t = now + s;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    blockers.push_back(dir.path + "/buffer.db.corrupt-" + stamp);
    fs::create_directories(blockers.back() + "/x");
  }
  auto read = box->ReadAfter(0, 100000);
  INFO(read.status().ToString());
  REQUIRE_FALSE(read.ok());
  CHECK(read.status().code() == Status::Code::kIoError);
  CHECK_FALSE(box->is_open());
  // Every entry point answers an error on the closed database, none touches a
  // finalised statement (ASan would report it).
  CHECK_FALSE(box->Commit({R("f", "s", "p", Value(uint64_t(1)), 1)}, nullptr).ok());
  CHECK_FALSE(box->Commit({R("f", "", "occupancy/current", Value(uint32_t(1)), 1)}, nullptr).ok());
  CHECK_FALSE(box->Latest("f").ok());
  CHECK_FALSE(box->GetMeta("model_state").ok());
  CHECK_FALSE(box->SetMeta("k", "v").ok());
  CHECK_FALSE(box->OldestTs().has_value());
  CHECK(box->file_bytes_used() == 0);
  CHECK_FALSE(box->db().Exec("SELECT 1").ok());
  box->Ack(1, 10);
  CHECK_FALSE(box->Commit({}, nullptr).ok());

  // The way is free again: the next call after the backoff reopens, moves the file
  // aside and salvages it.
  for (const auto& b : blockers) fs::remove_all(b);
  Status s;
  for (int i = 0; i < 100; ++i) {
    s = box->Commit({R("f", "s", "p", Value(uint64_t(3001)), 3001)}, nullptr);
    if (s.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the reopen backoff (500 ms)
  }
  REQUIRE(s.ok());
  CHECK(box->is_open());
  CHECK(box->moved_aside() == 1);
  auto rows = box->ReadAfter(0, 100000).value();
  CHECK(rows.size() >= static_cast<size_t>(3000 - 3 * damaged_rows));
  CHECK(rows.size() < 3001);
  for (const auto& r : rows) CHECK(r.value == Value(uint64_t(r.ts_ms)));
  // The acknowledged rows 1..10 were deleted by that commit.
  CHECK(rows.front().seq > 10);
  CHECK(rows.back().value == Value(uint64_t(3001)));
  CHECK(rows.back().seq > 3000);
}

TEST_CASE("a lost WAL is detected at the next start and counted", "[outbox]") {
  TempDir dir, copy;
  auto box = OpenBox(dir.path);
  std::vector<Reading> a, b;
  for (int i = 1; i <= 100; ++i) a.push_back(R("f", "s", "p", Value(uint64_t(i)), i));
  for (int i = 101; i <= 150; ++i) b.push_back(R("f", "s", "p", Value(uint64_t(i)), i));
  REQUIRE(box->Commit(a, nullptr).ok());
  REQUIRE(box->db().Exec("PRAGMA wal_checkpoint(TRUNCATE)").ok());
  REQUIRE(box->Commit(b, nullptr).ok());
  // The state a card leaves when its WAL is lost: the main file as of the last
  // checkpoint, and the mark of the last commit.
  fs::copy_file(dir.path + "/buffer.db", copy.path + "/buffer.db");
  fs::copy_file(dir.path + "/buffer.mark", copy.path + "/buffer.mark");
  auto lost = OpenBox(copy.path);
  CHECK(lost->depth() == 100);
  CHECK(lost->lost_at_open() == 50);
  // Said once: the mark now matches the file.
  lost.reset();
  CHECK(OpenBox(copy.path)->lost_at_open() == 0);
  // The original, WAL and all, lost nothing.
  box.reset();
  auto whole = OpenBox(dir.path);
  CHECK(whole->depth() == 150);
  CHECK(whole->lost_at_open() == 0);
}

TEST_CASE("paths that cannot hold a buffer are refused with one clear line, nothing written", "[outbox]") {
  static FixedClock clock;
  SECTION("a directory at buffer.db") {
    TempDir dir;
    fs::create_directories(dir.path + "/buffer.db");
    auto box = store::Outbox::Open(dir.path, {}, clock);
    REQUIRE_FALSE(box.ok());
    CHECK(box.status().code() == Status::Code::kInvalidArgument);
    CHECK(box.status().message().find("is a directory") != std::string::npos);
    CHECK_FALSE(fs::exists(dir.path + "/buffer.db-wal"));
  }
  SECTION("a dangling symlink at buffer.db") {
    TempDir dir;
    fs::create_symlink(dir.path + "/gone/buffer.db", dir.path + "/buffer.db");
    auto box = store::Outbox::Open(dir.path, {}, clock);
    REQUIRE_FALSE(box.ok());
    CHECK(box.status().code() == Status::Code::kInvalidArgument);
    CHECK(box.status().message().find("does not exist") != std::string::npos);
    CHECK_FALSE(fs::exists(dir.path + "/gone"));
  }
  SECTION("data_dir is a file") {
    TempDir dir;
    std::ofstream(dir.path + "/file") << "x";
    auto box = store::Outbox::Open(dir.path + "/file", {}, clock);
    REQUIRE_FALSE(box.ok());
    CHECK(box.status().code() == Status::Code::kInvalidArgument);
    CHECK(box.status().message().find("not a directory") != std::string::npos);
  }
}

TEST_CASE("the disk cap counts the WAL", "[outbox]") {
  TempDir dir;
  BufferConfig cfg;
  cfg.max_disk_bytes = 1024 * 1024;
  auto box = OpenBox(dir.path, cfg);
  int64_t ts = 0;
  for (int c = 0; c < 800; ++c) {
    std::vector<Reading> rs;
    for (int i = 0; i < 100; ++i, ++ts) rs.push_back(R("f", "s", "p", Value(uint64_t(ts)), ts));
    REQUIRE(box->Commit(rs, nullptr).ok());
    const uint64_t wal = fs::exists(dir.path + "/buffer.db-wal") ? fs::file_size(dir.path + "/buffer.db-wal") : 0;
    // Checked before the commit's own frames are added: one commit's worth over.
    CHECK(box->file_bytes_used() + wal <= cfg.max_disk_bytes + 64 * 1024);
  }
  CHECK(box->dropped_total() > 0);
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
