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
// Binds 127.0.0.1 unless the config says otherwise. Start/Stop on the main thread;
// nothing else is shared with the host loop (the database is the interface).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gateway/status.h"
#include "host_config.h"

struct pg_conn;

namespace gateway::http {
class HttpServer;
class EventStream;
}  // namespace gateway::http

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

  const HostConfig config_;
  boost::asio::io_context io_;
  std::unique_ptr<gateway::http::HttpServer> server_;
  boost::asio::steady_timer timer_;
  std::thread thread_;
  pg_conn* conn_ = nullptr;
  std::string json_;  // the latest snapshot; board thread only
  std::vector<std::shared_ptr<gateway::http::EventStream>> streams_;
};

}  // namespace host
