// DiskReserve: a file of fixed size that the buffer keeps beside itself on the same
// filesystem and gives up when that filesystem is full, so that the gateway can still
// open its buffer, deliver what it holds and write the deletes that free space.
//
// Why: the free-space check refuses new readings while 8 MiB are free, but other files
// on a small card (logs, another program, a kill during a checkpoint) can eat the last
// byte anyway. SQLite then cannot create its -shm/-wal files or write a delete, and the
// buffer would stay full for good. The reserve is taken with fallocate (no data
// written on filesystems that support it, so it costs the SD card nothing) and
// re-taken once the filesystem has room for it again.
//
// Owned by the Outbox; used only on its thread.
#pragma once

#include <cstdint>
#include <string>

namespace gateway::store {

class DiskReserve {
 public:
  static constexpr uint64_t kBytes = 4u << 20;

  explicit DiskReserve(std::string path) : path_(std::move(path)) {}

  // Takes the reserve if it is not held and `free_bytes` (what the filesystem has free
  // now) leaves room for it and `keep_free` more. Returns whether it is held.
  bool Take(uint64_t free_bytes, uint64_t keep_free);
  // Gives the space back (deletes the file). Returns whether it was held.
  bool Release();
  // Whether the file is there at its full size (checked on disk, not remembered: a
  // reserve half-written by a power cut is not one).
  bool held() const;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace gateway::store
