// IdTagHasher: the only form in which a charge card's idTag leaves the OCPP driver.
//
// Hash = lower-case hex of the first 16 bytes of HMAC-SHA256(salt, idTag): 32 hex
// characters, the same for the same card across restarts as long as the salt stays.
// The salt is drivers.ocpp.id_tag_salt (or id_tag_salt_file) when configured; otherwise
// 32 random bytes (OpenSSL RAND_bytes) generated once and kept in
// {data_dir}/ocpp-id-tag-salt, mode 0600. Without the salt a hash cannot be turned back
// into a card number by trying all numbers. Immutable after construction; any thread.
#pragma once

#include <string>

#include "gateway/status.h"

namespace ocpp {

class IdTagHasher {
 public:
  explicit IdTagHasher(std::string salt) : salt_(std::move(salt)) {}
  // The configured salt, or the one kept in data_dir (created on first use).
  static gateway::Result<IdTagHasher> Load(const std::string& configured_salt, const std::string& data_dir);
  std::string Hash(const std::string& id_tag) const;

 private:
  std::string salt_;
};

}  // namespace ocpp
