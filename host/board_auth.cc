#include "board_auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <fstream>
#include <vector>

namespace host {

namespace {

constexpr uint32_t kMaxIterations = 10000000;  // a users file cannot make a login take minutes
constexpr size_t kSaltBytes = 16, kHashBytes = 32;
constexpr size_t kMaxSessions = 1000;
constexpr int64_t kFailureWindowMs = 15 * 60 * 1000;
constexpr size_t kMaxFailuresPerName = 5;
constexpr int64_t kAttemptWindowMs = 60 * 1000;
constexpr size_t kMaxAttempts = 30;
constexpr size_t kMaxPasswordBytes = 1024;

std::string Hex(const unsigned char* p, size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s += d[p[i] >> 4];
    s += d[p[i] & 15];
  }
  return s;
}

std::optional<std::vector<unsigned char>> Unhex(std::string_view s) {
  if (s.size() % 2) return std::nullopt;
  auto v = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::vector<unsigned char> out;
  for (size_t i = 0; i < s.size(); i += 2) {
    int a = v(s[i]), b = v(s[i + 1]);
    if (a < 0 || b < 0) return std::nullopt;
    out.push_back(static_cast<unsigned char>(a * 16 + b));
  }
  return out;
}

std::string RandomHex(size_t bytes) {
  std::vector<unsigned char> b(bytes);
  if (RAND_bytes(b.data(), int(b.size())) != 1) std::abort();  // no randomness: no session ids
  return Hex(b.data(), b.size());
}

struct Encoded {
  uint32_t iterations = 0;
  std::vector<unsigned char> salt, hash;
};

std::optional<Encoded> ParseEncoded(std::string_view e) {
  constexpr std::string_view kPrefix = "$pbkdf2-sha256$";
  if (e.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  e.remove_prefix(kPrefix.size());
  size_t a = e.find('$');
  if (a == std::string_view::npos || a == 0 || a > 9) return std::nullopt;
  uint64_t it = 0;
  for (char c : e.substr(0, a)) {
    if (c < '0' || c > '9') return std::nullopt;
    it = it * 10 + uint64_t(c - '0');
  }
  e.remove_prefix(a + 1);
  size_t b = e.find('$');
  if (b == std::string_view::npos) return std::nullopt;
  auto salt = Unhex(e.substr(0, b));
  auto hash = Unhex(e.substr(b + 1));
  if (!salt || !hash || salt->size() < 8 || salt->size() > 64 || hash->size() != kHashBytes) return std::nullopt;
  if (it < kPbkdf2MinIterations || it > kMaxIterations) return std::nullopt;
  return Encoded{uint32_t(it), std::move(*salt), std::move(*hash)};
}

bool Derive(std::string_view password, const std::vector<unsigned char>& salt, uint32_t iterations,
            unsigned char* out) {
  return PKCS5_PBKDF2_HMAC(password.data(), int(password.size()), salt.data(), int(salt.size()), int(iterations),
                           EVP_sha256(), int(kHashBytes), out) == 1;
}

// The cost of a check for a name that does not exist: as long as a real one's.
const Encoded& DummyHash() {
  static const Encoded d = [] {
    Encoded e;
    e.iterations = kPbkdf2DefaultIterations;
    e.salt.assign(kSaltBytes, 0x5a);
    e.hash.assign(kHashBytes, 0);
    return e;
  }();
  return d;
}

}  // namespace

std::string HashPassword(std::string_view password, uint32_t iterations) {
  std::vector<unsigned char> salt(kSaltBytes);
  if (RAND_bytes(salt.data(), int(salt.size())) != 1) std::abort();
  unsigned char h[kHashBytes];
  if (!Derive(password, salt, iterations, h)) std::abort();
  std::string out = "$pbkdf2-sha256$";
  out += std::to_string(iterations);
  out += '$';
  out += Hex(salt.data(), salt.size());
  out += '$';
  out += Hex(h, sizeof h);
  OPENSSL_cleanse(h, sizeof h);
  return out;
}

bool VerifyPassword(std::string_view password, std::string_view encoded) {
  auto e = ParseEncoded(encoded);
  const Encoded& use = e ? *e : DummyHash();
  unsigned char h[kHashBytes];
  const bool derived = password.size() <= kMaxPasswordBytes && Derive(password, use.salt, use.iterations, h);
  const bool same = derived && CRYPTO_memcmp(h, use.hash.data(), kHashBytes) == 0;
  OPENSSL_cleanse(h, sizeof h);
  return e.has_value() && same;
}

bool ValidOperatorName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '@' || c == '-';
  });
}

