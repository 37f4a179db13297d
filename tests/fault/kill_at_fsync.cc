// kill_at_fsync: an LD_PRELOAD seam that cuts the power exactly at a group commit.
//
// SQLite makes a WAL commit durable with one fsync/fdatasync of the -wal file, and the
// gateway acknowledges a batch (202 to an HTTP client, PUBACK to a sensor, the next
// simulator sample) only after that returns. Preloaded into the gateway, this library
// counts those calls and, at call number GATEWAY_KILL_AT_FSYNC, sends the process
// SIGKILL: just before the real call (GATEWAY_KILL_WHEN=before: the commit's pages are
// written but not synced, the batch not acknowledged) or just after it (=after: durable,
// but nobody has been told). Syncs of other files (the main database during a
// checkpoint) are not counted, so the cut always falls on a commit.
//
// Test code only: a module for tests/integration/test_commit_kill.py, never linked into
// the gateway.
#include <dlfcn.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "fd_path.h"

namespace {

using SyncFn = int (*)(int);

struct Settings {
  long target = -1;
  bool after = false;
  Settings() {
    const char* n = std::getenv("GATEWAY_KILL_AT_FSYNC");
    const char* when = std::getenv("GATEWAY_KILL_WHEN");
    target = n ? std::strtol(n, nullptr, 10) : -1;
    after = when && std::strcmp(when, "after") == 0;
  }
};

const Settings& Get() {
  static const Settings s;
  return s;
}

std::atomic<long> g_wal_syncs{0};

bool IsWal(int fd) { return fault::FdPathEndsWith(fd, "-wal"); }

void Cut() {
  static const char msg[] = "kill_at_fsync: power cut at a WAL commit\n";
  (void)!write(2, msg, sizeof msg - 1);
  kill(getpid(), SIGKILL);
}

int Around(int fd, SyncFn real) {
  const Settings& s = Get();
  const bool hit = s.target > 0 && IsWal(fd) && ++g_wal_syncs == s.target;
  if (hit && !s.after) Cut();
  const int rc = real(fd);
  if (hit && s.after) Cut();
  return rc;
}

SyncFn Next(const char* name) { return reinterpret_cast<SyncFn>(dlsym(RTLD_NEXT, name)); }

}  // namespace

extern "C" int fsync(int fd) {
  static const SyncFn real = Next("fsync");
  return Around(fd, real);
}

extern "C" int fdatasync(int fd) {
  static const SyncFn real = Next("fdatasync");
  return Around(fd, real);
}
