// TownBoard: the town's live board, a phone-friendly page (host/assets/board.html,
// compiled in by gateway/web/embed.cmake as the gateway's status page is) served by the
// host: every facility by type with occupancy against capacity, open or closed, today's
// visits, meals and check-ins, charging connectors, and every gateway online or offline
// with how long since the host heard from it.
//
// Runs on its own thread: an io_context with the HTTP server (gateway/http) and a timer
// that every board.refresh_ms reads a BoardSnapshot from PostgreSQL on the board's own
// connection (never the ingest loop's) and, when it changed, pushes it to every open
// /events stream (server-sent events). GET / is the page, /api/board the snapshot.
// Open alarms lead the page; the ingest's NOTIFY board_alarms (a committed alarm row)
// makes the board read at once instead of at the next tick, so a call shows within the
// refresh whatever its phase.
//
// Acknowledging (board_auth.h): POST /login, POST /logout, GET /api/session (the CSRF
// token of the caller's session), POST /api/alarms/acknowledge {group, edge_node,
// facility, alarm_id}: 401 without a session, 403 without its CSRF token in
// X-CSRF-Token; else a row in alarm_ack_requests and a NOTIFY alarm_ack, on which the
// host loop (which owns MQTT) publishes the DCMD (alarm_commands.h).
//
// Binds 127.0.0.1 unless the config says otherwise. Start/Stop on the main thread;
// nothing else is shared with the host loop (the database is the interface).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "board_auth.h"
#include "gateway/local_time.h"
#include "gateway/status.h"
#include "host_config.h"

struct pg_conn;

#include "http/http_server.h"

namespace host {

class TownBoard {
 public:
  explicit TownBoard(const HostConfig& config);
  ~TownBoard();
  TownBoard(const TownBoard&) = delete;
  TownBoard& operator=(const TownBoard&) = delete;

  gateway::Status Start();
  void Stop();
  uint16_t port() const;

 private:
  void Schedule();
  void Refresh();  // board thread
  bool EnsureConnection();
  // Every migration this binary knows is applied (the ingest loop runs them).
  bool SchemaReady();
  void WaitNotify();  // NOTIFY board_alarms on the board's connection: refresh now
  gateway::http::Response OnLogin(const gateway::http::Request& req);
  gateway::http::Response OnLogout(const gateway::http::Request& req);
  gateway::http::Response OnSession(const gateway::http::Request& req);
  gateway::http::Response OnAcknowledge(const gateway::http::Request& req);
  // The request's session when it also carries the session's CSRF token; else the
  // refusal (401 or 403) in *refusal.
  const BoardSession* Authorised(const gateway::http::Request& req, gateway::http::Response* refusal);

  const HostConfig config_;
  boost::asio::io_context io_;
  std::unique_ptr<gateway::http::HttpServer> server_;
  boost::asio::steady_timer timer_;
  std::thread thread_;
  pg_conn* conn_ = nullptr;
  std::unique_ptr<boost::asio::posix::stream_descriptor> pg_wait_;  // conn_'s socket, not owned
  std::optional<gateway::TimeZone> tz_;
  std::unique_ptr<BoardAuth> auth_;
  std::string json_;  // the latest snapshot; board thread only
  std::vector<std::shared_ptr<gateway::http::EventStream>> streams_;
};

}  // namespace host
