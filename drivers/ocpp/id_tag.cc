#include "ocpp/id_tag.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ocpp {

using gateway::Result;
using gateway::Status;

std::string IdTagHasher::Hash(const std::string& id_tag) const {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), salt_.data(), int(salt_.size()), reinterpret_cast<const unsigned char*>(id_tag.data()),
       id_tag.size(), mac, &len);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < 16 && i < len; ++i) {
    out += kHex[mac[i] >> 4];
    out += kHex[mac[i] & 15];
  }
  return out;
}

Result<IdTagHasher> IdTagHasher::Load(const std::string& configured_salt, const std::string& data_dir) {
  if (!configured_salt.empty()) return IdTagHasher(configured_salt);
  const std::string path = data_dir + "/ocpp-id-tag-salt";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    char buf[64];
    ssize_t n = ::read(fd, buf, sizeof buf);
    ::close(fd);
    if (n == 32) return IdTagHasher(std::string(buf, 32));
    return Status::IoError(path + ": expected 32 bytes of salt; remove it to have a new one made (hashes change)");
  }
  if (errno != ENOENT) return Status::IoError(path + ": " + std::strerror(errno));
  unsigned char salt[32];
  if (RAND_bytes(salt, sizeof salt) != 1) return Status::IoError("RAND_bytes failed: no salt for idTag hashes");
  const std::string tmp = path + ".tmp";
  fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IoError(tmp + ": " + std::strerror(errno));
  bool ok = ::write(fd, salt, sizeof salt) == ssize_t(sizeof salt) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return Status::IoError(path + ": cannot write the salt: " + std::strerror(errno));
  }
  return IdTagHasher(std::string(reinterpret_cast<const char*>(salt), sizeof salt));
}

}  // namespace ocpp
