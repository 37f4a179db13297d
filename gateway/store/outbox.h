// Outbox: the durable buffer between acceptance and delivery (SQLite, WAL).
//
// The core owns it; it lives on the core's event-loop thread and nothing else may call
// it. A reading is "accepted" only once Commit() has returned ok: from then on it is on
// disk (synchronous=FULL: it survives power loss) until the uplink reports the
// broker's PUBACK through Ack(). Rows are drained oldest first by seq. The one thing
// done off that thread is the WAL's checkpoint: a WalCheckpointer it owns runs it on a
// thread and connection of its own (store/wal_checkpointer.h), so no commit waits for it.
//
// Deletes of acknowledged rows are batched into the next commit: a crash between
// PUBACK and that commit re-sends them (at-least-once; platforms de-duplicate), it
// never loses them. For the same reason a commit of deletes alone (CommitDeletes) is
// not fsynced.
//
// Flash: a new file gets 1 KiB pages (a commit of a few readings touches a handful of
// pages, each written whole), and the model's state is padded to a steady size so that
// SQLite overwrites it in place (PaddedForOverwrite).
//
// The disk cap: when the file's used pages plus its WAL exceed buffer.max_disk_bytes
// the oldest rows that are not in flight are dropped, counted in dropped_total()
// (persisted) and logged (the first drop at once, then a summary with the running total
// at most once a minute).
//
// A failing medium is not a damaged file. I/O errors come back as kIoError and the
// caller tries again later (the drivers keep their readings); nothing is moved. A file
// is moved aside (buffer.db.corrupt-<time>) only when SQLite proves it damaged (a full
// quick_check with findings), and every row that can still be read from it is copied
// into the fresh buffer with its seq, so what it held is still delivered. If the
// database cannot be reopened, every call answers kIoError and reopening is retried
// with backoff; no statement outlives its connection.
//
// A full disk: only new readings are refused (raw sensor readings, kNoSpace, while
// less than kDiskHeadroomBytes are free); derived metrics, deletes, start-up and the
// drain go on. A DiskReserve file is given up when SQLite itself hits a full disk, so
// opening and deleting work even with no byte free, and taken again once there is room.
//
// Damage SQLite cannot see: buffer.mark, beside the file, holds the last seq
// committed (written after each commit, not synced: it may lag, never lead). A start
// that finds fewer rows than the mark says were committed logs how many accepted
// readings are missing (a lost or damaged WAL) and counts them in lost_at_open().
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "gateway/clock.h"
#include "gateway/config.h"
#include "gateway/reading.h"
#include "gateway/status.h"
#include "store/disk_reserve.h"
#include "store/sqlite_db.h"
#include "store/wal_checkpointer.h"

namespace gateway::store {

struct StoredReading {
  int64_t seq = 0;
  uint32_t metric_id = 0;
  int64_t ts_ms = 0;
  Value value;
  Quality quality = Quality::kGood;
};

struct MetricInfo {
  std::string facility;
  std::string name;
};

struct LatestValue {
  std::string name;
  Value value;
  int64_t ts_ms = 0;
  uint32_t metric_id = 0;  // as in StoredReading (the uplink's metric alias is made of it)
};

class Outbox {
 public:
  // Opens (or creates) dir/buffer.db, migrating its schema; a file proven corrupt is
  // moved aside, replaced and salvaged. kInvalidArgument: a path that is not usable (not
  // a directory, not a regular file, read-only): the operator must act. kIoError: the
  // medium failed; trying again may work.
  static Result<std::unique_ptr<Outbox>> Open(const std::string& dir, const BufferConfig& config,
                                              const Clock& clock);
  ~Outbox();

  // Work another store component does inside the commit transaction (the history's
  // rollups), so that it is on disk exactly when the batch is. May run twice for one
  // Commit (after a corrupt file was replaced), so it must only write.
  using TxnHook = std::function<Status(SqliteDb&)>;

  // One transaction: append readings, store the facility model's state, run the hook,
  // delete the ranges acknowledged since the last commit, enforce the disk cap.
  Status Commit(const std::vector<Reading>& readings, const std::string* model_state,
                const TxnHook* hook = nullptr);

  // One transaction that only deletes the ranges acknowledged since the last commit,
  // without an fsync when synchronous is full: a delete lost in a power cut re-sends
  // its rows (a duplicate), it loses nothing, and the next commit of readings fsyncs the
  // WAL with this transaction in it. On an SD card this halves the syncs at low rates.
  Status CommitDeletes();

  // The connection, for store components that share the file (history) to read with.
  // Owner's thread only; not valid across a Commit that replaced a corrupt file. Closed
  // (every call answers kIoError) while the buffer cannot be reopened.
  SqliteDb& db() { return db_; }
  bool is_open() const { return db_.is_open(); }

  // The broker acknowledged rows lo..hi (inclusive). Deleted at the next commit.
  void Ack(int64_t lo, int64_t hi);
  bool HasPendingAcks() const { return !acked_.empty(); }
  uint64_t pending_ack_rows() const { return acked_rows_; }

  // Up to `limit` rows with seq > after_seq, oldest first.
  Result<std::vector<StoredReading>> ReadAfter(int64_t after_seq, size_t limit);

  // Rows at or below this seq are being published: the cap must not drop them, or
  // buffer/dropped would count readings that the platform does receive.
  void set_in_flight_up_to(int64_t seq) { in_flight_up_to_ = seq; }

