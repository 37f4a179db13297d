// BoardAuth: who may acknowledge alarms on the town board. Viewing needs nothing;
// acknowledging needs a session (POST /login) AND its CSRF token in a header.
//
// Operators are lines `name:$pbkdf2-sha256$iterations$salt$hash` of the file named by
// board.users_file (salt and hash in lowercase hex; PBKDF2-HMAC-SHA256 from OpenSSL,
// at least 200,000 iterations; `community-host hash-password NAME` makes a line).
// Passwords are compared by hash in constant time, and an unknown name costs the same
// derivation as a known one. A session id is 256 random bits (RAND_bytes), sent only
// in an HttpOnly, SameSite=Strict cookie; its CSRF token, also 256 random bits, is
// handed to the page by GET /api/session and must come back in X-CSRF-Token. Sessions
// expire (board.session_hours) and are bounded in number. Login attempts are limited
// per name (5 failures in 15 min) and overall (30 a minute): PBKDF2 costs CPU on the
// board's thread, and guessing must stay slow. Nothing here is ever logged but names.
//
// Owned by TownBoard; its thread only (the board's io_context runs on one thread).
// Times are the caller's monotonic milliseconds, so tests control them.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/status.h"

namespace host {

constexpr uint32_t kPbkdf2MinIterations = 200000;
constexpr uint32_t kPbkdf2DefaultIterations = 310000;  // OWASP's figure for PBKDF2-HMAC-SHA256

// "$pbkdf2-sha256${iterations}${salt hex}$${hash hex}" with a random 16-byte salt.
std::string HashPassword(std::string_view password, uint32_t iterations = kPbkdf2DefaultIterations);
// False for a wrong password or a malformed encoding.
bool VerifyPassword(std::string_view password, std::string_view encoded);
// A name may go in the users file: 1..64 bytes of [A-Za-z0-9._@-].
bool ValidOperatorName(std::string_view name);

// name -> encoded hash. Errors name the file and the line, never its contents.
gateway::Result<std::map<std::string, std::string>> LoadUsers(const std::string& path);

struct BoardSession {
  std::string user;
  std::string csrf;
  int64_t expires_ms = 0;
};

class BoardAuth {
 public:
  BoardAuth(std::map<std::string, std::string> users, int64_t session_ms) : users_(std::move(users)), session_ms_(session_ms) {}

  enum class LoginResult { kOk, kRefused, kLimited };
  // On kOk, *session_id is the new session's id (for the cookie).
  LoginResult Login(const std::string& user, const std::string& password, int64_t now_ms, std::string* session_id);
  // The live session named by the request's Cookie header, if any.
  const BoardSession* Find(std::string_view cookie_header, int64_t now_ms);
  // The session's id from a Cookie header ("" when none).
  static std::string SessionId(std::string_view cookie_header);
  void Logout(std::string_view cookie_header);
  bool enabled() const { return !users_.empty(); }

 private:
  std::map<std::string, std::string> users_;
  int64_t session_ms_;
  std::map<std::string, BoardSession> sessions_;  // id -> session
  std::map<std::string, std::deque<int64_t>> failures_;  // name -> failure times
  std::deque<int64_t> attempts_;                         // every attempt, for the overall limit
};

constexpr const char* kSessionCookie = "board_session";

}  // namespace host
