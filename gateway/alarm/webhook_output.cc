#include "alarm/webhook_output.h"

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <nlohmann/json.hpp>

namespace gateway::alarm {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using asio::ip::tcp;
using boost::system::error_code;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr size_t kMaxResponseBytes = 64 * 1024;
constexpr size_t kRecentAcks = 256;

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

// Runs `io` until `*done` (the step's handler ran), the deadline passes or Stop() stops
// it. One step at a time keeps the exchange a straight line of code on this thread.
bool Await(asio::io_context& io, SteadyClock::time_point deadline, const bool* done) {
  io.restart();
  while (!*done) {
    if (SteadyClock::now() >= deadline || io.stopped()) return false;
    io.run_one_until(deadline);
  }
  return true;
}

}  // namespace

std::string WebhookUrl::ForLog() const {
  const std::string path = target.substr(0, target.find('?'));
  return std::string(tls ? "https://" : "http://") + host + ":" + port + path;
}

Result<WebhookUrl> ParseWebhookUrl(const std::string& url) {
  WebhookUrl u;
  std::string rest;
  const std::string lower = Lower(url.substr(0, 8));
  if (lower.rfind("http://", 0) == 0) {
    rest = url.substr(7);
  } else if (lower.rfind("https://", 0) == 0) {
    u.tls = true;
    rest = url.substr(8);
  } else {
    return Status::InvalidArgument("webhook_url must start with http:// or https://");
  }
  const size_t slash = rest.find_first_of("/?#");
  std::string authority = rest.substr(0, slash);
  u.target = slash == std::string::npos ? "/" : rest.substr(slash);
  if (!u.target.empty() && u.target[0] != '/') u.target = "/" + u.target;
  u.target = u.target.substr(0, u.target.find('#'));
  if (authority.find('@') != std::string::npos) {
    return Status::InvalidArgument("webhook_url must not carry a user or password (use webhook_token)");
  }
  if (!authority.empty() && authority[0] == '[') {  // [IPv6]:port
    const size_t close = authority.find(']');
    if (close == std::string::npos) return Status::InvalidArgument("webhook_url: unclosed '[' in the host");
    u.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return Status::InvalidArgument("webhook_url: junk after the host");
      u.port = authority.substr(close + 2);
    }
  } else {
    const size_t colon = authority.rfind(':');
    u.host = authority.substr(0, colon);
    if (colon != std::string::npos) u.port = authority.substr(colon + 1);
  }
  if (u.host.empty()) return Status::InvalidArgument("webhook_url has no host");
  if (u.port.empty()) u.port = u.tls ? "443" : "80";
  if (u.port.size() > 5 || u.port.find_first_not_of("0123456789") != std::string::npos || std::stoi(u.port) == 0 ||
      std::stoi(u.port) > 65535) {
    return Status::InvalidArgument("webhook_url: port must be 1..65535");
  }
  for (char c : u.target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return Status::InvalidArgument("webhook_url: spaces or control characters in the path");
    }
  }
  return u;
}

std::string WebhookBody(const char* event, const Alarm& a, const std::string& facility_name) {
  nlohmann::json al = {{"id", a.id},
                       {"facility", a.facility_id},
                       {"sensor", a.sensor_id},
                       {"location", a.location},
                       {"kind", a.kind},
                       {"test", a.test},
                       {"raised_ms", a.raised_ms},
                       {"presses", a.presses},
                       {"escalated_ms", a.escalated_ms},
                       {"acknowledged_ms", a.acknowledged_ms},
                       {"acknowledged_by", a.acknowledged_by}};
  if (!facility_name.empty()) al["facility_name"] = facility_name;
  nlohmann::json doc = {{"event", event}, {"alarm", std::move(al)}};
  // Labels come from the config and the host's DCMD: replace what is not UTF-8 rather
  // than throw on the loop's behalf.
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

WebhookOutput::WebhookOutput(const Config& config) : config_(config), cfg_(config.alarms.escalation) {}

WebhookOutput::~WebhookOutput() { Stop(); }

Status WebhookOutput::Start(const std::vector<Alarm>& open) {
  if (cfg_.webhook_url.empty()) return Status::Ok();
  auto u = ParseWebhookUrl(cfg_.webhook_url);
  if (!u.ok()) return u.status();
  url_ = u.value();
  enabled_ = true;
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = false;
  }
  thread_ = std::thread([this] {
    try {
      Run();
    } catch (const std::exception& e) {
      spdlog::error("alarm webhook: sender stopped: {}", e.what());
    }
  });
  spdlog::info("alarm webhook: escalations go to {} ({} ms timeout, {} retries){}", url_.ForLog(),
               cfg_.webhook_timeout_ms, cfg_.webhook_retries, cfg_.webhook_token.empty() ? "" : " with a bearer token");
  size_t again = 0;
  for (const Alarm& a : open) {
    again += a.state == AlarmState::kEscalated && !a.test;
    OnAlarmChanged(a);  // escalated: announced (seen_ is empty); others: remembered
  }
  if (again > 0) spdlog::warn("alarm webhook: {} escalated alarms resumed, announced again", again);
  return Status::Ok();
}

