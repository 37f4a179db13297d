// WalCheckpointer: copies the buffer's WAL back into its database file on a thread of
// its own, so that no commit on the core's loop waits for a checkpoint.
//
// SQLite's automatic checkpoint runs inside the commit that crosses its threshold: on
// the core's loop, in front of whatever waits there (an emergency call's commit, the
// drain's next batch), and it writes up to the whole WAL (4 MiB) back and fsyncs the
// file, the slowest thing an SD card is asked to do. Here the
// owner's connection reports the WAL's size after each commit (sqlite3_wal_hook, which
// replaces the automatic checkpoint) and this thread runs a PASSIVE checkpoint on a
// connection of its own. PASSIVE never takes the write lock, so the owner keeps
// committing meanwhile; once every frame is copied back, the owner's next commit starts
// the WAL again from its beginning (and cuts it to journal_size_limit), as it does after
// an automatic checkpoint. The same frames are written as before, at the same
// threshold: this moves the work, it does not add any.
//
// A WAL that is never wholly copied back never starts again: a writer that commits
// during every pass keeps appending to it. So at twice the threshold the owner's commit
// waits (in the hook) for one pass that starts after it, with no commit of its own
// running meanwhile: the WAL is then copied completely and starts again, at the cost of
// one checkpoint on the loop, as with SQLite's automatic checkpoint but only when the
// writes outrun the thread. A pass that failed last (a failing medium) is not waited
// for: the owner then goes on, and the buffer's disk cap, which counts the WAL, bounds it.
//
// Owned by the Outbox: Attach, Detach and the counters are called from its thread (the
// core's loop) only. The thread touches nothing but its own connection, the wake-up
// flag (under mu_) and the atomic counters. Detach before the owner closes its
// connection or moves the file.
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "gateway/status.h"
#include "store/sqlite_db.h"

namespace gateway::store {

class WalCheckpointer {
 public:
  WalCheckpointer() = default;
  ~WalCheckpointer() { Detach(); }
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // Opens a second connection to `path` (which `owner` has open, in WAL mode), starts
  // the thread and installs the hook on `owner`. A checkpoint starts once the WAL holds
  // `threshold_frames` pages. On failure nothing is installed: the caller keeps SQLite's
  // automatic checkpoint.
  Status Attach(sqlite3* owner, const std::string& path, int threshold_frames, bool full_sync);
  // Removes the hook, stops the thread (after the checkpoint under way, if any) and
  // closes its connection.
  void Detach();
  bool attached() const { return owner_ != nullptr; }

  uint64_t checkpoints() const { return checkpoints_.load(std::memory_order_relaxed); }
  uint64_t failures() const { return failures_.load(std::memory_order_relaxed); }
  // WAL frames (pages) copied back into the file by those checkpoints.
  uint64_t frames_copied() const { return frames_copied_.load(std::memory_order_relaxed); }
  // The longest checkpoint so far, in microseconds: what a commit would have waited.
  uint64_t longest_us() const { return longest_us_.load(std::memory_order_relaxed); }

 private:
  static int OnWalCommit(void* self, sqlite3* db, const char* schema, int frames);
  void Run();
  bool Checkpoint();  // false: it failed

  sqlite3* owner_ = nullptr;
  int threshold_frames_ = 0;
  SqliteDb db_;  // the thread's own connection
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable pass_done_;
  bool wanted_ = false;            // under mu_
  bool stop_ = false;              // under mu_
  uint64_t passes_started_ = 0;    // under mu_
  uint64_t passes_done_ = 0;       // under mu_
  bool last_pass_failed_ = false;  // under mu_
  std::atomic<uint64_t> checkpoints_{0};
  std::atomic<uint64_t> failures_{0};
  std::atomic<uint64_t> frames_copied_{0};
  std::atomic<uint64_t> longest_us_{0};
  int64_t last_failure_log_ms_ = 0;  // the thread's own
};

}  // namespace gateway::store
