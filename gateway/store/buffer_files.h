// Buffer files: what the Outbox does with the files under data_dir when they are not
// what they should be: a path that is not a usable file or directory, a file SQLite
// claims is corrupt, a file proven corrupt and moved aside, and what can still be read
// from it.
//
// Why apart from the Outbox: these are rare, slow paths (a full integrity check, a
// copy of every readable row) with rules of their own: an SD card that returns I/O
// errors for a moment must never cost a healthy buffer, so a file is moved aside only
// when SQLite proves it damaged, and what is moved aside is still delivered.
//
// Free functions, called on the Outbox's thread only.
#pragma once

#include <cstdint>
#include <string>

#include "gateway/status.h"
#include "store/sqlite_db.h"

namespace gateway::store {

// Before SQLite opens anything: data_dir is a directory (created if missing) this
// process may write, and buffer.db and its -wal/-shm are regular files (or absent). A
// problem comes back as kInvalidArgument with one line naming it: the operator must act,
// and retrying would not help.
Status CheckBufferPaths(const std::string& dir, const std::string& db_path);

// Whether SQLite proves the open database (at `path`) damaged: a full
// `PRAGMA quick_check` that reports problems, twice, the second time on a connection of
// its own. An I/O error during a check is not proof (it comes back as that error); "ok"
// means the earlier corruption error was the medium's, not the file's. `problems`
// receives the first lines of the check's report.
Result<bool> ProvenCorrupt(SqliteDb& db, const std::string& path, std::string* problems);

// Renames path and its -wal/-shm to path.corrupt-<UTC time>; returns the new name, or
// an empty string if the rename failed.
std::string MoveAside(const std::string& path);

struct Salvage {
  uint64_t rows = 0;          // outbox rows copied
  uint64_t other_rows = 0;    // rows of the other tables (metrics, history, meta...)
  int64_t max_seq = 0;        // the largest outbox seq copied
  bool complete = false;      // every table was read to its end without an error
};

// Copies every row that can be read from the file at `aside` into `fresh` (same schema
// version or older: common columns only), outbox rows with their own seq so that the
// drain keeps its order. Unreadable stretches of the outbox are skipped. One
// transaction on `fresh`.
Result<Salvage> SalvageInto(SqliteDb& fresh, const std::string& aside);

// Deletes path and its -wal/-shm (an aside file whose every row was salvaged).
void RemoveWithSidecars(const std::string& path);

}  // namespace gateway::store