void WebhookOutput::Stop() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (stop_ && !thread_.joinable()) return;
    stop_ = true;
    if (current_io_) current_io_->stop();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lk(mu_);
  if (!queue_.empty()) {
    stats_.failed += queue_.size();
    spdlog::warn("alarm webhook: {} events not sent at shutdown", queue_.size());
    queue_.clear();
  }
}

size_t WebhookOutput::queued() const {
  std::lock_guard<std::mutex> lk(mu_);
  return queue_.size();
}

void WebhookOutput::OnAlarmChanged(const Alarm& alarm) {
  if (!enabled_ || alarm.test) return;  // test presses never escalate
  const char* event = nullptr;
  auto it = seen_.find(alarm.id);
  if (alarm.state == AlarmState::kEscalated) {
    if (it == seen_.end() || it->second != AlarmState::kEscalated) event = "escalated";
    seen_[alarm.id] = alarm.state;
  } else if (alarm.state == AlarmState::kAcknowledged) {
    if (it != seen_.end()) seen_.erase(it);
    // Announced once: a host that retries its acknowledgement changes nothing.
    const bool repeat = std::find(recent_acks_.begin(), recent_acks_.end(), alarm.id) != recent_acks_.end();
    if (alarm.escalated_ms >= 0 && !repeat) {
      event = "acknowledged";
      recent_acks_.push_back(alarm.id);
      if (recent_acks_.size() > kRecentAcks) recent_acks_.pop_front();
    }
  } else {
    seen_[alarm.id] = alarm.state;
  }
  if (!event) return;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (queue_.size() >= kMaxQueued) {
      ++stats_.dropped;
      spdlog::error("alarm webhook: queue full ({} events), {} of alarm {} dropped", kMaxQueued, event, alarm.id);
      return;
    }
    queue_.push_back({event, alarm});
  }
  cv_.notify_one();
}

void WebhookOutput::Run() {
  for (;;) {
    Event e;
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [&] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      e = queue_.front();
      queue_.pop_front();
    }
    if (Deliver(e)) {
      ++stats_.sent;
    } else {
      ++stats_.failed;
    }
  }
}

bool WebhookOutput::Deliver(const Event& e) {
  std::string facility_name;
  for (const auto& f : config_.facilities) {
    if (f.id == e.alarm.facility_id) facility_name = f.name;
  }
  const std::string body = WebhookBody(e.name, e.alarm, facility_name);
  auto backoff = std::chrono::seconds(1);
  std::string error;
  for (int attempt = 0; attempt <= cfg_.webhook_retries; ++attempt) {
    if (attempt > 0) {
      std::unique_lock<std::mutex> lk(mu_);
      if (cv_.wait_for(lk, backoff, [&] { return stop_; })) break;
      backoff *= 2;
    }
    bool retry = true;
    ++stats_.attempts;
    if (Attempt(body, &error, &retry)) {
      spdlog::info("alarm webhook: {} of alarm {} delivered to {}{}", e.name, e.alarm.id, url_.ForLog(),
                   attempt > 0 ? fmt::format(" (attempt {})", attempt + 1) : "");
      return true;
    }
    spdlog::warn("alarm webhook: {} of alarm {} to {}: {} (attempt {} of {})", e.name, e.alarm.id, url_.ForLog(),
                 error, attempt + 1, cfg_.webhook_retries + 1);
    if (!retry) break;
  }
  spdlog::error("alarm webhook: gave up on the {} of alarm {}: {}", e.name, e.alarm.id, error);
  return false;
}

