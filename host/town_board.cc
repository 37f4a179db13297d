#include "town_board.h"

#include <libpq-fe.h>
#include <spdlog/spdlog.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <chrono>

#include "board_snapshot.h"
#include "http/http_server.h"
#include "pg_connect.h"

namespace gateway::web {
extern const char kBoardHtml[];
extern const size_t kBoardHtmlSize;
}  // namespace gateway::web

namespace host {

namespace http = gateway::http;

TownBoard::TownBoard(const HostConfig& config) : config_(config), timer_(io_) {
  http::ServerOptions o;
  o.name = "board";
  o.address = config_.board_address;
  o.port = config_.board_port;
  o.max_body_bytes = 0;  // read-only: GET only
  server_ = std::make_unique<http::HttpServer>(io_, o);
  server_->Route(http::Verb::get, "/", [](const http::Request& req) {
    auto res = http::MakeResponse(req, http::HttpStatus::ok,
                                  std::string(gateway::web::kBoardHtml, gateway::web::kBoardHtmlSize),
                                  "text/html; charset=utf-8");
    res.set(boost::beast::http::field::cache_control, "no-cache");
    // As the gateway's page: everything inline or same-origin, nothing else may load.
    res.set("Content-Security-Policy",
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; "
            "img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'");
    res.set("X-Content-Type-Options", "nosniff");
    res.set("Referrer-Policy", "no-referrer");
    return res;
  });
  server_->Route(http::Verb::get, "/api/board", [this](const http::Request& req) {
    if (json_.empty()) return http::MakeResponse(req, http::HttpStatus::service_unavailable, "no snapshot yet\n");
    auto res = http::MakeResponse(req, http::HttpStatus::ok, json_, "application/json");
    res.set(boost::beast::http::field::cache_control, "no-store");
    return res;
  });
  server_->RouteStream("/events", [this](const http::Request&, std::shared_ptr<http::EventStream> stream) {
    if (!json_.empty()) stream->Send("board", json_);
    streams_.push_back(std::move(stream));
  });
}

TownBoard::~TownBoard() {
  Stop();
  if (conn_) PQfinish(conn_);
}

gateway::Status TownBoard::Start() {
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
    for (auto& s : streams_) s->Close();
    streams_.clear();
    server_->Stop();
    io_.stop();
  });
  thread_.join();
}

uint16_t TownBoard::port() const { return server_->port(); }

void TownBoard::Schedule() {
  timer_.expires_after(std::chrono::milliseconds(config_.board_refresh_ms));
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    Refresh();
    Schedule();
  });
}

void TownBoard::Refresh() {
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
    if (conn_) PQfinish(conn_);
    conn_ = OpenPg(config_.pg_conninfo, config_.pg_password, "community-host board");
    if (PQstatus(conn_) != CONNECTION_OK) return;  // the ingest loop logs the database's state
  }
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  auto snap = BoardSnapshotJson(conn_, config_.groups, now_ms);
  if (!snap.ok()) {
    spdlog::debug("{}", snap.status().message());
    return;
  }
  json_ = std::move(snap.value());
  std::erase_if(streams_, [](const auto& s) { return s->closed(); });
  // Every refresh is pushed (now_ms moves, so "last heard" ages on the page even when
  // nothing else changed).
  for (auto& s : streams_) s->Send("board", json_);
}

}  // namespace host
