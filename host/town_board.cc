#include "town_board.h"

#include <libpq-fe.h>
#include <spdlog/spdlog.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <nlohmann/json.hpp>

#include "alarm_rows.h"
#include "board_snapshot.h"
#include "migrations.h"
#include "pg_connect.h"

namespace gateway::web {
extern const char kBoardHtml[];
extern const size_t kBoardHtmlSize;
}  // namespace gateway::web

namespace host {

namespace http = gateway::http;
namespace bhttp = boost::beast::http;
using Json = nlohmann::json;

namespace {

int64_t SteadyNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

http::Response JsonResponse(const http::Request& req, http::HttpStatus status, const Json& body) {
  auto res = http::MakeResponse(req, status, body.dump(), "application/json");
  res.set(bhttp::field::cache_control, "no-store");
  return res;
}

http::Response Error(const http::Request& req, http::HttpStatus status, const char* why) {
  return JsonResponse(req, status, Json{{"error", why}});
}

// A Sparkplug id as a DCMD topic level needs it: no '/', '+', '#', bounded.
bool ValidId(const Json& v, size_t max) {
  if (!v.is_string()) return false;
  const auto& s = v.get_ref<const std::string&>();
  if (s.empty() || s.size() > max || s.find_first_of("/+#") != std::string::npos) return false;
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return false;
  return true;
}

}  // namespace

TownBoard::TownBoard(const HostConfig& config) : config_(config), timer_(io_) {
  if (auto tz = gateway::TimeZone::Load(config_.timezone); tz.ok()) tz_ = tz.value();
  else tz_ = gateway::TimeZone::Load("UTC").value();
  http::ServerOptions o;
  o.name = "board";
  o.address = config_.board_address;
  o.port = config_.board_port;
  o.max_body_bytes = 4096;  // login and acknowledge: small JSON only
  server_ = std::make_unique<http::HttpServer>(io_, o);
  server_->Route(http::Verb::get, "/", [](const http::Request& req) {
    auto res = http::MakeResponse(req, http::HttpStatus::ok,
                                  std::string(gateway::web::kBoardHtml, gateway::web::kBoardHtmlSize),
                                  "text/html; charset=utf-8");
    res.set(bhttp::field::cache_control, "no-cache");
    // As the gateway's page: everything inline or same-origin, nothing else may load.
    res.set("Content-Security-Policy",
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; "
            "img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'; form-action 'self'");
    res.set("X-Content-Type-Options", "nosniff");
    res.set("Referrer-Policy", "no-referrer");
    return res;
  });
  server_->Route(http::Verb::get, "/api/board", [this](const http::Request& req) {
    if (json_.empty()) return http::MakeResponse(req, http::HttpStatus::service_unavailable, "no snapshot yet\n");
    auto res = http::MakeResponse(req, http::HttpStatus::ok, json_, "application/json");
    res.set(bhttp::field::cache_control, "no-store");
    return res;
  });
  server_->RouteStream("/events", [this](const http::Request&, std::shared_ptr<http::EventStream> stream) {
    if (!json_.empty()) stream->Send("board", json_);
    streams_.push_back(std::move(stream));
  });
  http::RouteOptions json_only;
  json_only.media_type = "application/json";
  server_->Route(http::Verb::post, "/login", [this](const http::Request& req) { return OnLogin(req); }, json_only);
  server_->Route(http::Verb::post, "/logout", [this](const http::Request& req) { return OnLogout(req); });
  server_->Route(http::Verb::get, "/api/session", [this](const http::Request& req) { return OnSession(req); });
  server_->Route(http::Verb::post, "/api/alarms/acknowledge",
                 [this](const http::Request& req) { return OnAcknowledge(req); }, json_only);
}

TownBoard::~TownBoard() {
  Stop();
  if (pg_wait_) pg_wait_->release();
  if (conn_) PQfinish(conn_);
}

gateway::Status TownBoard::Start() {
  std::map<std::string, std::string> users;
  if (!config_.board_users_file.empty()) {
    auto u = LoadUsers(config_.board_users_file);
    if (!u.ok()) return u.status();
    users = std::move(u.value());
    spdlog::info("board: {} operators may acknowledge alarms", users.size());
  }
  auth_ = std::make_unique<BoardAuth>(std::move(users), int64_t(config_.board_session_hours) * 3600 * 1000);
  auto s = server_->Start();
  if (!s.ok()) return s;
  boost::asio::post(io_, [this] {
    Refresh();
    Schedule();
  });
  thread_ = std::thread([this] {
    auto guard = boost::asio::make_work_guard(io_);
    io_.run();
  });
  return s;
}

void TownBoard::Stop() {
  if (!thread_.joinable()) return;
  boost::asio::post(io_, [this] {
    timer_.cancel();
    if (pg_wait_) pg_wait_->cancel();
    for (auto& s : streams_) s->Close();
    streams_.clear();
    server_->Stop();
    io_.stop();
  });
  thread_.join();
}

uint16_t TownBoard::port() const { return server_->port(); }

void TownBoard::Schedule() {
  // Without a connection (the database down, or not migrated yet) there is no NOTIFY
  // to wake the board: it tries again within a second rather than a refresh away.
  const bool connected = conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK;
  timer_.expires_after(std::chrono::milliseconds(connected ? config_.board_refresh_ms
                                                           : std::min<uint32_t>(config_.board_refresh_ms, 1000)));
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    Refresh();
    Schedule();
  });
}

