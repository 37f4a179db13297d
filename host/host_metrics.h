// HostMetrics: /metrics (Prometheus text format) of the town host, on its own thread.
//
// The host loop renders a snapshot of its counters and per-node state about once a
// second (Publish); the HTTP server (gateway/http, on an io_context run by this class's
// thread) serves the latest snapshot. The only shared state is that string, under a
// mutex. Binds 127.0.0.1 unless the config says otherwise. Start/Stop on the main
// thread; Publish from the host loop.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "gateway/status.h"

namespace gateway::http {
class HttpServer;
}

namespace host {

class HostMetrics {
 public:
  HostMetrics(std::string address, uint16_t port);
  ~HostMetrics();
  gateway::Status Start();
  void Stop();
  uint16_t port() const;
  void Publish(std::string text);

 private:
  boost::asio::io_context io_;
  std::unique_ptr<gateway::http::HttpServer> server_;
  std::thread thread_;
  std::mutex mu_;
  std::string text_;
};

// A Prometheus label value, escaped.
std::string PromLabel(const std::string& v);

}  // namespace host