  const MetricInfo& metric(uint32_t id) const { return metrics_by_id_.at(id); }
  // The last value of every metric of a facility, for its DBIRTH.
  Result<std::vector<LatestValue>> Latest(const std::string& facility);

  uint64_t depth() const { return depth_; }
  uint64_t dropped_total() const { return dropped_total_; }
  // Accepted readings found missing when the buffer was opened (buffer.mark ahead of
  // the file), and readings that a move-aside could not salvage, since this start.
  uint64_t lost_at_open() const { return lost_at_open_; }
  uint64_t moved_aside() const { return moved_aside_; }
  bool reserve_held() const { return reserve_held_; }
  int64_t max_accepted_ts() const { return max_accepted_ts_; }
  // The newest timestamp of a raw sensor reading ever accepted: where a replaying
  // driver (the simulator) resumes after a restart.
  int64_t max_sensor_ts() const { return max_sensor_ts_; }
  std::optional<int64_t> OldestTs();
  uint64_t file_bytes_used();

  Result<std::string> GetMeta(const std::string& key);
  Status SetMeta(const std::string& key, const std::string& value);  // own transaction

  const std::string& path() const { return path_; }
  const WalCheckpointer& checkpointer() const { return checkpointer_; }

 private:
  Outbox(std::string dir, const BufferConfig& config, const Clock& clock);
  bool AllowsSqliteFull(const std::vector<Reading>& readings) const;
  Status OpenFile();
  Result<std::string> QueryText(const std::string& sql);
  Status OpenOrRecover();
  Status OpenReleasingReserve();
  Status EnsureOpen();
  void ReleaseReserve();
  uint64_t FreeBytes() const;
  // A kCorruption status from SQLite: proven (file moved aside, fresh one open and
  // salvaged: Ok, the caller repeats its work) or not (kIoError).
  Status OnCorruption(const Status& claim);
  Status Replace(const std::string& reason);
  void CloseDb();
  void ClearCaches();
  void CheckMark();
  void WriteMark();
  void LogDrops(bool force);
  uint64_t WalBytes() const;
  Status PrepareStatements();
  Status LoadCaches();
  Status CommitOnce(const std::vector<Reading>& readings, const std::string* model_state, const TxnHook* hook);
  bool HasHeadroom(size_t new_rows);
  Status CommitRefusedForSpace();
  Result<uint32_t> MetricId(const Reading& r, DataType type);
  Status EnforceCap();

  std::string dir_;
  std::string path_;
  BufferConfig config_;
  const Clock& clock_;
  SqliteDb db_;
  WalCheckpointer checkpointer_;  // on db_'s file; detached before db_ closes
  Statement insert_row_, insert_metric_, update_latest_, delete_range_, read_after_, put_meta_, freelist_;
  std::unordered_map<std::string, uint32_t> metric_ids_;  // facility + '\0' + name
  std::unordered_map<uint32_t, MetricInfo> metrics_by_id_;
  std::vector<std::pair<int64_t, int64_t>> acked_;
  uint64_t acked_rows_ = 0;
  uint64_t depth_ = 0;
  uint64_t dropped_total_ = 0;
  uint64_t dropped_since_log_ = 0;
  int64_t last_drop_log_ms_ = 0;
  int64_t max_accepted_ts_ = 0;
  int64_t max_sensor_ts_ = 0;
  int64_t in_flight_up_to_ = 0;
  int64_t page_size_ = 4096;
  int64_t last_seq_ = 0;  // sqlite_sequence of the outbox: the last seq ever committed
  int64_t marked_seq_ = -1;
  int mark_fd_ = -1;
  uint64_t lost_at_open_ = 0;
  uint64_t moved_aside_ = 0;
  DiskReserve reserve_;
  bool reserve_held_ = false;
  bool reserve_owed_ = false;
  // Reopening after a failed reopen: at most every reopen_delay_ (doubling to 30 s).
  std::chrono::steady_clock::time_point next_reopen_at_{};
  std::chrono::milliseconds reopen_delay_{500};
  std::string closed_because_;
  // A corruption claim that quick_check refuted is not re-checked for a while: a card
  // that keeps failing would otherwise make every commit a full read of the file.
  std::chrono::steady_clock::time_point corruption_checked_at_{};
  // Metrics inserted by the transaction under way: forgotten again if it rolls back.
  std::vector<std::string> new_metric_keys_;
  // Free space kept on the buffer's filesystem: room for a full WAL (4 MiB) and for
  // checkpointing it into the database (4 MiB), so deletes can always be written.
  static constexpr uint64_t kDiskHeadroomBytes = 8u << 20;
  static constexpr uint64_t kMaxWalBytes = 4u << 20;
  static constexpr int kNewFilePageSize = 1024;
  // HasHeadroom measures (statvfs and the free-page count) at most every kSpaceCheckEvery
  // while the last measure, less a generous estimate of what was written since, stays
  // clear of the headroom: a commit on the hot path then costs no syscall.
  static constexpr std::chrono::milliseconds kSpaceCheckEvery{500};
  static constexpr uint64_t kBytesPerRowEstimate = 256;  // row, index and WAL copy, rounded up
  std::chrono::steady_clock::time_point space_checked_at_{};
  uint64_t space_measured_ = 0;
  uint64_t space_spent_since_ = 0;
  uint64_t refused_for_space_ = 0;
  int64_t last_space_log_ms_ = 0;
  int64_t last_space_checkpoint_ms_ = 0;
};

}  // namespace gateway::store
