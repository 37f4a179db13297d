#include "store/buffer_files.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <set>
#include <vector>

namespace gateway::store {

namespace fs = std::filesystem;

namespace {

const char* const kSidecars[] = {"-wal", "-shm"};

Status Unusable(const std::string& what) { return Status::InvalidArgument(what); }

Status CheckFile(const std::string& path) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return Unusable(path + " cannot be examined: " + std::strerror(errno));
  }
  if (S_ISLNK(st.st_mode)) {
    std::error_code ec;
    const auto target = fs::read_symlink(path, ec);
    if (stat(path.c_str(), &st) != 0) {
      return Unusable(path + " is a symbolic link to '" + target.string() + "', which " +
                      (errno == ENOENT ? "does not exist" : std::string("cannot be reached: ") + std::strerror(errno)) +
                      "; remove the link or restore its target");
    }
  }
  if (S_ISDIR(st.st_mode)) return Unusable(path + " is a directory, not a buffer file; move it out of the way");
  if (!S_ISREG(st.st_mode)) return Unusable(path + " is not a regular file; move it out of the way");
  return Status::Ok();
}

std::vector<std::string> Columns(SqliteDb& db, const std::string& schema, const std::string& table) {
  std::vector<std::string> out;
  auto st = db.Prepare("SELECT name FROM pragma_table_info(?, ?)");
  if (!st.ok()) return out;
  st->BindText(1, table);
  st->BindText(2, schema);
  for (auto row = st->Step(); row.ok() && row.value(); row = st->Step()) out.push_back(st->Text(0));
  return out;
}

std::string Join(const std::vector<std::string>& cols, const char* each) {
  std::string s;
  for (const auto& c : cols) {
    if (!s.empty()) s += ", ";
    s += each[0] == '?' ? std::string("?") : "\"" + c + "\"";
  }
  return s;
}

}  // namespace

Status CheckBufferPaths(const std::string& dir, const std::string& db_path) {
  struct stat st {};
  if (stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) return Unusable("data_dir " + dir + " is not a directory");
  } else if (errno == ENOENT) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return Unusable("cannot create data_dir " + dir + ": " + ec.message());
    spdlog::info("buffer: created data_dir {}", dir);
  } else {
    return Unusable("data_dir " + dir + " cannot be examined: " + std::strerror(errno));
  }
  if (access(dir.c_str(), W_OK | X_OK) != 0) {
    const int e = errno;
    struct statvfs vfs {};
    const bool ro = e == EROFS || (statvfs(dir.c_str(), &vfs) == 0 && (vfs.f_flag & ST_RDONLY));
    return Unusable("data_dir " + dir + " is not writable: " +
                    (ro ? std::string("its filesystem is mounted read-only (an SD card with errors is often "
                                      "remounted read-only: check dmesg, fsck it)")
                        : std::string(std::strerror(e)) + " for uid " + std::to_string(getuid())));
  }
  Status s = CheckFile(db_path);
  for (const char* suffix : kSidecars) {
    if (s.ok()) s = CheckFile(db_path + suffix);
  }
  return s;
}

namespace {

Result<bool> QuickCheckFinds(SqliteDb& db, std::string* problems) {
  // quick_check reads every page and verifies the b-trees (not the indexes' contents):
  // enough to tell a damaged file from a medium that failed one read. A check that
  // stops with SQLITE_CORRUPT has read the damage itself.
  auto st = db.Prepare("PRAGMA quick_check(10)");
  if (!st.ok()) {
    if (st.status().code() == Status::Code::kCorruption) {
      *problems = st.status().message();
      return true;
    }
    return st.status();
  }
  std::string report;
  for (;;) {
    auto row = st->Step();
    if (!row.ok()) {
      if (row.status().code() != Status::Code::kCorruption) return row.status();
      *problems = row.status().message();
      return true;
    }
    if (!row.value()) break;
    if (!report.empty()) report += "; ";
    report += st->Text(0);
  }
  std::replace(report.begin(), report.end(), '\n', ' ');
  *problems = report;
  return report != "ok";
}

}  // namespace

Result<bool> ProvenCorrupt(SqliteDb& db, const std::string& path, std::string* problems) {
  std::string first;
  auto proven = QuickCheckFinds(db, &first);
  if (!proven.ok() || !proven.value()) {
    if (proven.ok()) *problems = first;
    return proven;
  }
  // A second check on a connection of its own, with nothing cached, must find the same:
  // one bad read of a failing card does not repeat at the same place.
  SqliteDb fresh;
  Status s = fresh.Open(path);
  if (!s.ok()) return s;
  std::string second;
  auto again = QuickCheckFinds(fresh, &second);
  if (!again.ok()) return again.status();
  *problems = again.value() ? second : second + " (a first check had found: " + first + ")";
  return again.value();
}

