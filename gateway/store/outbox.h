// Outbox: the durable buffer between acceptance and delivery (SQLite, WAL).
//
// The core owns it; it lives on the core's event-loop thread and nothing else may call
// it. A reading is "accepted" only once Commit() has returned ok: from then on it is on
// disk (synchronous=FULL: it survives power loss) until the uplink reports the
// broker's PUBACK through Ack(). Rows are drained oldest first by seq.
//
// Deletes of acknowledged rows are batched into the next commit: a crash between
// PUBACK and that commit re-sends them (at-least-once; platforms de-duplicate), it
// never loses them.
//
// The disk cap: when the file's used pages exceed buffer.max_disk_bytes the oldest
// rows that are not in flight are dropped, counted in dropped_total() (persisted) and
// logged at most once a minute. A file SQLite reports corrupt is moved aside as
// buffer.db.corrupt-<time> and a fresh one started, so the gateway never crash-loops.
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
#include "store/sqlite_db.h"

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
};

class Outbox {
 public:
  // Opens (or creates) dir/buffer.db, migrating its schema; a corrupt file is moved
  // aside and replaced.
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

  // The connection, for store components that share the file (history) to read with.
  // Owner's thread only; not valid across a Commit that replaced a corrupt file.
  SqliteDb& db() { return db_; }

  // The broker acknowledged rows lo..hi (inclusive). Deleted at the next commit.
  void Ack(int64_t lo, int64_t hi);
  bool HasPendingAcks() const { return !acked_.empty(); }

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
  int64_t max_accepted_ts() const { return max_accepted_ts_; }
  // The newest timestamp of a raw sensor reading ever accepted: where a replaying
  // driver (the simulator) resumes after a restart.
  int64_t max_sensor_ts() const { return max_sensor_ts_; }
  std::optional<int64_t> OldestTs();
  uint64_t file_bytes_used();

  Result<std::string> GetMeta(const std::string& key);
  Status SetMeta(const std::string& key, const std::string& value);  // own transaction

  const std::string& path() const { return path_; }

 private:
  Outbox(std::string dir, const BufferConfig& config, const Clock& clock);
  Status OpenFile();
  Result<std::string> QueryText(const std::string& sql);
  Status OpenOrRecover();
  void CloseDb();
  void MoveAside(const std::string& reason);
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
  Statement insert_row_, insert_metric_, update_latest_, delete_range_, read_after_, put_meta_, freelist_;
  std::unordered_map<std::string, uint32_t> metric_ids_;  // facility + '\0' + name
  std::unordered_map<uint32_t, MetricInfo> metrics_by_id_;
  std::vector<std::pair<int64_t, int64_t>> acked_;
  uint64_t depth_ = 0;
  uint64_t dropped_total_ = 0;
  uint64_t dropped_since_log_ = 0;
  int64_t last_drop_log_ms_ = 0;
  int64_t max_accepted_ts_ = 0;
  int64_t max_sensor_ts_ = 0;
  int64_t in_flight_up_to_ = 0;
  int64_t page_size_ = 4096;
  // Metrics inserted by the transaction under way: forgotten again if it rolls back.
  std::vector<std::string> new_metric_keys_;
  // Free space kept on the buffer's filesystem: room for a full WAL (4 MiB) and for
  // checkpointing it into the database (4 MiB), so deletes can always be written.
  static constexpr uint64_t kDiskHeadroomBytes = 8u << 20;
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
