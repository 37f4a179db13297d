// eio_inject: an LD_PRELOAD seam that makes the buffer's medium fail, as a dying SD
// card does: while the file named by GATEWAY_EIO_FLAG exists, reads, writes and syncs
// of buffer.db and buffer.db-wal fail with EIO (GATEWAY_EIO_OPS=read,write,sync picks
// which; default all three). The test creates and removes the flag file to make bursts
// of a chosen length, during commits or during a drain. Other files (the log, sockets,
// the -shm mapping) are untouched.
//
// Test code only: a module for tests/integration/test_storage_faults.py, never linked
// into the gateway.
#include <dlfcn.h>
#include <errno.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "fd_path.h"

namespace {

struct Settings {
  const char* flag = nullptr;
  bool reads = true, writes = true, syncs = true;
  Settings() {
    flag = std::getenv("GATEWAY_EIO_FLAG");
    if (const char* ops = std::getenv("GATEWAY_EIO_OPS")) {
      reads = std::strstr(ops, "read") != nullptr;
      writes = std::strstr(ops, "write") != nullptr;
      syncs = std::strstr(ops, "sync") != nullptr;
    }
  }
};

const Settings& Get() {
  static const Settings s;
  return s;
}

std::atomic<unsigned long> g_failed{0};

bool IsBuffer(int fd) { return fault::FdNameIs(fd, {"buffer.db", "buffer.db-wal"}); }

bool Fail(int fd, bool op) {
  const Settings& s = Get();
  if (!op || !s.flag || access(s.flag, F_OK) != 0 || !IsBuffer(fd)) return false;
  if (g_failed++ % 1000 == 0) {
    static const char msg[] = "eio_inject: failing buffer I/O with EIO\n";
    (void)!write(2, msg, sizeof msg - 1);
  }
  errno = EIO;
  return true;
}

template <typename Fn>
Fn Next(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

}  // namespace

extern "C" {

ssize_t pread(int fd, void* buf, size_t n, off_t off) {
  static const auto real = Next<ssize_t (*)(int, void*, size_t, off_t)>("pread");
  return Fail(fd, Get().reads) ? -1 : real(fd, buf, n, off);
}
ssize_t pread64(int fd, void* buf, size_t n, off64_t off) {
  static const auto real = Next<ssize_t (*)(int, void*, size_t, off64_t)>("pread64");
  return Fail(fd, Get().reads) ? -1 : real(fd, buf, n, off);
}
ssize_t read(int fd, void* buf, size_t n) {
  static const auto real = Next<ssize_t (*)(int, void*, size_t)>("read");
  return Fail(fd, Get().reads) ? -1 : real(fd, buf, n);
}
ssize_t pwrite(int fd, const void* buf, size_t n, off_t off) {
  static const auto real = Next<ssize_t (*)(int, const void*, size_t, off_t)>("pwrite");
  return Fail(fd, Get().writes) ? -1 : real(fd, buf, n, off);
}
ssize_t pwrite64(int fd, const void* buf, size_t n, off64_t off) {
  static const auto real = Next<ssize_t (*)(int, const void*, size_t, off64_t)>("pwrite64");
  return Fail(fd, Get().writes) ? -1 : real(fd, buf, n, off);
}
ssize_t write(int fd, const void* buf, size_t n) {
  static const auto real = Next<ssize_t (*)(int, const void*, size_t)>("write");
  // fd 2 is the log: never examined, so the seam's own message cannot recurse.
  return fd > 2 && Fail(fd, Get().writes) ? -1 : real(fd, buf, n);
}
int fsync(int fd) {
  static const auto real = Next<int (*)(int)>("fsync");
  return Fail(fd, Get().syncs) ? -1 : real(fd);
}
int fdatasync(int fd) {
  static const auto real = Next<int (*)(int)>("fdatasync");
  return Fail(fd, Get().syncs) ? -1 : real(fd);
}

}  // extern "C"