std::string MoveAside(const std::string& path) {
  char stamp[32];
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  const std::string aside = path + ".corrupt-" + stamp;
  std::error_code ec;
  fs::rename(path, aside, ec);
  if (ec) {
    spdlog::error("buffer: cannot move {} aside: {}", path, ec.message());
    return {};
  }
  for (const char* suffix : kSidecars) {
    std::error_code ec2;
    fs::rename(path + suffix, aside + suffix, ec2);
  }
  return aside;
}

void RemoveWithSidecars(const std::string& path) {
  std::error_code ec;
  fs::remove(path, ec);
  for (const char* suffix : kSidecars) fs::remove(path + suffix, ec);
}

Result<Salvage> SalvageInto(SqliteDb& fresh, const std::string& aside) {
  Salvage out;
  // A connection of its own, so that the old file's errors never touch the fresh one's
  // transaction. Opened read-write (the file is ours, never created here) so that
  // SQLite can replay the WAL that was moved aside with it.
  SqliteDb old;
  Status s = old.Open(aside);
  if (!s.ok()) return s;
  bool complete = true;
  std::vector<std::string> tables;
  {
    auto st = fresh.Prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'");
    if (!st.ok()) return st.status();
    for (auto row = st->Step(); row.ok() && row.value(); row = st->Step()) tables.push_back(st->Text(0));
  }
  s = fresh.Exec("BEGIN IMMEDIATE");
  if (!s.ok()) return s;
  for (const auto& table : tables) {
    std::set<std::string> theirs;
    for (auto& c : Columns(old, "main", table)) theirs.insert(std::move(c));
    std::vector<std::string> cols;
    for (const auto& c : Columns(fresh, "main", table)) {
      if (theirs.count(c)) cols.push_back(c);
    }
    if (theirs.empty()) {
      // Not in the old file (no schema at all, or one older than this table): whatever
      // it held of this kind is not here to copy, so the file is kept.
      complete = false;
      continue;
    }
    if (cols.empty()) continue;
    const bool outbox = table == "outbox";
    auto ins = fresh.Prepare("INSERT OR IGNORE INTO \"" + table + "\"(" + Join(cols, "\"") + ") VALUES(" +
                             Join(cols, "?") + ")");
    if (!ins.ok()) {
      complete = false;
      continue;
    }
    // The outbox is read in seq order from a cursor, so that a damaged stretch can be
    // skipped (doubling the jump) and the rows after it still read.
    const std::string select = "SELECT " + Join(cols, "\"") + " FROM \"" + table + "\"" +
                               (outbox ? " WHERE seq > ? ORDER BY seq" : "");
    const int seq_col = outbox ? static_cast<int>(std::find(cols.begin(), cols.end(), "seq") - cols.begin()) : 0;
    int64_t after = 0;
    int64_t jump = 1;
    for (int attempt = 0; attempt < 64; ++attempt) {
      auto sel = old.Prepare(select);
      if (!sel.ok()) {
        complete = false;
        break;
      }
      if (outbox) sel->BindInt(1, after);
      bool failed = false;
      for (;;) {
        auto row = sel->Step();
        if (!row.ok()) {
          failed = true;
          break;
        }
        if (!row.value()) break;
        for (size_t i = 0; i < cols.size(); ++i) ins->BindColumn(static_cast<int>(i) + 1, *sel, static_cast<int>(i));
        s = ins->Run();
        ins->Reset();
        if (!s.ok()) {
          fresh.Exec("ROLLBACK");
          return s;  // the fresh file cannot take it: nothing half-copied
        }
        if (outbox) {
          after = sel->Int(seq_col);
          out.max_seq = std::max(out.max_seq, after);
          jump = 1;
          ++out.rows;
        } else {
          ++out.other_rows;
        }
      }
      if (!failed) break;
      complete = false;
      if (!outbox) break;
      after += jump;
      jump *= 2;
    }
  }
  s = fresh.Exec("COMMIT");
  if (!s.ok()) {
    fresh.Exec("ROLLBACK");
    return s;
  }
  out.complete = complete;
  return out;
}

}  // namespace gateway::store
