// FdPath: the path a file descriptor is open on, for the fault seams (LD_PRELOAD
// libraries of the tests) that pick the calls they act on by file. Async-signal-safe
// and allocation-free: it runs inside intercepted read/write/fsync calls.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <initializer_list>
#include <cstring>

namespace fault {

// Writes the path into buf (NUL-terminated) and returns its length, or -1.
inline long FdPath(int fd, char* buf, size_t size) {
  char link[64];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  const ssize_t len = readlink(link, buf, size - 1);
  if (len < 0) return -1;
  buf[len] = '\0';
  return len;
}

// Whether fd's file name (its last path component) is one of names.
inline bool FdNameIs(int fd, std::initializer_list<const char*> names) {
  char path[4096];
  if (FdPath(fd, path, sizeof path) < 0) return false;
  const char* base = std::strrchr(path, '/');
  base = base ? base + 1 : path;
  for (const char* n : names) {
    if (std::strcmp(base, n) == 0) return true;
  }
  return false;
}

// Whether fd's path ends with suffix.
inline bool FdPathEndsWith(int fd, const char* suffix) {
  char path[4096];
  const long len = FdPath(fd, path, sizeof path);
  const size_t n = std::strlen(suffix);
  return len >= static_cast<long>(n) && std::strcmp(path + len - n, suffix) == 0;
}

}  // namespace fault
