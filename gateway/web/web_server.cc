#include "web/web_server.h"

#include "http/prometheus_label.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "gateway/local_time.h"

namespace gateway::web {

// Generated from gateway/web/assets/ at build time (see gateway/CMakeLists.txt).
extern const char kIndexHtml[];
extern const size_t kIndexHtmlSize;

namespace {

using Json = nlohmann::json;

int64_t UnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Label(const std::string& v) { return http::PrometheusLabel(v); }

std::string Num(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  // Shortest form that reads back as the same double: 0.005, not 0.0050000000000000001.
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

class MetricsWriter {
 public:
  void Family(const char* name, const char* type, const char* help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  void Sample(const std::string& name, double v, const std::string& labels = "") {
    out_ += name;
    if (!labels.empty()) out_ += "{" + labels + "}";
    out_ += ' ';
    out_ += Num(v);
    out_ += '\n';
  }
  void One(const char* name, const char* type, const char* help, double v) {
    Family(name, type, help);
    Sample(name, v);
  }
  std::string& text() { return out_; }

 private:
  std::string out_;
};

// Resident set size and CPU time of this process, for the board's footprint.
struct ProcessFigures {
  double rss_bytes = 0;
  double cpu_seconds = 0;
  double open_fds = 0;
};

ProcessFigures ReadProcess() {
  ProcessFigures p;
  std::ifstream statm("/proc/self/statm");
  long pages_total = 0, pages_rss = 0;
  if (statm >> pages_total >> pages_rss) p.rss_bytes = double(pages_rss) * double(::sysconf(_SC_PAGESIZE));
  struct rusage ru {};
  if (::getrusage(RUSAGE_SELF, &ru) == 0) {
    p.cpu_seconds = double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                    double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  }
  return p;
}

const char* DriverOf(const Config& config, const std::string& facility, const std::string& sensor) {
  for (const auto& f : config.facilities) {
    if (f.id != facility) continue;
    for (const auto& s : f.sensors) {
      if (s.id == sensor) return s.driver.c_str();
    }
  }
  return "";
}

}  // namespace

// --- RecentLog ---

void RecentLog::sink_it_(const spdlog::details::log_msg& msg) {
  if (msg.level < spdlog::level::warn) return;
  Entry e;
  e.unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count();
  e.level = msg.level == spdlog::level::warn ? "warning" : msg.level == spdlog::level::err ? "error" : "critical";
  e.text.assign(msg.payload.data(), msg.payload.size());
  if (e.text.size() > 500) e.text.resize(500);
  entries_.push_back(std::move(e));
  ++total_;
  while (entries_.size() > capacity_) entries_.pop_front();
}

std::vector<RecentLog::Entry> RecentLog::Entries() {
  std::lock_guard<std::mutex> lock(mutex_);
  return {entries_.begin(), entries_.end()};
}

// --- Histogram ---

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::Observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  ++counts_[i];
  ++count_;
  sum_ += v;
}

// --- WebServer ---

namespace {
http::ServerOptions OptionsFrom(const WebConfig& w) {
  http::ServerOptions o;
  o.name = "web";
  o.address = w.address;
  o.port = static_cast<uint16_t>(w.port);
  o.max_connections = static_cast<size_t>(w.max_connections);
  o.max_body_bytes = 4096;  // read-only: GET only
  return o;
}
}  // namespace

WebServer::WebServer(boost::asio::io_context& io, const Config& config, Sources sources)
    : config_(config),
      src_(std::move(sources)),
      server_(io, OptionsFrom(config.web)),
      push_timer_(io),
      latency_({0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}) {}

WebServer::~WebServer() { Stop(); }

Status WebServer::Start() {
  using http::Request;
  using http::Verb;
  started_unix_ms_ = UnixMs();

  server_.Route(Verb::get, "/", [](const Request& req) {
    auto res = http::MakeResponse(req, http::HttpStatus::ok, std::string(kIndexHtml, kIndexHtmlSize),
                                  "text/html; charset=utf-8");
    res.set(boost::beast::http::field::cache_control, "no-cache");
    // Everything the page needs is inline or same-origin: nothing else may load.
    res.set("Content-Security-Policy",
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; "
            "img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'");
    res.set("X-Content-Type-Options", "nosniff");
    res.set("Referrer-Policy", "no-referrer");
    return res;
  });
  server_.Route(Verb::get, "/api/status", [this](const Request& req) {
    auto res = http::MakeResponse(req, http::HttpStatus::ok, StatusJson(), "application/json");
    res.set(boost::beast::http::field::cache_control, "no-store");
    return res;
  });
  server_.RouteStream("/events", [this](const Request&, std::shared_ptr<http::EventStream> stream) {
    stream->Send("status", StatusJson());
    streams_.push_back(std::move(stream));
  });
  server_.Route(Verb::get, "/metrics", [this](const Request& req) {
    return http::MakeResponse(req, http::HttpStatus::ok, MetricsText(), "text/plain; version=0.0.4; charset=utf-8");
  });
  // Liveness: answering at all proves the event loop turns.
  server_.Route(Verb::get, "/healthz", [](const Request& req) {
    return http::MakeResponse(req, http::HttpStatus::ok, "ok\n");
  }, http::RouteOptions{.is_public = true});
  server_.Route(Verb::get, "/readyz", [this](const Request& req) {
    std::string why;
    if (Ready(&why)) return http::MakeResponse(req, http::HttpStatus::ok, "ready\n");
    return http::MakeResponse(req, http::HttpStatus::service_unavailable, "not ready: " + why + "\n");
  }, http::RouteOptions{.is_public = true});

  const WebConfig& w = config_.web;
  if (!w.password.empty()) {
    std::string user = w.username, password = w.password;
    server_.set_authenticator(
        [user, password](const Request& req) { return http::CheckBasicAuth(req, user, password); },
        "Basic realm=\"community-gateway\", charset=\"UTF-8\"");
  }
  Status s = server_.Start();
  if (!s.ok()) return s;
  SchedulePush();
  return Status::Ok();
}

void WebServer::Stop() {
  push_timer_.cancel();
  for (auto& s : streams_) s->Close();
  streams_.clear();
  server_.Stop();
}

void WebServer::SchedulePush() {
  push_timer_.expires_after(std::chrono::milliseconds(config_.web.push_interval_ms));
  push_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    Push();
    SchedulePush();
  });
}

