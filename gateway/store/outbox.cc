// Outbox (see the header). Past 500 lines because the buffer's file, its commits, the
// full or failing card (headroom, reserve, I/O errors versus corruption) and the drain
// cursor all act on the one connection and must agree on its state; the reserve file
// and the salvage of a damaged file are already apart (disk_reserve, buffer_files).
#include "store/outbox.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>

#include "store/buffer_files.h"
#include "store/migrations.h"

namespace gateway::store {

namespace {

void BindValue(Statement& st, int i, const Value& v) {
  switch (v.index()) {
    case 0: st.BindInt(i, std::get<bool>(v) ? 1 : 0); break;
    case 1: st.BindInt(i, std::get<int32_t>(v)); break;
    case 2: st.BindInt(i, std::get<int64_t>(v)); break;
    case 3: st.BindInt(i, std::get<uint32_t>(v)); break;
    // SQLite integers are signed 64-bit: a uint64 is stored as its bit pattern and
    // read back through the row's datatype.
    case 4: st.BindInt(i, static_cast<int64_t>(std::get<uint64_t>(v))); break;
    case 5: st.BindDouble(i, std::get<float>(v)); break;
    case 6: st.BindDouble(i, std::get<double>(v)); break;
    case 7: st.BindText(i, std::get<std::string>(v)); break;
    // A DataSet (the daily report) is rare and small: kept as JSON text.
    case 8: st.BindText(i, DataSetToJson(std::get<DataSet>(v))); break;
  }
}

Value ColumnValue(const Statement& st, int col, DataType type) {
  switch (type) {
    case DataType::kBoolean: return st.Int(col) != 0;
    case DataType::kInt32: return static_cast<int32_t>(st.Int(col));
    case DataType::kInt64: return st.Int(col);
    case DataType::kUInt32: return static_cast<uint32_t>(st.Int(col));
    case DataType::kUInt64: return static_cast<uint64_t>(st.Int(col));
    case DataType::kFloat: return static_cast<float>(st.Double(col));
    case DataType::kDouble: return st.Double(col);
    case DataType::kString: return st.Text(col);
    case DataType::kDataSet: {
      auto d = DataSetFromJson(st.Text(col));
      // Written by us in the same transaction as its row: a damaged one is replaced by
      // an empty table rather than stopping the drain.
      return d.ok() ? Value(std::move(d.value())) : Value(DataSet{});
    }
  }
  return st.Text(col);
}

std::string MetricKey(const std::string& facility, const std::string& name) {
  std::string k;
  k.reserve(facility.size() + name.size() + 1);
  k.append(facility).push_back('\0');
  k.append(name);
  return k;
}

}  // namespace

Outbox::Outbox(std::string dir, const BufferConfig& config, const Clock& clock)
    : dir_(std::move(dir)),
      path_(dir_ + "/buffer.db"),
      config_(config),
      clock_(clock),
      reserve_(dir_ + "/buffer.reserve") {}

Outbox::~Outbox() {
  // Deletes acknowledged since the last commit are worth keeping: without them the
  // next start re-sends those rows (harmless, but needless traffic).
  if (db_.is_open() && !acked_.empty()) Commit({}, nullptr);
  CloseDb();
  if (mark_fd_ >= 0) ::close(mark_fd_);
}

Result<std::unique_ptr<Outbox>> Outbox::Open(const std::string& dir, const BufferConfig& config,
                                             const Clock& clock) {
  std::unique_ptr<Outbox> box(new Outbox(dir, config, clock));
  Status s = CheckBufferPaths(dir, box->path_);
  if (!s.ok()) return s;
  s = box->OpenReleasingReserve();
  if (!s.ok()) return s;
  box->CheckMark();
  return box;
}

Status Outbox::OpenReleasingReserve() {
  reserve_held_ = reserve_.held();
  Status s = OpenOrRecover();
  // With no byte free SQLite cannot create its -shm and -wal files, nor replay a WAL:
  // the reserve gives it the room (a full disk shows as SQLITE_FULL or, for the
  // shared-memory file, as an I/O error).
  if (reserve_held_ && (s.code() == Status::Code::kNoSpace ||
                        (s.code() == Status::Code::kIoError && FreeBytes() < (1u << 20)))) {
    ReleaseReserve();
    CloseDb();
    s = OpenOrRecover();
  }
  return s;
}

Status Outbox::OpenOrRecover() {
  Status s = OpenFile();
  if (s.code() == Status::Code::kCorruption) {
    // A second open and check, from nothing cached, must find the damage too: a card
    // that returns one bad read at start-up does not cost the buffer.
    CloseDb();
    Status again = OpenFile();
    if (again.code() != Status::Code::kCorruption) {
      if (again.ok()) spdlog::warn("buffer {}: a first check found '{}', a second found it intact", path_, s.message());
      return again;
    }
    s = Replace(again.message());
  }
  return s;
}

uint64_t Outbox::FreeBytes() const {
  struct statvfs fs {};
  if (statvfs(dir_.c_str(), &fs) != 0) return UINT64_MAX;
  return static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
}

void Outbox::ReleaseReserve() {
  if (reserve_.Release()) reserve_owed_ = true;
  reserve_held_ = false;
  space_checked_at_ = {};  // measure again at the next commit
}

Status Outbox::EnsureOpen() {
  if (db_.is_open()) return Status::Ok();
  const auto now = std::chrono::steady_clock::now();
  if (now < next_reopen_at_) return Status::IoError("the buffer is not open (" + closed_because_ + "); retrying");
  Status s = OpenReleasingReserve();
  if (s.ok()) {
    spdlog::info("buffer {} open again: {} readings waiting", path_, depth_);
    reopen_delay_ = std::chrono::milliseconds(500);
    return s;
  }
  CloseDb();
  closed_because_ = s.message();
  next_reopen_at_ = now + reopen_delay_;
  reopen_delay_ = std::min<std::chrono::milliseconds>(reopen_delay_ * 2, std::chrono::seconds(30));
  return Status::IoError("the buffer cannot be reopened (" + s.message() + "); retrying");
}

Status Outbox::OnCorruption(const Status& claim) {
  // SQLite says "malformed" when a page it reads does not parse, and a failing SD card
  // can hand it a bad page once. Only a full check that finds damage counts as proof.
  const auto now = std::chrono::steady_clock::now();
  if (corruption_checked_at_ != std::chrono::steady_clock::time_point{} &&
      now - corruption_checked_at_ < std::chrono::seconds(60)) {
    return Status::IoError(claim.message() + " (not moved aside: the last full check found the file intact)");
  }
  db_.Exec("ROLLBACK");
  std::string problems;
  auto proven = ProvenCorrupt(db_, path_, &problems);
  if (!proven.ok()) {
    // The check itself could not read the file: the medium, not the file.
    return Status::IoError(claim.message() + "; the check that would prove it failed too: " +
                           proven.status().message());
  }
  if (!proven.value()) {
    corruption_checked_at_ = now;
    spdlog::warn("buffer {}: SQLite reported '{}', but a full check finds the file intact: taken for an I/O "
                 "error of the medium, nothing moved",
                 path_, claim.message());
    return Status::IoError(claim.message() + " (the file checks intact)");
  }
  return Replace(problems);
}

Status Outbox::Replace(const std::string& why) {
  // SQLite's integrity report spans lines; a log event stays on one.
  std::string reason = why;
  std::replace(reason.begin(), reason.end(), '\n', ' ');
  const uint64_t depth_before = depth_;
  const int64_t last_seq_before = last_seq_;
  CloseDb();
  const std::string aside = MoveAside(path_);
  if (aside.empty()) return Status::IoError("buffer " + path_ + " is corrupt (" + reason + ") and cannot be moved aside");
  ++moved_aside_;
  corruption_checked_at_ = std::chrono::steady_clock::now();
  ClearCaches();
  Status s = OpenFile();
  if (!s.ok()) return s;
  auto salvage = SalvageInto(db_, aside);
  if (!salvage.ok()) {
    spdlog::error("buffer {} is corrupt ({}); moved aside to {}; nothing could be salvaged from it: {}", path_, reason,
                  aside, salvage.status().ToString());
  } else {
    // Seqs keep rising across the replacement: the uplink's cursor and buffer.mark
    // both rely on a new row never getting a seq that was used before.
    const int64_t floor = std::max({last_seq_before, marked_seq_, salvage->max_seq});
    db_.Exec("UPDATE sqlite_sequence SET seq = max(seq, " + std::to_string(floor) + ") WHERE name = 'outbox'");
    db_.Exec("INSERT INTO sqlite_sequence(name, seq) SELECT 'outbox', " + std::to_string(floor) +
             " WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'outbox')");
    ClearCaches();
    s = LoadCaches();
    if (!s.ok()) return s;
    if (depth_before > salvage->rows) lost_at_open_ += depth_before - salvage->rows;
    spdlog::error("buffer {} is corrupt ({}); moved aside to {} and started a fresh buffer: {} waiting readings{} "
                  "and {} other rows salvaged into it{}",
                  path_, reason, aside, salvage->rows,
                  depth_before ? " of " + std::to_string(depth_before) : std::string(), salvage->other_rows,
                  salvage->complete ? "; every row was readable, so the old file was removed"
                                    : "; parts of the old file were unreadable, so it is kept for an expert");
    if (salvage->complete) RemoveWithSidecars(aside);
  }
  return Status::Ok();
}

Status Outbox::OpenFile() {
  Status s = db_.Open(path_);
  if (!s.ok()) return s;
  // Small pages for a new file: at a facility's real rates a commit carries a few
  // readings, and every page it touches (outbox, metric, meta, history) is written whole
  // to the WAL, fsynced, and written again by the checkpoint: 1 KiB pages write a
  // quarter of what 4 KiB pages do. Ignored for an existing file, whose pages stay as
  // they are.
  s = db_.Exec("PRAGMA page_size=" + std::to_string(kNewFilePageSize));
  if (!s.ok()) return s;
  // WAL: a commit appends to the log instead of rewriting pages in place, so a power
  // cut mid-commit leaves the previous state intact, and readers never block the writer.
  // (Pragmas that return a row are run through QueryText so that their statements are
  // finalised before the migrations open a transaction.)
  auto mode = QueryText("PRAGMA journal_mode=WAL");
  if (!mode.ok()) return mode.status();
  // synchronous=FULL fsyncs the WAL at every commit: a reading we call accepted is on
  // the medium, not in the page cache, when the power goes. NORMAL (configurable)
  // trades the last commits before a power cut for fewer fsyncs on fragile SD cards.
  const std::string sync = config_.synchronous == "normal" ? "NORMAL" : "FULL";
  // The page cache is small so that RSS does not grow with the backlog. (The WAL's
  // size is set below, once the page size is known.)
  s = db_.Exec("PRAGMA synchronous=" + sync + "; PRAGMA cache_size=-2048; PRAGMA temp_store=MEMORY;");
  if (!s.ok()) return s;
  // A cheap structural check at start-up: a file damaged by a power cut on a bad SD
  // card is found here rather than mid-stream.
  auto check = QueryText("PRAGMA quick_check(1)");
  if (!check.ok()) return check.status();
  if (check.value() != "ok") return Status::Corruption(check.value());
  s = MigrateTo(db_, LatestSchemaVersion());
  if (!s.ok()) return s;
  auto ps = db_.QueryInt("PRAGMA page_size");
  if (ps.ok()) page_size_ = ps.value();
  // max_disk_mb covers the WAL too: it is checkpointed at a quarter of the cap, at most
  // 4 MiB (SQLite's default of 1000 pages of 4 KiB), and cut back to that size after, so the
  // disk headroom kept free (HasHeadroom: 8 MiB) always covers a full WAL plus its
  // checkpoint. (Checkpointing every 1 MiB on a large cap was measured to put a
  // checkpoint's fsync in front of more than 1 % of readings: p99 latency 120 ms
  // instead of 33 ms; a small cap pays that for its size.)
  const uint64_t wal_bytes = std::clamp<uint64_t>(config_.max_disk_bytes / 4, 16 * uint64_t(page_size_),
                                                  kMaxWalBytes);
  const int wal_frames = static_cast<int>(wal_bytes / uint64_t(page_size_));
  s = db_.Exec("PRAGMA journal_size_limit=" + std::to_string(wal_bytes));
  if (!s.ok()) return s;
  s = PrepareStatements();
  if (!s.ok()) return s;
  s = LoadCaches();
  if (!s.ok()) return s;
  // The checkpoint at that size runs on a thread of its own (store/wal_checkpointer.h),
  // not in the commit that crosses it. Should its connection not open, SQLite's own
  // checkpoint in the commit is the fallback: slower commits, the same file.
  Status ck = checkpointer_.Attach(db_.handle(), path_, wal_frames, config_.synchronous != "normal");
  if (!ck.ok()) {
    spdlog::warn("buffer {}: the checkpoint thread could not start ({}); checkpoints run in the commits",
                 path_, ck.message());
    return db_.Exec("PRAGMA wal_autocheckpoint=" + std::to_string(wal_frames));
  }
  return Status::Ok();
}

Result<std::string> Outbox::QueryText(const std::string& sql) {
  auto st = db_.Prepare(sql);
  if (!st.ok()) return st.status();
  auto row = st->Step();
  if (!row.ok()) return row.status();
  if (!row.value()) return std::string();
  return st->Text(0);
}

void Outbox::ClearCaches() {
  metric_ids_.clear();
  metrics_by_id_.clear();
  depth_ = 0;
  max_accepted_ts_ = 0;
  max_sensor_ts_ = 0;
}

void Outbox::CheckMark() {
  const std::string mark = dir_ + "/buffer.mark";
  mark_fd_ = ::open(mark.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (mark_fd_ < 0) {
    spdlog::warn("buffer: cannot open {}: {}; a lost WAL would go unnoticed", mark, std::strerror(errno));
    return;
  }
  char buf[32] = {};
  const ssize_t n = ::pread(mark_fd_, buf, sizeof buf - 1, 0);
  if (n > 0) {
    const int64_t marked = std::strtoll(buf, nullptr, 10);
    if (marked > last_seq_) {
      const auto missing = static_cast<uint64_t>(marked - last_seq_);
      lost_at_open_ += missing;
      spdlog::error("buffer {}: {} accepted readings are missing: rows up to seq {} were committed, the file ends "
                    "at seq {} (its WAL was lost or damaged, or synchronous=normal lost the last commits at a "
                    "power cut)",
                    path_, missing, marked, last_seq_);
    }
  }
  WriteMark();
}

void Outbox::WriteMark() {
  if (mark_fd_ < 0 || marked_seq_ == last_seq_) return;
  // Fixed width, so a shorter number never leaves digits of a longer one behind. Not
  // synced: written after the commit's own fsync, the mark can lag the file after a
  // power cut, never lead it; the kernel writes it back with the next flush.
  char buf[24];
  std::snprintf(buf, sizeof buf, "%020lld\n", static_cast<long long>(last_seq_));
  if (::pwrite(mark_fd_, buf, 21, 0) == 21) marked_seq_ = last_seq_;
}

uint64_t Outbox::WalBytes() const {
  struct stat st {};
  return stat((path_ + "-wal").c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

void Outbox::CloseDb() {
  // Its connection must not outlive the file it checkpoints (moved aside, reopened).
  checkpointer_.Detach();
  // Statements must be finalised before the connection closes.
  insert_row_ = {};
  insert_metric_ = {};
  update_latest_ = {};
  delete_range_ = {};
  read_after_ = {};
  put_meta_ = {};
  freelist_ = {};
  db_.Close();
}

Status Outbox::PrepareStatements() {
  struct {
    Statement* st;
    const char* sql;
  } all[] = {
      {&insert_row_, "INSERT INTO outbox(metric_id, datatype, ts, value, quality) VALUES(?,?,?,?,?)"},
      {&insert_metric_, "INSERT INTO metric(facility, name, datatype) VALUES(?,?,?)"},
      {&update_latest_, "UPDATE metric SET datatype=?, last_value=?, last_ts=? WHERE id=?"},
      {&delete_range_, "DELETE FROM outbox WHERE seq BETWEEN ? AND ?"},
      {&read_after_,
       "SELECT seq, metric_id, datatype, ts, value, quality FROM outbox WHERE seq > ? "
       "ORDER BY seq LIMIT ?"},
      {&put_meta_, "INSERT INTO meta(key, value) VALUES(?, ?) "
                   "ON CONFLICT(key) DO UPDATE SET value=excluded.value"},
      {&freelist_, "PRAGMA freelist_count"},
  };
  for (auto& p : all) {
    auto st = db_.Prepare(p.sql);
    if (!st.ok()) return st.status();
    *p.st = std::move(st.value());
  }
  return Status::Ok();
}

Status Outbox::LoadCaches() {
  auto st = db_.Prepare("SELECT id, facility, name FROM metric");
  if (!st.ok()) return st.status();
  for (;;) {
    auto row = st->Step();
    if (!row.ok()) return row.status();
    if (!row.value()) break;
    auto id = static_cast<uint32_t>(st->Int(0));
    MetricInfo info{st->Text(1), st->Text(2)};
    metric_ids_[MetricKey(info.facility, info.name)] = id;
    metrics_by_id_[id] = std::move(info);
  }
  auto depth = db_.QueryInt("SELECT count(*) FROM outbox");
  if (!depth.ok()) return depth.status();
  depth_ = static_cast<uint64_t>(depth.value());
  auto seq = db_.QueryInt("SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'outbox'");
  last_seq_ = seq.ok() ? seq.value() : 0;
  auto maxts = db_.QueryInt("SELECT coalesce(max(last_ts), 0) FROM metric");
  if (!maxts.ok()) return maxts.status();
  max_accepted_ts_ = maxts.value();
  auto sensor_ts = GetMeta("max_sensor_ts");
  max_sensor_ts_ = sensor_ts.ok() ? std::stoll(sensor_ts.value()) : 0;
  auto dropped = GetMeta("dropped_total");
  dropped_total_ = dropped.ok() ? std::stoull(dropped.value()) : 0;
  return Status::Ok();
}

Result<uint32_t> Outbox::MetricId(const Reading& r, DataType type) {
  std::string name = r.MetricName();
  std::string key = MetricKey(r.facility_id, name);
  auto it = metric_ids_.find(key);
  if (it != metric_ids_.end()) return it->second;
  insert_metric_.BindText(1, r.facility_id);
  insert_metric_.BindText(2, name);
  insert_metric_.BindInt(3, static_cast<int64_t>(type));
  Status s = insert_metric_.Run();
  insert_metric_.Reset();
  if (!s.ok()) return s;
  auto id = static_cast<uint32_t>(sqlite3_last_insert_rowid(db_.handle()));
  new_metric_keys_.push_back(key);
  metric_ids_.emplace(std::move(key), id);
  metrics_by_id_[id] = MetricInfo{r.facility_id, std::move(name)};
  return id;
}

void Outbox::Ack(int64_t lo, int64_t hi) {
  // Neighbouring ranges are merged so that a drain of many small payloads becomes
  // one DELETE.
  acked_rows_ += static_cast<uint64_t>(hi - lo + 1);
  if (!acked_.empty() && acked_.back().second + 1 == lo) {
    acked_.back().second = hi;
  } else {
    acked_.emplace_back(lo, hi);
  }
}

bool Outbox::AllowsSqliteFull(const std::vector<Reading>& readings) const {
  // Only raw sensor readings are "new readings" that a full disk refuses: facility
  // metrics derived from what is already accepted, and the start-up state, are few and
  // must not be what keeps the gateway from starting or draining.
  return std::none_of(readings.begin(), readings.end(), [](const Reading& r) { return !r.sensor_id.empty(); });
}

Status Outbox::Commit(const std::vector<Reading>& readings, const std::string* model_state,
                      const TxnHook* hook) {
  Status s = EnsureOpen();
  if (!s.ok()) return s;
  // The disk can fill below the configured cap (other files, a small card). New rows
  // stop while there is still room to checkpoint the WAL and write the deletes: once
  // SQLite itself hits a full disk, neither may be possible any more, and the buffer
  // would stay stuck after the uplink returns. The refused batch stays with its driver,
  // which offers it again: nothing is half-accepted.
  const bool derived_only = AllowsSqliteFull(readings);
  if (!derived_only && !HasHeadroom(readings.size())) return CommitRefusedForSpace();
  s = CommitOnce(readings, model_state, hook);
  if (s.code() == Status::Code::kNoSpace && derived_only && reserve_held_) {
    ReleaseReserve();
    s = CommitOnce(readings, model_state, hook);
  }
  if (s.code() == Status::Code::kNoSpace) return CommitRefusedForSpace();
  if (s.code() == Status::Code::kCorruption) {
    // Proven: start over with a fresh file holding what the old one still had, and
    // keep this batch. Not proven: an I/O error, tried again later.
    s = OnCorruption(s);
    if (s.ok()) s = CommitOnce(readings, model_state, hook);
  }
  if (s.ok()) {
    WriteMark();
    LogDrops(false);
  }
  return s;
}

Status Outbox::CommitDeletes() {
  if (acked_.empty()) return Status::Ok();
  Status s = EnsureOpen();
  if (!s.ok()) return s;
  const bool full = config_.synchronous != "normal";
  if (full) db_.Exec("PRAGMA synchronous=NORMAL");
  s = CommitOnce({}, nullptr, nullptr);
  if (s.code() == Status::Code::kNoSpace && reserve_held_) {
    ReleaseReserve();
    s = CommitOnce({}, nullptr, nullptr);
  }
  if (full && db_.is_open()) db_.Exec("PRAGMA synchronous=FULL");
  if (s.code() == Status::Code::kCorruption) {
    s = OnCorruption(s);
    if (s.ok()) s = Commit({}, nullptr, nullptr);
  }
  if (s.ok()) LogDrops(false);
  return s;
}

bool Outbox::HasHeadroom(size_t new_rows) {
  // A reserve given up is owed: its room is kept free too, so that it is taken again
  // before new readings use that space. (A reserve never taken, on a filesystem too
  // small for it, is not owed.)
  auto need_now = [&] {
    return kDiskHeadroomBytes + new_rows * kBytesPerRowEstimate + (reserve_owed_ ? DiskReserve::kBytes : 0);
  };
  const uint64_t need = need_now();
  space_spent_since_ += new_rows * kBytesPerRowEstimate;
  const auto now = std::chrono::steady_clock::now();
  if (now - space_checked_at_ < kSpaceCheckEvery && space_measured_ >= need + space_spent_since_) return true;
  struct statvfs fs {};
  if (statvfs(dir_.c_str(), &fs) != 0) return true;  // cannot tell: let SQLite say
  const uint64_t fs_free = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  bool took = false;
  if (!reserve_held_) took = reserve_held_ = reserve_.Take(fs_free, kDiskHeadroomBytes);
  if (took) reserve_owed_ = false;
  uint64_t available = took ? fs_free - DiskReserve::kBytes : fs_free;
  // Pages freed inside the file by deletes are reused before the file grows.
  auto row = freelist_.Step();
  if (row.ok() && row.value()) {
    available += static_cast<uint64_t>(freelist_.Int(0)) * static_cast<uint64_t>(page_size_);
  }
  freelist_.Reset();
  space_checked_at_ = now;
  space_measured_ = available;
  space_spent_since_ = 0;
  return available >= need_now();
}

Status Outbox::CommitRefusedForSpace() {
  // Deletes always go through: they are what gives the space back.
  if (!acked_.empty()) {
    Status d = CommitOnce({}, nullptr, nullptr);
    if (d.code() == Status::Code::kNoSpace && reserve_held_) {
      ReleaseReserve();
      d = CommitOnce({}, nullptr, nullptr);
    }
    if (!d.ok()) spdlog::warn("outbox: deleting acknowledged rows on a full disk failed: {}", d.ToString());
  }
  ++refused_for_space_;
  const int64_t now = clock_.NowMs();
  // The WAL may hold most of the used space; moving it into the database (where the
  // deletes above leave free pages to reuse) and truncating it gives that space back.
  // At most once a second: a refused driver retries often.
  if (now - last_space_checkpoint_ms_ >= 1000) {
    last_space_checkpoint_ms_ = now;
    Status c = db_.Exec("PRAGMA wal_checkpoint(TRUNCATE)");
    if (!c.ok()) spdlog::warn("outbox: checkpoint on a full disk failed: {}", c.ToString());
  }
  if (last_space_log_ms_ == 0 || now - last_space_log_ms_ >= 60000) {
    spdlog::error("outbox: the disk holding {} has less than {} bytes free; refusing new readings until the "
                  "uplink frees space ({} batches refused so far)",
                  path_, kDiskHeadroomBytes, refused_for_space_);
    last_space_log_ms_ = now;
  }
  return Status::NoSpace("less than " + std::to_string(kDiskHeadroomBytes) + " bytes free for the buffer");
}

Status Outbox::CommitOnce(const std::vector<Reading>& readings, const std::string* model_state,
                          const TxnHook* hook) {
  // BEGIN IMMEDIATE takes the write lock up front, so the transaction cannot fail
  // half-way for lack of it.
  Status s = db_.Exec("BEGIN IMMEDIATE");
  if (!s.ok()) return s;
  new_metric_keys_.clear();
  auto fail = [&](Status st) {
    db_.Exec("ROLLBACK");
    // The rolled-back metric rows must not stay in the caches, or the next commit
    // would point readings at ids that do not exist.
    for (const auto& key : new_metric_keys_) {
      auto it = metric_ids_.find(key);
      if (it == metric_ids_.end()) continue;
      metrics_by_id_.erase(it->second);
      metric_ids_.erase(it);
    }
    new_metric_keys_.clear();
    return st;
  };
  uint64_t deleted = 0;
  for (auto [lo, hi] : acked_) {
    delete_range_.BindInt(1, lo);
    delete_range_.BindInt(2, hi);
    s = delete_range_.Run();
    delete_range_.Reset();
    if (!s.ok()) return fail(s);
    deleted += static_cast<uint64_t>(db_.Changes());
  }
  if (!acked_.empty()) spdlog::debug("outbox: deleted {} acknowledged rows in {} ranges", deleted, acked_.size());
  // The last value per metric in this batch, for births after a restart.
  std::map<uint32_t, const Reading*> last;
  int64_t new_last_seq = last_seq_;
  int64_t max_ts = max_accepted_ts_;
  int64_t max_sensor_ts = max_sensor_ts_;
  for (const Reading& r : readings) {
    DataType type = DataTypeOf(r.value);
    auto id = MetricId(r, type);
    if (!id.ok()) return fail(id.status());
    insert_row_.BindInt(1, id.value());
    insert_row_.BindInt(2, static_cast<int64_t>(type));
    insert_row_.BindInt(3, r.ts_ms);
    BindValue(insert_row_, 4, r.value);
    insert_row_.BindInt(5, static_cast<int64_t>(r.quality));
    s = insert_row_.Run();
    insert_row_.Reset();
    if (!s.ok()) return fail(s);
    new_last_seq = sqlite3_last_insert_rowid(db_.handle());
    const Reading*& slot = last[id.value()];
    if (!slot || slot->ts_ms <= r.ts_ms) slot = &r;
    max_ts = std::max(max_ts, r.ts_ms);
    if (!r.sensor_id.empty()) max_sensor_ts = std::max(max_sensor_ts, r.ts_ms);
  }
  if (max_sensor_ts != max_sensor_ts_) {
    put_meta_.BindText(1, "max_sensor_ts");
    put_meta_.BindText(2, std::to_string(max_sensor_ts));
    s = put_meta_.Run();
    put_meta_.Reset();
    if (!s.ok()) return fail(s);
  }
  for (auto [id, r] : last) {
    update_latest_.BindInt(1, static_cast<int64_t>(DataTypeOf(r->value)));
    BindValue(update_latest_, 2, r->value);
    update_latest_.BindInt(3, r->ts_ms);
    update_latest_.BindInt(4, id);
    s = update_latest_.Run();
    update_latest_.Reset();
    if (!s.ok()) return fail(s);
  }
  if (model_state) {
    put_meta_.BindText(1, "model_state");
    put_meta_.BindText(2, PaddedForOverwrite(*model_state));
    s = put_meta_.Run();
    put_meta_.Reset();
    if (!s.ok()) return fail(s);
  }
  if (hook && *hook) {
    s = (*hook)(db_);
    if (!s.ok()) return fail(s);
  }
  uint64_t depth_before = depth_;
  depth_ = depth_ + readings.size() - std::min<uint64_t>(deleted, depth_ + readings.size());
  s = EnforceCap();
  if (!s.ok()) {
    depth_ = depth_before;
    return fail(s);
  }
  s = db_.Exec("COMMIT");
  if (!s.ok()) {
    depth_ = depth_before;
    return fail(s);
  }
  acked_.clear();
  acked_rows_ = 0;
  last_seq_ = new_last_seq;
  max_accepted_ts_ = max_ts;
  max_sensor_ts_ = max_sensor_ts;
  return Status::Ok();
}

uint64_t Outbox::file_bytes_used() {
  if (!db_.is_open()) return 0;
  auto pages = db_.QueryInt("PRAGMA page_count");
  auto free_pages = db_.QueryInt("PRAGMA freelist_count");
  if (!pages.ok() || !free_pages.ok()) return 0;
  return static_cast<uint64_t>((pages.value() - free_pages.value()) * page_size_);
}

Status Outbox::EnforceCap() {
  // What the buffer takes on the disk: the used pages of the file and its WAL (whose
  // pages are copies of the file's until a checkpoint; both are on the medium).
  const uint64_t file_used = file_bytes_used();
  uint64_t used = file_used + WalBytes();
  if (used <= config_.max_disk_bytes || depth_ == 0) return Status::Ok();
  // Drop down to 90 % of the cap, so that the cap is not hit again at every commit. A
  // dropped row frees its share of the file, not of the WAL (which the checkpoint
  // thread may not have copied back yet): the rows to drop are counted in that share.
  double per_row = static_cast<double>(std::max<uint64_t>(file_used, 1)) / static_cast<double>(depth_);
  double excess = static_cast<double>(used) - 0.9 * static_cast<double>(config_.max_disk_bytes);
  auto n = static_cast<int64_t>(std::ceil(excess / per_row));
  auto st = db_.Prepare(
      "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?)");
  if (!st.ok()) return st.status();
  st->BindInt(1, in_flight_up_to_);
  st->BindInt(2, n);
  Status s = st->Run();
  if (!s.ok()) return s;
  auto dropped = static_cast<uint64_t>(db_.Changes());
  if (dropped == 0) return Status::Ok();
  depth_ -= std::min(depth_, dropped);
  dropped_total_ += dropped;
  dropped_since_log_ += dropped;
  put_meta_.BindText(1, "dropped_total");
  put_meta_.BindText(2, std::to_string(dropped_total_));
  s = put_meta_.Run();
  put_meta_.Reset();
  if (!s.ok()) return s;
  LogDrops(last_drop_log_ms_ == 0);
  return Status::Ok();
}

void Outbox::LogDrops(bool force) {
  // The first drop at once, then a summary at most once a minute: on a full cap every
  // commit drops, and one line per commit would wear the card that is already full.
  if (dropped_since_log_ == 0) return;
  const int64_t now = clock_.NowMs();
  if (!force && now - last_drop_log_ms_ < 60000) return;
  spdlog::warn("buffer at its disk cap of {} bytes (file and WAL): dropped the {} oldest readings{} "
               "({} dropped in all)",
               config_.max_disk_bytes, dropped_since_log_, last_drop_log_ms_ == 0 ? "" : " in the last minute",
               dropped_total_);
  dropped_since_log_ = 0;
  last_drop_log_ms_ = now;
}

Result<std::vector<StoredReading>> Outbox::ReadAfter(int64_t after_seq, size_t limit) {
  if (Status s = EnsureOpen(); !s.ok()) return s;
  std::vector<StoredReading> out;
  out.reserve(std::min<size_t>(limit, 4096));
  read_after_.BindInt(1, after_seq);
  read_after_.BindInt(2, static_cast<int64_t>(limit));
  for (;;) {
    auto row = read_after_.Step();
    if (!row.ok()) {
      read_after_.Reset();
      if (row.status().code() != Status::Code::kCorruption) return row.status();
      // A damaged page in the backlog would stop the drain for good: proven, the file
      // is replaced by what can be read of it and the drain goes on from the same seq.
      Status s = OnCorruption(row.status());
      if (!s.ok()) return s;
      return ReadAfter(after_seq, limit);
    }
    if (!row.value()) break;
    StoredReading r;
    r.seq = read_after_.Int(0);
    r.metric_id = static_cast<uint32_t>(read_after_.Int(1));
    auto type = static_cast<DataType>(read_after_.Int(2));
    r.ts_ms = read_after_.Int(3);
    r.value = ColumnValue(read_after_, 4, type);
    r.quality = static_cast<Quality>(read_after_.Int(5));
    out.push_back(std::move(r));
  }
  read_after_.Reset();
  return out;
}

Result<std::vector<LatestValue>> Outbox::Latest(const std::string& facility) {
  if (Status s = EnsureOpen(); !s.ok()) return s;
  auto st = db_.Prepare(
      "SELECT name, datatype, last_value, last_ts, id FROM metric WHERE facility = ? "
      "AND last_ts IS NOT NULL ORDER BY name");
  if (!st.ok()) return st.status();
  st->BindText(1, facility);
  std::vector<LatestValue> out;
  for (;;) {
    auto row = st->Step();
    if (!row.ok()) return row.status();
    if (!row.value()) break;
    out.push_back(LatestValue{st->Text(0), ColumnValue(*st, 2, static_cast<DataType>(st->Int(1))),
                              st->Int(3), static_cast<uint32_t>(st->Int(4))});
  }
  return out;
}

std::optional<int64_t> Outbox::OldestTs() {
  if (!db_.is_open()) return std::nullopt;
  auto v = db_.QueryInt("SELECT ts FROM outbox ORDER BY seq LIMIT 1");
  if (!v.ok()) return std::nullopt;
  return v.value();
}

Result<std::string> Outbox::GetMeta(const std::string& key) {
  if (Status s = EnsureOpen(); !s.ok()) return s;
  auto st = db_.Prepare("SELECT value FROM meta WHERE key = ?");
  if (!st.ok()) return st.status();
  st->BindText(1, key);
  auto row = st->Step();
  if (!row.ok()) return row.status();
  if (!row.value()) return Status::NotFound(key);
  return st->Text(0);
}

Status Outbox::SetMeta(const std::string& key, const std::string& value) {
  if (Status s = EnsureOpen(); !s.ok()) return s;
  put_meta_.BindText(1, key);
  put_meta_.BindText(2, value);
  Status s = put_meta_.Run();
  put_meta_.Reset();
  return s;
}

}  // namespace gateway::store
