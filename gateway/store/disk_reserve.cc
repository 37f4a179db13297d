#include "store/disk_reserve.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace gateway::store {

bool DiskReserve::held() const {
  struct stat st {};
  if (stat(path_.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  // Allocated blocks, not the apparent size: a sparse file reserves nothing.
  return static_cast<uint64_t>(st.st_blocks) * 512 >= kBytes;
}

bool DiskReserve::Take(uint64_t free_bytes, uint64_t keep_free) {
  if (held()) return true;
  if (free_bytes < kBytes + keep_free) return false;
  const std::string tmp = path_ + ".new";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  // fallocate allocates blocks without writing them on ext4, f2fs, xfs and tmpfs; where
  // it is not supported, zeros are written once.
  int rc = ::posix_fallocate(fd, 0, static_cast<off_t>(kBytes));
  if (rc == EOPNOTSUPP || rc == EINVAL) {
    std::vector<char> zeros(64 * 1024, 0);
    rc = 0;
    for (uint64_t done = 0; done < kBytes && rc == 0; done += zeros.size()) {
      if (::write(fd, zeros.data(), zeros.size()) != static_cast<ssize_t>(zeros.size())) rc = errno ? errno : EIO;
    }
  }
  // The rename makes a reserve appear whole or not at all; no fsync: after a power cut
  // a lost reserve is simply taken again.
  const bool ok = rc == 0 && ::close(fd) == 0 && ::rename(tmp.c_str(), path_.c_str()) == 0;
  if (rc != 0) ::close(fd);
  if (!ok) {
    ::unlink(tmp.c_str());
    spdlog::debug("buffer: cannot take the disk reserve {}: {}", path_, std::strerror(rc ? rc : errno));
    return false;
  }
  spdlog::info("buffer: holding a disk reserve of {} bytes ({}) for deletes on a full disk", kBytes, path_);
  return true;
}

bool DiskReserve::Release() {
  const bool was = held();
  ::unlink((path_ + ".new").c_str());
  if (::unlink(path_.c_str()) != 0 && errno != ENOENT) {
    spdlog::error("buffer: cannot delete the disk reserve {}: {}", path_, std::strerror(errno));
    return false;
  }
  if (was) spdlog::warn("buffer: the disk is full; gave up the {}-byte disk reserve so the buffer can drain", kBytes);
  return was;
}

}  // namespace gateway::store
