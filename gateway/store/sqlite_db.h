// SqliteDb and Statement: a thin RAII layer over the SQLite C API that reports
// failures as Status, so no SQLite error code escapes the store.
//
// Owned by one store component and used only from the thread that owns it (the core's
// event-loop thread); SQLite is opened with SQLITE_OPEN_NOMUTEX for that reason.
//
// Every call is safe on a closed database or an empty Statement: it reports an I/O
// error instead of touching a null handle, so an owner that lost its file (moved aside,
// reopen failed) degrades to errors, never to a crash.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "gateway/status.h"

namespace gateway::store {

class Statement {
 public:
  Statement() = default;
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement(Statement&& o) noexcept : db_(o.db_), stmt_(o.stmt_) { o.stmt_ = nullptr; }
  Statement& operator=(Statement&& o) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  bool valid() const { return stmt_ != nullptr; }
  void BindInt(int i, int64_t v) {
    if (stmt_) sqlite3_bind_int64(stmt_, i, v);
  }
  void BindDouble(int i, double v) {
    if (stmt_) sqlite3_bind_double(stmt_, i, v);
  }
  void BindText(int i, std::string_view v) {
    if (stmt_) sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void BindNull(int i) {
    if (stmt_) sqlite3_bind_null(stmt_, i);
  }
  // Binds column `col` of the row `from` is on, whatever its type (copying rows
  // between two files).
  void BindColumn(int i, const Statement& from, int col) {
    if (stmt_ && from.stmt_) sqlite3_bind_value(stmt_, i, sqlite3_column_value(from.stmt_, col));
  }

  // Step: true when a row is available, false when done; errors as Status.
  Result<bool> Step();
  // Runs to completion (for statements that return no rows).
  Status Run();
  void Reset() {
    if (!stmt_) return;
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  int64_t Int(int col) const { return stmt_ ? sqlite3_column_int64(stmt_, col) : 0; }
  double Double(int col) const { return stmt_ ? sqlite3_column_double(stmt_, col) : 0.0; }
  std::string Text(int col) const;
  int Type(int col) const { return stmt_ ? sqlite3_column_type(stmt_, col) : SQLITE_NULL; }

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

// A JSON state kept in one row and rewritten at every commit (the facility model's, the
// history's), padded with trailing blanks (valid JSON whitespace) to a multiple of 256
// bytes: SQLite overwrites a row of unchanged size in place, writing only the pages
// whose bytes changed, where a new size frees and allocates its overflow pages (and
// rewrites the freelist and page 1) at every commit.
inline std::string PaddedForOverwrite(std::string json) {
  json.resize((json.size() / 256 + 1) * 256, ' ');
  return json;
}

class SqliteDb {
 public:
  SqliteDb() = default;
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  // read_only: for the report command, which reads a live gateway's file and must
  // neither create one nor take a write lock.
  Status Open(const std::string& path, bool read_only = false);
  void Close();
  bool is_open() const { return db_ != nullptr; }

  Status Exec(const std::string& sql);
  Result<Statement> Prepare(std::string_view sql);
  Result<int64_t> QueryInt(const std::string& sql);  // first column of the first row
  int64_t Changes() const { return db_ ? sqlite3_changes64(db_) : 0; }
  sqlite3* handle() { return db_; }

  // Maps a SQLite result code to a Status: SQLITE_CORRUPT and SQLITE_NOTADB become
  // kCorruption (a claim the owner verifies before it moves a file aside: a failing SD
  // card can make SQLite say "malformed" about a healthy file), SQLITE_FULL kNoSpace,
  // everything else kIoError, with the OS error (EIO, EROFS, EACCES...) where SQLite
  // saw one.
  Status Error(int rc, std::string_view what) const;

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace gateway::store
