#include "http_ingest/http_ingest.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "http/http_server.h"
#include "http_ingest/ingest_body.h"

namespace http_ingest {

namespace http = gateway::http;
using gateway::Status;

namespace {
constexpr const char* kPath = "/api/v1/readings";

std::string JsonError(const std::string& message) { return nlohmann::json{{"error", message}}.dump() + "\n"; }
}  // namespace

struct HttpIngestDriver::Impl : std::enable_shared_from_this<Impl> {
  Impl(boost::asio::io_context& io, const gateway::Config& c, const gateway::Clock& k)
      : config(c), clock(k), parser(c), server(io, Options(c.drivers.http)) {}

  static http::ServerOptions Options(const gateway::HttpIngestConfig& h) {
    http::ServerOptions o;
    o.name = "http ingest";
    o.address = h.bind;
    o.port = uint16_t(h.port);
    o.max_body_bytes = h.max_body_bytes;
    o.request_timeout = std::chrono::seconds(h.request_timeout_s);
    o.max_connections = h.max_connections;
    // Bodies in memory at once, across connections: 8 full ones, at least 8 MiB.
    o.max_total_body_bytes = std::max<size_t>(size_t(8) << 20, size_t(h.max_body_bytes) * 8);
    return o;
  }

  const gateway::Config& config;
  const gateway::Clock& clock;
  IngestBodyParser parser;
  http::HttpServer server;
  gateway::ReadingSink* sink = nullptr;
  bool stopped = false;
  HttpIngestStats stats;
  uint64_t log_budget = 20;
  std::string last_error;  // for Stats()

  void Warn(const std::string& text) {
    last_error = text.size() > 200 ? text.substr(0, 200) + "..." : text;
    if (log_budget > 0) {
      --log_budget;
      spdlog::warn("http ingest: {}{}", text, log_budget == 0 ? " (further ones at debug level)" : "");
    } else {
      spdlog::debug("http ingest: {}", text);
    }
  }

  void Handle(const http::Request& req, http::Responder respond) {
    ++stats.requests;
    auto batch = parser.Parse(req.body(), clock.NowMs());
    if (!batch.ok()) {
      ++stats.bad_requests;
      Warn("400 " + batch.status().message());
      respond(http::MakeResponse(req, http::HttpStatus::bad_request, JsonError(batch.status().message()),
                                 "application/json"));
      return;
    }
    if (stopped) {
      respond(http::MakeResponse(req, http::HttpStatus::service_unavailable, JsonError("gateway stopping"),
                                 "application/json"));
      return;
    }
    const size_t n = batch->size();
    // The answer is built when the core has decided; the request (and its keep-alive
    // flag) is copied for that, the body is not needed any more.
    auto head = std::make_shared<http::Request>(req.base(), "");
    auto self = shared_from_this();
    sink->Submit(std::move(batch.value()), [this, self, head, respond, n](const Status& s) {
      if (s.ok()) {
        ++stats.accepted_batches;
        stats.accepted_readings += n;
        respond(http::MakeResponse(*head, http::HttpStatus::accepted,
                                   nlohmann::json{{"accepted", n}}.dump() + "\n", "application/json"));
        return;
      }
      if (s.code() == Status::Code::kBusy) {
        ++stats.busy;
        last_error = "429: the core is behind (buffer.max_pending_readings)";
        auto res = http::MakeResponse(*head, http::HttpStatus::too_many_requests,
                                      JsonError("the gateway is behind; nothing was stored, send again later"),
                                      "application/json");
        res.set(boost::beast::http::field::retry_after, "1");
        respond(std::move(res));
        return;
      }
      // Disk full or a failing medium: nothing was stored, and the gateway recovers by
      // itself (the drain frees space, the medium answers again), so the client is told
      // when to send again rather than to give up.
      ++stats.unavailable;
      last_error = "503: " + s.message();
      auto res = http::MakeResponse(*head, http::HttpStatus::service_unavailable,
                                    JsonError("nothing was stored: " + s.message() + "; send again later"),
                                    "application/json");
      if (s.code() == Status::Code::kNoSpace || s.code() == Status::Code::kIoError) {
        res.set(boost::beast::http::field::retry_after, s.code() == Status::Code::kNoSpace ? "10" : "5");
      }
      respond(std::move(res));
    });
  }
};

HttpIngestDriver::HttpIngestDriver(boost::asio::io_context& io, const gateway::Config& config,
                                   const gateway::Clock& clock)
    : impl_(std::make_shared<Impl>(io, config, clock)) {}

HttpIngestDriver::~HttpIngestDriver() = default;

uint16_t HttpIngestDriver::port() const { return impl_->server.port(); }
const HttpIngestStats& HttpIngestDriver::stats() const { return impl_->stats; }

gateway::DriverStats HttpIngestDriver::Stats() const {
  const auto& s = impl_->stats;
  const auto hs = impl_->server.stats();
  gateway::DriverStats out;
  out.readings = s.accepted_readings;
  out.errors = s.bad_requests + s.busy + s.unavailable + hs.too_large + hs.unauthorized + hs.timeouts +
               hs.bad_requests + hs.busy;
  out.last_error = impl_->last_error;
  return out;
}

Status HttpIngestDriver::Start(gateway::ReadingSink& sink) {
  Impl& d = *impl_;
  d.sink = &sink;
  std::weak_ptr<Impl> weak = impl_;
  d.server.RouteAsync(http::Verb::post, kPath, [weak](const http::Request& req, http::Responder respond) {
    if (auto self = weak.lock()) self->Handle(req, std::move(respond));
  }, http::RouteOptions{.media_type = "application/json"});
  const std::string token = d.config.drivers.http.token;
  if (!token.empty()) {
    d.server.set_authenticator([token](const http::Request& req) { return http::CheckBearerToken(req, token); },
                               "Bearer realm=\"community-gateway ingest\"");
  }
  Status s = d.server.Start();
  if (!s.ok()) return s;
  spdlog::info("http ingest: POST {} on {}:{}{}", kPath, d.server.address(), d.server.port(),
               token.empty() ? " (no token: loopback clients only)" : " (bearer token required)");
  return Status::Ok();
}

void HttpIngestDriver::Stop() {
  Impl& d = *impl_;
  if (d.stopped) return;
  d.stopped = true;
  d.server.Stop();
  const auto& s = d.stats;
  auto hs = d.server.stats();
  spdlog::info("http ingest: {} requests, {} batches ({} readings) accepted, {} bad requests, {} busy, {} too large, "
               "{} unauthorized, {} timed out",
               s.requests, s.accepted_batches, s.accepted_readings, s.bad_requests, s.busy, hs.too_large,
               hs.unauthorized, hs.timeouts);
}

}  // namespace http_ingest