bool TownBoard::EnsureConnection() {
  if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK) return true;
  if (pg_wait_) {
    pg_wait_->cancel();
    pg_wait_->release();  // libpq owns the descriptor
    pg_wait_.reset();
  }
  if (conn_) PQfinish(conn_);
  conn_ = OpenPg(config_.pg_conninfo, config_.pg_password, "community-host board");
  if (PQstatus(conn_) != CONNECTION_OK) return false;  // the ingest loop logs the database's state
  if (!SchemaReady()) {
    // The ingest loop migrates a new database as the board starts: reading before it
    // has would only put "relation does not exist" errors into the server's log.
    PQfinish(conn_);
    conn_ = nullptr;
    return false;
  }
  PgResult l(PQexec(conn_, "LISTEN board_alarms"));
  if (l.status() == PGRES_COMMAND_OK && PQsocket(conn_) >= 0) {
    pg_wait_ = std::make_unique<boost::asio::posix::stream_descriptor>(io_, PQsocket(conn_));
    WaitNotify();
  }
  return true;
}

bool TownBoard::SchemaReady() {
  PgResult t(PQexec(conn_, "SELECT to_regclass('schema_migrations') IS NOT NULL"));
  if (t.status() != PGRES_TUPLES_OK || t.at(0, 0) != "t") return false;
  PgResult v(PQexec(conn_, "SELECT coalesce(max(version), 0) FROM schema_migrations"));
  return v.status() == PGRES_TUPLES_OK && v.integer(0, 0) >= Migrations().back().version;
}

void TownBoard::WaitNotify() {
  pg_wait_->async_wait(boost::asio::posix::stream_descriptor::wait_read, [this](boost::system::error_code ec) {
    if (ec || conn_ == nullptr) return;
    bool any = false;
    if (PQconsumeInput(conn_) == 1) {
      while (PGnotify* n = PQnotifies(conn_)) {
        any = true;
        PQfreemem(n);
      }
    }
    if (PQstatus(conn_) != CONNECTION_OK) return;  // the next Refresh reconnects
    if (any) Refresh();
    if (pg_wait_) WaitNotify();
  });
}

void TownBoard::Refresh() {
  if (!EnsureConnection()) return;
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  auto snap = BoardSnapshotJson(conn_, config_.groups, now_ms, *tz_);
  if (!snap.ok()) {
    spdlog::debug("{}", snap.status().message());
    return;
  }
  json_ = std::move(snap.value());
  std::erase_if(streams_, [](const auto& s) { return s->closed(); });
  // Every refresh is pushed (now_ms moves, so "last heard" ages on the page even when
  // nothing else changed).
  for (auto& s : streams_) s->Send("board", json_);
  // A NOTIFY that came while this read ran was taken off the socket by libpq, so the
  // wait above will not see it: its commit may be after the snapshot, so read again.
  bool queued = false;
  while (PGnotify* n = PQnotifies(conn_)) {
    queued = true;
    PQfreemem(n);
  }
  if (queued) boost::asio::post(io_, [this] { Refresh(); });
}

http::Response TownBoard::OnLogin(const http::Request& req) {
  Json body = Json::parse(req.body(), nullptr, false);
  if (!body.is_object() || !body.contains("user") || !body["user"].is_string() || !body.contains("password") ||
      !body["password"].is_string())
    return Error(req, http::HttpStatus::bad_request, "expected {\"user\": ..., \"password\": ...}");
  const std::string user = body["user"];
  if (!auth_->enabled()) return Error(req, http::HttpStatus::unauthorized, "no operators configured (board.users_file)");
  std::string id;
  switch (auth_->Login(user, body["password"].get<std::string>(), SteadyNowMs(), &id)) {
    case BoardAuth::LoginResult::kLimited: {
      spdlog::warn("board: login of {} refused: too many attempts", ValidOperatorName(user) ? user : "(invalid name)");
      auto res = Error(req, http::HttpStatus::too_many_requests, "too many login attempts; try again later");
      res.set(bhttp::field::retry_after, "60");
      return res;
    }
    case BoardAuth::LoginResult::kRefused:
      spdlog::warn("board: login of {} refused", ValidOperatorName(user) ? user : "(invalid name)");
      return Error(req, http::HttpStatus::unauthorized, "wrong name or password");
    case BoardAuth::LoginResult::kOk: break;
  }
  spdlog::info("board: {} logged in", user);
  const BoardSession* s = auth_->Find(std::string(kSessionCookie) + "=" + id, SteadyNowMs());
  auto res = JsonResponse(req, http::HttpStatus::ok, Json{{"user", user}, {"csrf", s ? s->csrf : ""}});
  res.set(bhttp::field::set_cookie, std::string(kSessionCookie) + "=" + id + "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" +
                                        std::to_string(uint64_t(config_.board_session_hours) * 3600));
  return res;
}