namespace {

// The HTTP exchange over an established stream (plain or TLS).
template <class Stream>
bool Exchange(asio::io_context& io, Stream& stream, const bhttp::request<bhttp::string_body>& req,
              SteadyClock::time_point deadline, unsigned* status, std::string* error) {
  bool done = false;
  error_code ec;
  bhttp::async_write(stream, req, [&](error_code e, size_t) {
    ec = e;
    done = true;
  });
  if (!Await(io, deadline, &done)) return *error = "timed out sending", false;
  if (ec) return *error = "sending: " + ec.message(), false;
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(kMaxResponseBytes);
  done = false;
  bhttp::async_read(stream, buffer, parser, [&](error_code e, size_t) {
    ec = e;
    done = true;
  });
  if (!Await(io, deadline, &done)) return *error = "timed out waiting for the answer", false;
  if (ec) return *error = "reading the answer: " + ec.message(), false;
  *status = parser.get().result_int();
  return true;
}

}  // namespace

bool WebhookOutput::Attempt(const std::string& body, std::string* error, bool* retry) {
  asio::io_context io;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (stop_) return *error = "stopping", *retry = false, false;
    current_io_ = &io;
  }
  struct Clear {
    WebhookOutput* self;
    ~Clear() {
      std::lock_guard<std::mutex> lk(self->mu_);
      self->current_io_ = nullptr;
    }
  } clear{this};
  const auto deadline = SteadyClock::now() + std::chrono::milliseconds(cfg_.webhook_timeout_ms);

  bhttp::request<bhttp::string_body> req{bhttp::verb::post, url_.target, 11};
  const bool default_port = url_.port == (url_.tls ? "443" : "80");
  const bool v6 = url_.host.find(':') != std::string::npos;
  req.set(bhttp::field::host, (v6 ? "[" + url_.host + "]" : url_.host) + (default_port ? "" : ":" + url_.port));
  req.set(bhttp::field::user_agent, "community-gateway");
  req.set(bhttp::field::content_type, "application/json");
  if (!cfg_.webhook_token.empty()) req.set(bhttp::field::authorization, "Bearer " + cfg_.webhook_token);
  req.keep_alive(false);
  req.body() = body;
  req.prepare_payload();

  tcp::resolver resolver(io);
  bool done = false;
  error_code ec;
  tcp::resolver::results_type endpoints;
  resolver.async_resolve(url_.host, url_.port, [&](error_code e, tcp::resolver::results_type r) {
    ec = e;
    endpoints = std::move(r);
    done = true;
  });
  if (!Await(io, deadline, &done)) return *error = "timed out resolving " + url_.host, false;
  if (ec) return *error = "cannot resolve " + url_.host + ": " + ec.message(), false;

  unsigned status = 0;
  if (!url_.tls) {
    beast::tcp_stream stream(io);
    done = false;
    stream.async_connect(endpoints, [&](error_code e, const tcp::endpoint&) {
      ec = e;
      done = true;
    });
    if (!Await(io, deadline, &done)) return *error = "timed out connecting", false;
    if (ec) return *error = "cannot connect: " + ec.message(), false;
    if (!Exchange(io, stream, req, deadline, &status, error)) return false;
  } else {
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    ctx.set_default_verify_paths();  // the system's store, or SSL_CERT_FILE / SSL_CERT_DIR
    ctx.set_verify_mode(asio::ssl::verify_peer);
    beast::ssl_stream<beast::tcp_stream> stream(io, ctx);
    stream.set_verify_callback(asio::ssl::host_name_verification(url_.host));
    // SNI: a name only, never an address literal (RFC 6066 section 3).
    error_code addr_ec;
    asio::ip::make_address(url_.host, addr_ec);
    if (addr_ec && !SSL_set_tlsext_host_name(stream.native_handle(), url_.host.c_str())) {
      return *error = "cannot set the TLS server name", false;
    }
    done = false;
    beast::get_lowest_layer(stream).async_connect(endpoints, [&](error_code e, const tcp::endpoint&) {
      ec = e;
      done = true;
    });
    if (!Await(io, deadline, &done)) return *error = "timed out connecting", false;
    if (ec) return *error = "cannot connect: " + ec.message(), false;
    done = false;
    stream.async_handshake(asio::ssl::stream_base::client, [&](error_code e) {
      ec = e;
      done = true;
    });
    if (!Await(io, deadline, &done)) return *error = "timed out in the TLS handshake", false;
    if (ec) return *error = "TLS handshake: " + ec.message(), false;
    if (!Exchange(io, stream, req, deadline, &status, error)) return false;
  }
  if (status >= 200 && status < 300) return true;
  *error = "answered HTTP " + std::to_string(status);
  *retry = !(status >= 400 && status < 500 && status != 408 && status != 429);
  return false;
}

}  // namespace gateway::alarm
