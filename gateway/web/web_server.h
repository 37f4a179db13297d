// WebServer: the gateway's own status page, /metrics and health probes, for the person
// on site (a phone's browser) and the operations team (Prometheus, systemd, a load
// balancer).
//
// Owned by the App; every method and every handler runs on the core's event-loop
// thread, where it reads the other components (FacilityModel::Snapshot, Pipeline::stats,
// Outbox depth, MqttUplink::stats, Driver::Stats) directly; it never changes them.
// The page (assets compiled into the binary) gets the same JSON as /api/status, then a
// fresh copy every web.push_interval_ms as a server-sent event; open alarms ride in it
// (web/alarm_view.h), so a press reaches an open page within one push interval.
//
// Recent warnings and errors come from a spdlog sink (RecentLog) that the App attaches
// to the default logger; it is the one piece called from other threads (any thread that
// logs), hence its mutex.
#pragma once

#include <spdlog/sinks/base_sink.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/facility_model.h"
#include "core/pipeline.h"
#include "gateway/alarm.h"
#include "gateway/clock.h"
#include "gateway/config.h"
#include "gateway/driver.h"
#include "http/http_server.h"
#include "store/outbox.h"
#include "uplink/mqtt_uplink.h"
#include "web/alarm_view.h"

namespace gateway::web {

// The last warnings and errors logged, for the status page.
class RecentLog final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  struct Entry {
    int64_t unix_ms = 0;  // wall clock
    std::string level;    // "warning", "error", "critical"
    std::string text;
  };
  explicit RecentLog(size_t capacity = 30) : capacity_(capacity) {}
  std::vector<Entry> Entries();  // oldest first; any thread
  uint64_t total() { std::lock_guard<std::mutex> lock(mutex_); return total_; }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override {}

 private:
  size_t capacity_;
  std::deque<Entry> entries_;
  uint64_t total_ = 0;
};

// Publish latency as a Prometheus histogram (cumulative buckets).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  const std::vector<double>& bounds() const { return bounds_; }
  const std::vector<uint64_t>& counts() const { return counts_; }  // per bucket, not cumulative; last = +Inf
  uint64_t count() const { return count_; }
  double sum() const { return sum_; }

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  double sum_ = 0;
};

struct Sources {
  const FacilityModel& model;
  const Pipeline& pipeline;
  store::Outbox& outbox;
  const uplink::MqttUplink& uplink;
  const Clock& clock;                                  // the gateway's (simulated with the simulator)
  const std::vector<std::unique_ptr<Driver>>& drivers;
  std::shared_ptr<RecentLog> recent_log;               // may be null
  std::string version;
  // The open alarms (the AlarmBook's), shown as the banner at the top of the page and
  // in every push; empty: no alarms. Called on the loop thread.
  std::function<std::vector<Alarm>()> alarms = {};
  // The escalation outputs' counters for /metrics; empty: none configured.
  std::function<AlarmOutputCounters()> alarm_outputs = {};
};

// Also an AlarmListener: an alarm change is pushed to open pages at once rather than at
// the next push interval, so a press shows well within a second.
class WebServer final : public AlarmListener {
 public:
  WebServer(boost::asio::io_context& io, const Config& config, Sources sources);
  ~WebServer();

  // Binds web.address:web.port and starts the push timer.
  Status Start();
  void Stop();
  // Shutting down: /readyz answers 503 from now on.
  void set_stopping() { stopping_ = true; }
  uint16_t port() const { return server_.port(); }

  // Feed for the publish latency histogram (MqttUplink::set_publish_latency_observer).
  void ObservePublishLatency(double seconds) { latency_.Observe(seconds); }

  void OnAlarmChanged(const Alarm&) override { Push(); }

  // Exposed for tests: the bodies the routes serve.
  std::string StatusJson();
  std::string MetricsText();

 private:
  void Push();
  void SchedulePush();
  bool Ready(std::string* why);

  const Config& config_;
  Sources src_;
  http::HttpServer server_;
  boost::asio::steady_timer push_timer_;
  std::vector<std::shared_ptr<http::EventStream>> streams_;
  Histogram latency_;
  int64_t started_unix_ms_ = 0;
  bool stopping_ = false;
};

}  // namespace gateway::web
