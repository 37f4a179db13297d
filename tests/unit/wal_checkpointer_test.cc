// WalCheckpointer: the WAL is copied back by its thread, the owner's commits never run
// a checkpoint themselves below the bound, and a WAL the writes outrun still starts
// again.
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "store/sqlite_db.h"
#include "store/wal_checkpointer.h"

using namespace gateway;
namespace fs = std::filesystem;

namespace {

struct TempDb {
  std::string dir;
  std::string path;
  store::SqliteDb db;
  TempDb() {
    dir = fs::temp_directory_path() / ("wal-ckpt-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(dir);
    fs::create_directories(dir);
    path = dir + "/t.db";
    REQUIRE(db.Open(path).ok());
    REQUIRE(db.Exec("PRAGMA page_size=1024; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;").ok());
    REQUIRE(db.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)").ok());
  }
  ~TempDb() {
    db.Close();
    fs::remove_all(dir);
  }
  // One commit of one row of `bytes` bytes: about bytes / 1 KiB WAL frames.
  void Insert(int bytes) { REQUIRE(db.Exec("INSERT INTO t(v) VALUES(zeroblob(" + std::to_string(bytes) + "))").ok()); }
  // What SQLite says of the WAL now, from a connection of the test's own: frames in it
  // and frames already copied back (a PASSIVE checkpoint of nothing new reports both).
  std::pair<int, int> WalFrames() {
    store::SqliteDb other;
    REQUIRE(other.Open(path).ok());
    REQUIRE(other.QueryInt("SELECT count(*) FROM t").ok());  // opens the WAL
    int log = -1, done = -1;
    const int rc = sqlite3_wal_checkpoint_v2(other.handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
    REQUIRE((rc == SQLITE_OK || rc == SQLITE_BUSY));
    return {log, done};
  }
  static inline int counter = 0;
};

template <typename F>
bool WaitFor(F done, std::chrono::seconds limit = std::chrono::seconds(20)) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

}  // namespace

TEST_CASE("the WAL is checkpointed by the thread once it reaches the threshold", "[wal_checkpointer]") {
  TempDb t;
  store::WalCheckpointer ckpt;
  REQUIRE(ckpt.Attach(t.db.handle(), t.path, 64, true).ok());
  REQUIRE(ckpt.attached());
  // Below the threshold: SQLite's automatic checkpoint (1000 pages) is replaced, and
  // nothing asks the thread, so every frame stays in the WAL, none copied back.
  for (int i = 0; i < 10; ++i) t.Insert(2000);
  CHECK(ckpt.checkpoints() == 0);
  // Past it: the thread checkpoints.
  for (int i = 0; i < 40; ++i) t.Insert(2000);
  REQUIRE(WaitFor([&] { return ckpt.frames_copied() >= 64; }));
  CHECK(ckpt.checkpoints() >= 1);
  CHECK(ckpt.failures() == 0);
  CHECK(ckpt.longest_us() > 0);
  ckpt.Detach();
  CHECK_FALSE(ckpt.attached());
  // Everything is there from a fresh connection.
  store::SqliteDb other;
  REQUIRE(other.Open(t.path).ok());
  auto n = other.QueryInt("SELECT count(*) FROM t");
  REQUIRE(n.ok());
  CHECK(n.value() == 50);
}

TEST_CASE("while attached, the owner's commits run no checkpoint of their own", "[wal_checkpointer]") {
  // The hook replaces SQLite's automatic checkpoint (1000 pages, in the commit): with a
  // threshold never reached, the WAL grows past that, and nothing was checkpointed.
  TempDb t;
  store::WalCheckpointer ckpt;
  REQUIRE(ckpt.Attach(t.db.handle(), t.path, 1 << 30, true).ok());
  for (int i = 0; i < 700; ++i) t.Insert(2000);
  auto [log, done] = t.WalFrames();
  CHECK(log > 1000);
  CHECK(ckpt.checkpoints() == 0);
}

TEST_CASE("a WAL that the writes outrun is copied back whole at twice the threshold", "[wal_checkpointer]") {
  TempDb t;
  REQUIRE(t.db.Exec("PRAGMA journal_size_limit=65536").ok());
  store::WalCheckpointer ckpt;
  REQUIRE(ckpt.Attach(t.db.handle(), t.path, 32, true).ok());
  // Back-to-back commits, far faster than a facility's: whatever the thread's timing,
  // the WAL never holds more than twice the threshold plus one commit's frames, since
  // the commit that crosses it waits for a whole pass.
  int most = 0;
  for (int i = 0; i < 400; ++i) {
    t.Insert(3000);
    const auto wal = fs::exists(t.path + "-wal") ? fs::file_size(t.path + "-wal") : 0;
    most = std::max<int>(most, static_cast<int>(wal / (1024 + 24)));
  }
  INFO("largest WAL seen: " << most << " frames");
  CHECK(most <= 2 * 32 + 8);
  CHECK(ckpt.frames_copied() > 0);
  CHECK(ckpt.failures() == 0);
}