const BoardSession* TownBoard::Authorised(const http::Request& req, http::Response* refusal) {
  const BoardSession* s = auth_->Find(http::View(req[bhttp::field::cookie]), SteadyNowMs());
  if (s == nullptr) {
    *refusal = Error(req, http::HttpStatus::unauthorized, "log in first");
    return nullptr;
  }
  const auto token = http::View(req["X-CSRF-Token"]);
  if (token.empty() || !http::ConstantTimeEquals(token, s->csrf)) {
    *refusal = Error(req, http::HttpStatus::forbidden, "missing or wrong X-CSRF-Token");
    return nullptr;
  }
  return s;
}

http::Response TownBoard::OnLogout(const http::Request& req) {
  http::Response refusal;
  const BoardSession* s = Authorised(req, &refusal);
  if (s == nullptr) return refusal;
  spdlog::info("board: {} logged out", s->user);
  auth_->Logout(http::View(req[bhttp::field::cookie]));
  auto res = JsonResponse(req, http::HttpStatus::ok, Json{{"user", nullptr}});
  res.set(bhttp::field::set_cookie, std::string(kSessionCookie) + "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
  return res;
}

http::Response TownBoard::OnSession(const http::Request& req) {
  const BoardSession* s = auth_->Find(http::View(req[bhttp::field::cookie]), SteadyNowMs());
  if (s == nullptr) return JsonResponse(req, http::HttpStatus::ok, Json{{"user", nullptr}, {"login", auth_->enabled()}});
  return JsonResponse(req, http::HttpStatus::ok, Json{{"user", s->user}, {"csrf", s->csrf}, {"login", true}});
}

http::Response TownBoard::OnAcknowledge(const http::Request& req) {
  http::Response refusal;
  const BoardSession* s = Authorised(req, &refusal);
  if (s == nullptr) return refusal;
  Json body = Json::parse(req.body(), nullptr, false);
  if (!body.is_object() || !ValidId(body.value("group", Json()), 200) || !ValidId(body.value("edge_node", Json()), 200) ||
      !ValidId(body.value("facility", Json()), 200) || !body.contains("alarm_id") || !body["alarm_id"].is_string() ||
      body["alarm_id"].get_ref<const std::string&>().empty() ||
      body["alarm_id"].get_ref<const std::string&>().size() > kMaxAlarmIdBytes)
    return Error(req, http::HttpStatus::bad_request, "expected {group, edge_node, facility, alarm_id}");
  const std::string group = body["group"], edge = body["edge_node"], facility = body["facility"],
                    alarm = body["alarm_id"];
  bool served = false;
  for (const auto& g : config_.groups) served |= g == group;
  if (!served) return Error(req, http::HttpStatus::not_found, "no such alarm");
  if (!EnsureConnection()) return Error(req, http::HttpStatus::service_unavailable, "database unavailable");
  // One statement (atomic): the request is recorded only for an open alarm, and the
  // NOTIFY goes out with its commit.
  const char* p[] = {group.c_str(), edge.c_str(), facility.c_str(), alarm.c_str(), s->user.c_str()};
  PgResult r(PQexecParams(conn_, R"sql(
WITH a AS (SELECT state FROM alarms WHERE (group_id, edge_node, facility, alarm_id) = ($1, $2, $3, $4)),
ins AS (INSERT INTO alarm_ack_requests (group_id, edge_node, facility, alarm_id, requested_by)
        SELECT $1, $2, $3, $4, $5 FROM a WHERE a.state <> 'acknowledged' RETURNING id)
SELECT (SELECT state FROM a), (SELECT id FROM ins), pg_notify('alarm_ack', ''))sql",
                          5, nullptr, p, nullptr, nullptr, 0));
  if (r.status() != PGRES_TUPLES_OK) {
    spdlog::warn("board: acknowledge: {}", PQerrorMessage(conn_));
    return Error(req, http::HttpStatus::service_unavailable, "database unavailable");
  }
  if (r.null(0, 0)) return Error(req, http::HttpStatus::not_found, "no such alarm");
  if (r.at(0, 0) == "acknowledged")
    return JsonResponse(req, http::HttpStatus::ok, Json{{"state", "acknowledged"}, {"requested", false}});
  spdlog::info("board: {} asks to acknowledge alarm {} of {}/{}/{}", s->user, alarm, group, edge, facility);
  return JsonResponse(req, http::HttpStatus::accepted, Json{{"state", r.at(0, 0)}, {"requested", true}});
}

}  // namespace host
