#include "store/wal_checkpointer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

namespace gateway::store {

namespace {

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Status WalCheckpointer::Attach(sqlite3* owner, const std::string& path, int threshold_frames, bool full_sync) {
  Detach();
  Status s = db_.Open(path);
  if (!s.ok()) return s;
  // The checkpoint's own syncs (the WAL before it is copied, the file after) follow
  // the buffer's setting, as the automatic checkpoint on the owner's connection did.
  s = db_.Exec(full_sync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
  // A connection opens the WAL only when it first reads: until then a checkpoint on it
  // finds no WAL and copies nothing.
  if (s.ok()) s = db_.QueryInt("SELECT count(*) FROM sqlite_master").status();
  if (!s.ok()) {
    db_.Close();
    return s;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    wanted_ = false;
    stop_ = false;
    last_pass_failed_ = false;
  }
  owner_ = owner;
  threshold_frames_ = std::max(1, threshold_frames);
  thread_ = std::thread([this] { Run(); });
  // Replaces SQLite's automatic checkpoint on this connection (the two share the hook).
  sqlite3_wal_hook(owner_, &WalCheckpointer::OnWalCommit, this);
  return Status::Ok();
}

void WalCheckpointer::Detach() {
  if (!owner_) return;
  sqlite3_wal_hook(owner_, nullptr, nullptr);
  owner_ = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  db_.Close();
}

int WalCheckpointer::OnWalCommit(void* self, sqlite3*, const char*, int frames) {
  // On the owner's thread, inside its commit (after the write lock is released): only
  // a flag and a wake-up, never the checkpoint itself.
  auto* me = static_cast<WalCheckpointer*>(self);
  if (frames < me->threshold_frames_) return SQLITE_OK;
  std::unique_lock<std::mutex> lock(me->mu_);
  me->wanted_ = true;
  me->wake_.notify_one();
  if (frames < 2 * me->threshold_frames_ || me->last_pass_failed_) return SQLITE_OK;
  // The writes outran the thread (see the header): one whole pass, with this
  // connection still, so that the WAL can start again.
  const uint64_t target = me->passes_started_ + 1;
  me->pass_done_.wait(lock, [&] { return me->passes_done_ >= target || me->stop_; });
  return SQLITE_OK;
}

void WalCheckpointer::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    wake_.wait(lock, [this] { return wanted_ || stop_; });
    if (stop_) break;
    wanted_ = false;
    ++passes_started_;
    lock.unlock();
    const bool ok = Checkpoint();
    lock.lock();
    ++passes_done_;
    last_pass_failed_ = !ok;
    pass_done_.notify_all();
    // A failing card: the next attempt waits a second, so that a commit every 20 ms
    // does not become a failing checkpoint every 20 ms. (The WAL grows meanwhile; the
    // buffer's disk cap counts it.)
    if (!ok) wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_; });
  }
  pass_done_.notify_all();
}

bool WalCheckpointer::Checkpoint() {
  int log_frames = 0;
  int copied = 0;
  const auto started = std::chrono::steady_clock::now();
  const int rc = sqlite3_wal_checkpoint_v2(db_.handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &copied);
  const auto took =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started).count();
  if (rc == SQLITE_OK) {
    checkpoints_.fetch_add(1, std::memory_order_relaxed);
    if (copied > 0) frames_copied_.fetch_add(uint64_t(copied), std::memory_order_relaxed);
    uint64_t longest = longest_us_.load(std::memory_order_relaxed);
    while (uint64_t(took) > longest &&
           !longest_us_.compare_exchange_weak(longest, uint64_t(took), std::memory_order_relaxed)) {
    }
    return true;
  }
  // SQLITE_BUSY: another checkpoint is under way (the owner's, on a full disk); the
  // frames are being copied, so nothing is lost by not starting this one.
  if ((rc & 0xff) == SQLITE_BUSY) return true;
  failures_.fetch_add(1, std::memory_order_relaxed);
  const int64_t now = SteadyMs();
  if (last_failure_log_ms_ == 0 || now - last_failure_log_ms_ >= 60000) {
    last_failure_log_ms_ = now;
    spdlog::warn("buffer: checkpointing the WAL failed ({} so far): {}; it is tried again, and the readings stay "
                 "in the WAL meanwhile",
                 failures(), db_.Error(rc, "checkpoint").message());
  }
  return false;
}

}  // namespace gateway::store
