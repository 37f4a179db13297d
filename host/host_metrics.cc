#include "host_metrics.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include "http/http_server.h"
#include "http/prometheus_label.h"

namespace host {

std::string PromLabel(const std::string& v) { return gateway::http::PrometheusLabel(v); }

HostMetrics::HostMetrics(std::string address, uint16_t port) {
  gateway::http::ServerOptions o;
  o.name = "metrics";
  o.address = std::move(address);
  o.port = port;
  o.max_body_bytes = 0;
  server_ = std::make_unique<gateway::http::HttpServer>(io_, o);
  server_->Route(gateway::http::Verb::get, "/metrics", [this](const gateway::http::Request& req) {
    std::string body;
    {
      std::lock_guard<std::mutex> l(mu_);
      body = text_;
    }
    return gateway::http::MakeResponse(req, gateway::http::HttpStatus::ok, std::move(body),
                                       "text/plain; version=0.0.4; charset=utf-8");
  });
}

HostMetrics::~HostMetrics() { Stop(); }

gateway::Status HostMetrics::Start() {
  auto s = server_->Start();
  if (!s.ok()) return s;
  thread_ = std::thread([this] {
    auto guard = boost::asio::make_work_guard(io_);
    io_.run();
  });
  return s;
}

void HostMetrics::Stop() {
  if (!thread_.joinable()) return;
  boost::asio::post(io_, [this] {
    server_->Stop();
    io_.stop();
  });
  thread_.join();
}

uint16_t HostMetrics::port() const { return server_->port(); }

void HostMetrics::Publish(std::string text) {
  std::lock_guard<std::mutex> l(mu_);
  text_ = std::move(text);
}

}  // namespace host
