#include "store/sqlite_db.h"

#include <cstring>

namespace gateway::store {

namespace {

Status Closed() { return Status::IoError("the buffer's database is not open"); }

// The OS error behind an I/O failure says what the operator must fix: "disk I/O
// error" alone does not tell a dying card (EIO) from a read-only remount (EROFS).
std::string OsError(sqlite3* db, int rc) {
  const int code = rc & 0xff;
  if (code != SQLITE_IOERR && code != SQLITE_CANTOPEN && code != SQLITE_READONLY && code != SQLITE_FULL) return {};
  const int e = db ? sqlite3_system_errno(db) : 0;
  return e ? std::string(" [") + std::strerror(e) + "]" : std::string();
}

Status FromCode(int rc, std::string msg) {
  const int code = rc & 0xff;
  if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB) return Status::Corruption(std::move(msg));
  if (code == SQLITE_FULL) return Status::NoSpace(std::move(msg));
  return Status::IoError(std::move(msg));
}

}  // namespace

Statement& Statement::operator=(Statement&& o) noexcept {
  if (this != &o) {
    if (stmt_) sqlite3_finalize(stmt_);
    db_ = o.db_;
    stmt_ = o.stmt_;
    o.stmt_ = nullptr;
  }
  return *this;
}

Statement::~Statement() {
  if (stmt_) sqlite3_finalize(stmt_);
}

Result<bool> Statement::Step() {
  if (!stmt_) return Closed();
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return FromCode(rc, std::string(sqlite3_errstr(rc)) + ": " + sqlite3_errmsg(db_) + OsError(db_, rc));
}

Status Statement::Run() {
  if (!stmt_) return Closed();
  auto r = Step();
  while (r.ok() && r.value()) r = Step();
  Status s = r.status();
  sqlite3_reset(stmt_);
  return s;
}

std::string Statement::Text(int col) const {
  if (!stmt_) return {};
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}

SqliteDb::~SqliteDb() { Close(); }

Status SqliteDb::Open(const std::string& path, bool read_only) {
  Close();
  int rc = sqlite3_open_v2(path.c_str(), &db_,
                           (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                               SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    Status s = Error(rc, "open " + path);
    Close();
    return s;
  }
  sqlite3_extended_result_codes(db_, 1);
  // A busy handler only matters if an operator opens the file with the sqlite3 shell
  // while the gateway runs; the gateway itself is the only writer.
  sqlite3_busy_timeout(db_, 2000);
  return Status::Ok();
}

void SqliteDb::Close() {
  if (db_) {
    sqlite3_close_v2(db_);
    db_ = nullptr;
  }
}

Status SqliteDb::Error(int rc, std::string_view what) const {
  std::string msg = std::string(what) + ": " + sqlite3_errstr(rc);
  if (db_) msg += std::string(" (") + sqlite3_errmsg(db_) + ")" + OsError(db_, rc);
  return FromCode(rc, std::move(msg));
}

Status SqliteDb::Exec(const std::string& sql) {
  if (!db_) return Closed();
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = (err ? err : sqlite3_errstr(rc)) + OsError(db_, rc);
    sqlite3_free(err);
    return FromCode(rc, std::move(msg));
  }
  return Status::Ok();
}

Result<Statement> SqliteDb::Prepare(std::string_view sql) {
  if (!db_) return Closed();
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) return Error(rc, "prepare " + std::string(sql.substr(0, 60)));
  return Statement(db_, stmt);
}

Result<int64_t> SqliteDb::QueryInt(const std::string& sql) {
  if (!db_) return Closed();
  auto stmt = Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  auto row = stmt->Step();
  if (!row.ok()) return row.status();
  if (!row.value()) return Status::NotFound("no row: " + sql);
  return stmt->Int(0);
}

}  // namespace gateway::store
