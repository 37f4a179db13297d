// SqliteDb and Statement: a thin RAII layer over the SQLite C API that reports
// failures as Status, so no SQLite error code escapes the store.
//
// Owned by one store component and used only from the thread that owns it (the core's
// event-loop thread); SQLite is opened with SQLITE_OPEN_NOMUTEX for that reason.
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

  void BindInt(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  void BindDouble(int i, double v) { sqlite3_bind_double(stmt_, i, v); }
  void BindText(int i, std::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void BindNull(int i) { sqlite3_bind_null(stmt_, i); }

  // Step: true when a row is available, false when done; errors as Status.
  Result<bool> Step();
  // Runs to completion (for statements that return no rows).
  Status Run();
  void Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  double Double(int col) const { return sqlite3_column_double(stmt_, col); }
  std::string Text(int col) const;
  int Type(int col) const { return sqlite3_column_type(stmt_, col); }

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

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
  int64_t Changes() const { return sqlite3_changes64(db_); }
  sqlite3* handle() { return db_; }

  // Maps a SQLite result code to a Status (SQLITE_CORRUPT and SQLITE_NOTADB become
  // kCorruption so that the owner can move the file aside).
  Status Error(int rc, std::string_view what) const;

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace gateway::store