gateway::Result<std::map<std::string, std::string>> LoadUsers(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return gateway::Status::NotFound(path + ": cannot read the users file (board.users_file)");
  std::map<std::string, std::string> users;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (n > 10000) return gateway::Status::InvalidArgument(path + ": more than 10000 lines");
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    const size_t colon = line.find(':');
    const std::string where = path + ":" + std::to_string(n) + ": ";
    if (colon == std::string::npos) return gateway::Status::InvalidArgument(where + "expected name:$pbkdf2-sha256$...");
    std::string name = line.substr(0, colon);
    if (!ValidOperatorName(name))
      return gateway::Status::InvalidArgument(where + "a name is 1 to 64 of A-Z a-z 0-9 . _ @ -");
    if (!ParseEncoded(std::string_view(line).substr(colon + 1)))
      return gateway::Status::InvalidArgument(where + name +
                                              ": not a $pbkdf2-sha256$ hash of at least 200000 iterations "
                                              "(community-host hash-password makes one)");
    if (users.count(name)) return gateway::Status::InvalidArgument(where + name + " listed twice");
    users[name] = line.substr(colon + 1);
  }
  return users;
}

BoardAuth::LoginResult BoardAuth::Login(const std::string& user, const std::string& password, int64_t now_ms,
                                        std::string* session_id) {
  while (!attempts_.empty() && attempts_.front() <= now_ms - kAttemptWindowMs) attempts_.pop_front();
  for (auto it = failures_.begin(); it != failures_.end();) {
    auto& q = it->second;
    while (!q.empty() && q.front() <= now_ms - kFailureWindowMs) q.pop_front();
    it = q.empty() ? failures_.erase(it) : std::next(it);
  }
  if (attempts_.size() >= kMaxAttempts) return LoginResult::kLimited;
  auto f = failures_.find(user);
  if (f != failures_.end() && f->second.size() >= kMaxFailuresPerName) return LoginResult::kLimited;
  attempts_.push_back(now_ms);
  auto u = users_.find(user);
  const bool ok = VerifyPassword(password, u == users_.end() ? std::string_view() : std::string_view(u->second)) &&
                  u != users_.end();
  if (!ok) {
    // Names never seen are not kept: the map cannot be grown by guessing names.
    if (u != users_.end()) failures_[user].push_back(now_ms);
    return LoginResult::kRefused;
  }
  failures_.erase(user);
  std::erase_if(sessions_, [&](const auto& kv) { return kv.second.expires_ms <= now_ms; });
  while (sessions_.size() >= kMaxSessions) {
    auto oldest = std::min_element(sessions_.begin(), sessions_.end(), [](const auto& a, const auto& b) {
      return a.second.expires_ms < b.second.expires_ms;
    });
    sessions_.erase(oldest);
  }
  *session_id = RandomHex(32);
  sessions_[*session_id] = BoardSession{user, RandomHex(32), now_ms + session_ms_};
  return LoginResult::kOk;
}

std::string BoardAuth::SessionId(std::string_view cookie) {
  const std::string key = std::string(kSessionCookie) + "=";
  size_t pos = 0;
  while (pos < cookie.size()) {
    while (pos < cookie.size() && (cookie[pos] == ' ' || cookie[pos] == ';')) ++pos;
    size_t end = cookie.find(';', pos);
    if (end == std::string_view::npos) end = cookie.size();
    std::string_view part = cookie.substr(pos, end - pos);
    if (part.substr(0, key.size()) == key) return std::string(part.substr(key.size()));
    pos = end;
  }
  return {};
}

const BoardSession* BoardAuth::Find(std::string_view cookie_header, int64_t now_ms) {
  const std::string id = SessionId(cookie_header);
  if (id.size() != 64) return nullptr;
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return nullptr;
  if (it->second.expires_ms <= now_ms) {
    sessions_.erase(it);
    return nullptr;
  }
  return &it->second;
}

void BoardAuth::Logout(std::string_view cookie_header) { sessions_.erase(SessionId(cookie_header)); }

}  // namespace host