void WebServer::Push() {
  std::erase_if(streams_, [](const auto& s) { return s->closed(); });
  if (streams_.empty()) return;
  const std::string json = StatusJson();
  for (auto& s : streams_) s->Send("status", json);
}

bool WebServer::Ready(std::string* why) {
  if (stopping_) {
    *why = "shutting down";
    return false;
  }
  const auto ps = src_.pipeline.stats();
  if (!ps.failing.empty()) {
    *why = ps.failing;
    return false;
  }
  if (!src_.outbox.is_open()) {
    *why = "the buffer is not open (its medium failed); retrying";
    return false;
  }
  // A driver that did not start leaves a gateway that only looks whole: its devices'
  // readings are missing.
  for (const auto& d : src_.drivers) {
    if (!d->start_error().empty()) {
      *why = "driver " + d->Name() + " did not start: " + d->start_error();
      return false;
    }
  }
  if (auto missing = MissingSetup(config_); !missing.empty()) {
    *why = "not set up yet: " + missing.front();
    return false;
  }
  return true;
}

std::string WebServer::StatusJson() {
  const int64_t now = src_.clock.NowMs();
  Json j;
  Json& node = j["node"];
  node["group_id"] = config_.group_id;
  node["edge_node_id"] = config_.edge_node_id;
  node["version"] = src_.version;
  node["now_ms"] = now;
  node["uptime_s"] = (UnixMs() - started_unix_ms_) / 1000;
  node["timezone"] = config_.timezone;
  if (auto tz = TimeZone::Load(config_.timezone); tz.ok()) {
    LocalDateTime l = tz->ToLocal(now);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d", l.year, l.month, l.day, l.minute_of_day / 60,
                  l.minute_of_day % 60);
    node["local_time"] = buf;
  }
  node["simulated"] = config_.simulator.enabled;
  node["setup_missing"] = MissingSetup(config_);

  Json& facilities = j["facilities"] = Json::array();
  for (const auto& f : src_.model.Snapshot()) {
    Json jf;
    jf["id"] = f.id;
    jf["name"] = f.name;
    jf["type"] = FacilityTypeName(f.type);
    jf["capacity"] = f.capacity;
    jf["occupancy"] = f.occupancy;
    jf["open"] = f.open;
    jf["entries_today"] = f.entries_today;
    jf["meals_today"] = f.meals_today;
    jf["checkins_today"] = f.checkins_today;
    jf["sensors_online"] = f.sensors_online;
    jf["sensors_total"] = f.sensors_total;
    Json& sensors = jf["sensors"] = Json::array();
    for (const auto& s : f.sensors) {
      Json js{{"id", s.id}, {"kind", SensorKindName(s.kind)}, {"online", s.online}};
      js["last_seen_age_s"] = s.last_heard_ms < 0 ? Json(nullptr) : Json((now - s.last_heard_ms) / 1000);
      sensors.push_back(std::move(js));
    }
    Json& connectors = jf["connectors"] = Json::array();
    for (const auto& c : f.connectors) {
      connectors.push_back(
          {{"number", c.number}, {"sensor", c.sensor_id}, {"status", c.status}, {"power_kw", c.power_kw}});
    }
    Json& equipment = jf["equipment"] = Json::array();
    for (const auto& e : f.equipment) {
      equipment.push_back({{"id", e.id}, {"in_use", e.in_use}, {"sessions_today", e.sessions_today}});
    }
    if (f.feedback.present) {
      const auto& fb = f.feedback;
      Json buttons = Json::array();
      for (const auto& b : fb.buttons) {
        buttons.push_back({{"name", b.name}, {"score", b.score}, {"responses", b.responses}, {"share", b.share}});
      }
      // The index only when significant: the page must not show a number that stands on
      // too few answers.
      jf["feedback"] = {{"responses", fb.responses},
                        {"index", fb.significant && fb.index ? Json(*fb.index) : Json(nullptr)},
                        {"significant", fb.significant},
                        {"min_responses", fb.min_responses},
                        {"buttons", std::move(buttons)}};
    } else {
      jf["feedback"] = nullptr;
    }
    facilities.push_back(std::move(jf));
  }

  Json& buffer = j["buffer"];
  buffer["depth"] = src_.outbox.depth();
  buffer["dropped"] = src_.outbox.dropped_total();
  auto oldest = src_.outbox.depth() > 0 ? src_.outbox.OldestTs() : std::nullopt;
  buffer["oldest_age_s"] = oldest ? Json(std::max<int64_t>(0, now - *oldest) / 1000) : Json(nullptr);

  const auto up = src_.uplink.stats();
  Json& uplink = j["uplink"];
  uplink["state"] = uplink::UplinkStateName(up.state);
  uplink["broker"] = up.broker;
  uplink["reconnects"] = up.reconnects;
  uplink["bd_seq"] = up.bd_seq;
  uplink["readings_published"] = up.readings_published;
  uplink["publish_failures"] = up.publish_failures;
  uplink["in_flight"] = up.in_flight;
  uplink["last_error"] = up.last_error;

  const auto ps = src_.pipeline.stats();
  j["pipeline"] = {{"accepted", ps.accepted},
                   {"refused_busy", ps.refused_busy},
                   {"refused_disk_full", ps.refused_disk_full},
                   {"refused_io_error", ps.refused_io_error},
                   {"rejected_unknown", ps.rejected_unknown},
                   {"rejected_too_old", ps.rejected_too_old},
                   {"commit_failures", ps.commit_failures},
                   {"failing", ps.failing}};

  Json& drivers = j["drivers"] = Json::array();
  for (const auto& d : src_.drivers) {
    DriverStats ds = d->Stats();
    drivers.push_back({{"name", d->Name()}, {"errors", ds.errors}, {"last_error", ds.last_error},
                       {"start_error", d->start_error()}});
  }

  j["alarms"] = src_.alarms ? AlarmsJson(src_.alarms(), config_, now) : Json::array();

  Json& errors = j["errors"] = Json::array();
  if (src_.recent_log) {
    auto entries = src_.recent_log->Entries();
    // Newest first: that is what a technician looks for.
    for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
      errors.push_back({{"unix_ms", it->unix_ms}, {"level", it->level}, {"text", it->text}});
    }
  }
  // Invalid UTF-8 (a sensor id from a device) must not make the whole page fail.
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string WebServer::MetricsText() {
  MetricsWriter m;
  const auto ps = src_.pipeline.stats();
  const auto up = src_.uplink.stats();
  const int64_t now = src_.clock.NowMs();

  m.Family("gateway_build_info", "gauge", "Version of the running gateway.");
  m.Sample("gateway_build_info", 1,
           "version=\"" + Label(src_.version) + "\",group_id=\"" + Label(config_.group_id) + "\",edge_node_id=\"" +
               Label(config_.edge_node_id) + "\"");
  m.One("gateway_start_time_seconds", "gauge", "Unix time the gateway started.", double(started_unix_ms_) / 1000.0);

  m.One("gateway_readings_accepted_total", "counter", "Raw readings committed to the buffer.", double(ps.accepted));
  m.One("gateway_readings_derived_total", "counter", "Facility metrics derived and committed.", double(ps.derived));
  m.Family("gateway_readings_refused_total", "counter", "Readings not accepted, by reason.");
  m.Sample("gateway_readings_refused_total", double(ps.refused_busy), "reason=\"busy\"");
  m.Sample("gateway_readings_refused_total", double(ps.rejected_unknown), "reason=\"unknown_sensor\"");
  m.Sample("gateway_readings_refused_total", double(ps.refused_disk_full), "reason=\"disk_full\"");
  m.Sample("gateway_readings_refused_total", double(ps.refused_io_error), "reason=\"io_error\"");
  m.Sample("gateway_readings_refused_total", double(ps.rejected_too_old), "reason=\"too_old\"");
  m.Family("gateway_late_readings_total", "counter",
           "Readings that came after their day's report was made (counted in their day; the report is revised).");
  for (const auto& [facility, n] : ps.late_readings) {
    m.Sample("gateway_late_readings_total", double(n), "facility=\"" + Label(facility) + "\"");
  }
  m.One("gateway_readings_dropped_total", "counter", "Readings dropped from the buffer by its disk cap.",
        double(src_.outbox.dropped_total()));
  m.One("gateway_buffer_lost_readings", "gauge",
        "Accepted readings found missing at start-up (a lost WAL) or not salvaged from a corrupt file.",
        double(src_.outbox.lost_at_open()));
  m.One("gateway_buffer_moved_aside_total", "counter", "Buffer files proven corrupt and moved aside since start.",
        double(src_.outbox.moved_aside()));
  const auto& ckpt = src_.outbox.checkpointer();
  m.One("gateway_buffer_checkpoints_total", "counter",
        "WAL checkpoints run by the buffer's checkpoint thread (off the commit path).", double(ckpt.checkpoints()));
  m.One("gateway_buffer_checkpointed_pages_total", "counter",
        "Buffer pages copied from the WAL into the file by those checkpoints (each written to the card).",
        double(ckpt.frames_copied()));
  m.One("gateway_buffer_checkpoint_failures_total", "counter",
        "WAL checkpoints that failed (an I/O error of the medium); each is tried again.", double(ckpt.failures()));
  m.One("gateway_buffer_checkpoint_longest_seconds", "gauge",
        "The longest WAL checkpoint since start: what a commit would have waited with checkpoints in the commits.",
        double(ckpt.longest_us()) / 1e6);
  m.One("gateway_buffer_reserve_held", "gauge", "1 while the disk reserve file for a full disk is held.",
        src_.outbox.reserve_held() ? 1.0 : 0.0);
  m.One("gateway_buffer_ready", "gauge", "1 while commits to the buffer succeed.", ps.failing.empty() ? 1.0 : 0.0);
  m.One("gateway_readings_published_total", "counter", "Readings acknowledged by the broker.",
        double(up.readings_published));
  m.One("gateway_buffer_readings", "gauge", "Readings waiting in the buffer.", double(src_.outbox.depth()));
  auto oldest = src_.outbox.depth() > 0 ? src_.outbox.OldestTs() : std::nullopt;
  m.One("gateway_buffer_oldest_age_seconds", "gauge", "Age of the oldest reading waiting in the buffer (0 when empty).",
        oldest ? double(std::max<int64_t>(0, now - *oldest)) / 1000.0 : 0.0);
  m.One("gateway_buffer_bytes", "gauge", "Bytes the buffer file uses.", double(src_.outbox.file_bytes_used()));
  m.One("gateway_commits_total", "counter", "Group commits to the buffer.", double(ps.commits));
  m.One("gateway_commit_failures_total", "counter", "Group commits that failed.", double(ps.commit_failures));
  m.One("gateway_pending_readings", "gauge", "Readings in memory waiting for the next commit.", double(ps.pending));

  m.Family("gateway_publish_latency_seconds", "histogram", "Time from publishing a DDATA to its PUBACK.");
  uint64_t cumulative = 0;
  for (size_t i = 0; i < latency_.bounds().size(); ++i) {
    cumulative += latency_.counts()[i];
    m.Sample("gateway_publish_latency_seconds_bucket", double(cumulative), "le=\"" + Num(latency_.bounds()[i]) + "\"");
  }
  m.Sample("gateway_publish_latency_seconds_bucket", double(latency_.count()), "le=\"+Inf\"");
  m.Sample("gateway_publish_latency_seconds_sum", latency_.sum());
  m.Sample("gateway_publish_latency_seconds_count", double(latency_.count()));

  m.One("gateway_uplink_connected", "gauge", "1 when the MQTT session is online.",
        up.state == uplink::UplinkState::kOnline ? 1 : 0);
  m.One("gateway_uplink_reconnects_total", "counter", "MQTT reconnections after a lost connection.",
        double(up.reconnects));
  m.One("gateway_uplink_messages_published_total", "counter", "MQTT messages published.",
        double(up.messages_published));
  m.One("gateway_uplink_publish_failures_total", "counter", "Publishes that failed or were not acknowledged.",
        double(up.publish_failures));
  m.One("gateway_uplink_births_total", "counter", "Sparkplug birth sequences published.", double(up.births));
  m.One("gateway_uplink_in_flight", "gauge", "Messages awaiting PUBACK.", double(up.in_flight));
  m.One("gateway_uplink_bdseq", "gauge", "Current Sparkplug bdSeq.", double(up.bd_seq));

  m.Family("gateway_driver_errors_total", "counter", "Errors counted by each driver.");
  for (const auto& d : src_.drivers) m.Sample("gateway_driver_errors_total", double(d->Stats().errors), "driver=\"" + Label(d->Name()) + "\"");
  m.Family("gateway_driver_readings_total", "counter", "Readings each driver submitted.");
  for (const auto& d : src_.drivers) m.Sample("gateway_driver_readings_total", double(d->Stats().readings), "driver=\"" + Label(d->Name()) + "\"");

  const auto snapshot = src_.model.Snapshot();
  m.Family("gateway_facility_occupancy", "gauge", "People present in the facility (cars at connectors for charging).");
  for (const auto& f : snapshot) m.Sample("gateway_facility_occupancy", f.occupancy, "facility=\"" + Label(f.id) + "\"");
  m.Family("gateway_facility_capacity", "gauge", "Configured capacity of the facility.");
  for (const auto& f : snapshot) m.Sample("gateway_facility_capacity", f.capacity, "facility=\"" + Label(f.id) + "\"");
  m.Family("gateway_facility_open", "gauge", "1 when the facility is within its opening hours.");
  for (const auto& f : snapshot) m.Sample("gateway_facility_open", f.open ? 1 : 0, "facility=\"" + Label(f.id) + "\"");

  m.Family("gateway_sensor_online", "gauge", "1 when the sensor was heard within its silence bound.");
  for (const auto& f : snapshot) {
    for (const auto& s : f.sensors) {
      m.Sample("gateway_sensor_online", s.online ? 1 : 0,
               "facility=\"" + Label(f.id) + "\",sensor=\"" + Label(s.id) + "\",driver=\"" +
                   Label(DriverOf(config_, f.id, s.id)) + "\"");
    }
  }
  m.Family("gateway_sensor_last_seen_age_seconds", "gauge",
           "Seconds since the sensor was last heard, on the gateway clock (absent until first heard).");
  for (const auto& f : snapshot) {
    for (const auto& s : f.sensors) {
      if (s.last_heard_ms < 0) continue;
      m.Sample("gateway_sensor_last_seen_age_seconds", double(std::max<int64_t>(0, now - s.last_heard_ms)) / 1000.0,
               "facility=\"" + Label(f.id) + "\",sensor=\"" + Label(s.id) + "\"");
    }
  }

  if (src_.recent_log) {
    m.One("gateway_log_warnings_total", "counter", "Warnings and errors logged since start.",
          double(src_.recent_log->total()));
  }
  auto hs = server_.stats();
  m.One("gateway_http_requests_total", "counter", "Requests to the status server.", double(hs.requests));
  m.One("gateway_http_open_streams", "gauge", "Status pages with a live event stream open.", double(hs.open_streams));

  m.text() += AlarmMetricsText(src_.alarms ? src_.alarms() : std::vector<Alarm>{},
                               src_.alarm_outputs ? src_.alarm_outputs() : AlarmOutputCounters{});

  ProcessFigures p = ReadProcess();
  m.One("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", p.rss_bytes);
  m.One("process_cpu_seconds_total", "counter", "User and system CPU time in seconds.", p.cpu_seconds);
  m.One("process_start_time_seconds", "gauge", "Unix time the process started.", double(started_unix_ms_) / 1000.0);
  return std::move(m.text());
}

}  // namespace gateway::web
