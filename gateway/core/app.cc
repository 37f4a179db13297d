#include "core/app.h"

#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cmath>
#include <csignal>
#include <memory>
#include <thread>

#include "core/console_view.h"
#include "core/facility_model.h"
#include "alarm/alarm_book.h"
#include "alarm/coil_output.h"
#include "alarm/webhook_output.h"
#include "core/pipeline.h"
#include "core/systemd_notify.h"
#include "http_ingest/http_ingest.h"
#include "modbus/modbus_driver.h"
#include "ocpp/ocpp_driver.h"
#include "mqtt_subscriber/mqtt_subscriber.h"
#include "report/figures.h"
#include "simulator/simulator_driver.h"
#include "store/outbox.h"
#include "uplink/mqtt_uplink.h"
#include "web/web_server.h"

namespace gateway {

App::App(Config config, AppOptions options) : config_(std::move(config)), options_(std::move(options)) {}

Result<std::unique_ptr<store::Outbox>> App::OpenBuffer() {
  // A medium that fails for a moment (an SD card's retries, a USB stick re-enumerating)
  // is given about half a minute before the process gives up and lets systemd restart
  // it; a path the operator must fix is reported at once.
  auto delay = std::chrono::milliseconds(500);
  for (int attempt = 1;; ++attempt) {
    auto outbox = store::Outbox::Open(config_.data_dir, config_.buffer, SystemClock::Instance());
    if (outbox.ok() || outbox.status().code() == Status::Code::kInvalidArgument || attempt == 7) return outbox;
    spdlog::error("cannot open the buffer in {} (attempt {}): {}; trying again in {} ms", config_.data_dir, attempt,
                  outbox.status().message(), delay.count());
    std::this_thread::sleep_for(delay);
    delay *= 2;
  }
}

int App::Run() {
  boost::asio::io_context io;

  auto outbox = OpenBuffer();
  if (!outbox.ok()) {
    spdlog::critical("cannot open the buffer in {}: {}", config_.data_dir, outbox.status().message());
    return outbox.status().code() == Status::Code::kInvalidArgument ? kExitBufferUnusable : kExitBufferIoError;
  }
  spdlog::info("buffer {}: {} readings waiting, {} dropped by the disk cap so far",
               outbox.value()->path(), outbox.value()->depth(), outbox.value()->dropped_total());

  // With the simulator, the whole gateway lives in simulated time, so that midnight and
  // opening hours follow the simulation. After a restart it resumes after the last
  // accepted sample, so the simulated record has no hole and no overlap.
  std::unique_ptr<simulator::SimulatedClock> sim_clock;
  const Clock* clock = &SystemClock::Instance();
  if (config_.simulator.enabled) {
    auto c = simulator::SimulatorDriver::MakeClock(config_);
    if (!c.ok()) {
      spdlog::critical("simulator: {}", c.status().ToString());
      return 1;
    }
    sim_clock = std::move(c.value());
    const int64_t resume = outbox.value()->max_sensor_ts();
    if (!config_.simulator.start.empty() && resume >= sim_clock->start_ms()) {
      // The simulator replays the grid silently up to the clock's start, so the clock
      // starts at the first sample that was not accepted before.
      const auto interval = static_cast<int64_t>(std::llround(config_.simulator.interval_s * 1000.0));
      const int64_t next = sim_clock->start_ms() + ((resume - sim_clock->start_ms()) / interval + 1) * interval;
      sim_clock = std::make_unique<simulator::SimulatedClock>(next, config_.simulator.speed);
      spdlog::info("simulator: resuming after the last accepted sample");
    }
    clock = sim_clock.get();
  }

  auto model = FacilityModel::Create(config_);
  if (!model.ok()) {
    spdlog::critical("facility model: {}", model.status().ToString());
    return 1;
  }
  auto history = store::History::Create(config_);
  if (!history.ok()) {
    spdlog::critical("history: {}", history.status().ToString());
    return 1;
  }
  Pipeline pipeline(io, config_, *outbox.value(), *model.value(), *clock);
  pipeline.set_history(history.value().get(), [this](const std::string& facility, int64_t day,
                                                     const std::vector<store::HourRow>& rows, int revision,
                                                     const std::vector<Alarm>& alarms) -> std::optional<Value> {
    auto d = report::DailyReportOf(config_, facility, day, rows, revision, alarms);
    if (!d) return std::nullopt;
    return Value(std::move(*d));
  });
  // Emergency calls: the book keeps closed alarms as long as a press may be delivered
  // again (readings as old as history.late_days are accepted).
  AlarmBook alarms(config_.alarms, (int64_t(config_.history.late_days) + 2) * 86'400'000);
  pipeline.set_alarms(&alarms);
  uplink::MqttUplink uplink(io, config_, *outbox.value(), *clock, options_.version);
  alarms.AddListener(&uplink);
  pipeline.set_on_committed([&] { uplink.Notify(); });
  uplink.set_on_acked([&] { pipeline.RequestCommit(); });

  std::vector<std::unique_ptr<Driver>> drivers;
  simulator::SimulatorDriver* sim_driver = nullptr;
  if (config_.simulator.enabled) {
    drivers.push_back(std::make_unique<simulator::SimulatorDriver>(io, config_, *sim_clock));
    sim_driver = static_cast<simulator::SimulatorDriver*>(drivers.back().get());
  }
  if (!config_.drivers.modbus.devices.empty()) {
    drivers.push_back(std::make_unique<modbus::ModbusDriver>(config_, *clock));
  }
  if (!config_.drivers.mqtt.subscriptions.empty()) {
    drivers.push_back(std::make_unique<mqtt_subscriber::MqttSubscriberDriver>(io, config_, *clock));
  }
  if (config_.drivers.http.enabled) {
    drivers.push_back(std::make_unique<http_ingest::HttpIngestDriver>(io, config_, *clock));
  }
  if (config_.drivers.ocpp.enabled) {
    drivers.push_back(std::make_unique<ocpp::OcppDriver>(io, config_, *clock));
  }

  // The local escalation outputs (gateway/alarm): told of every committed alarm change,
  // like the uplink. The coil's writes go through the Modbus driver, which owns the
  // device's connection.
  modbus::ModbusDriver* modbus_driver = nullptr;
  for (auto& d : drivers) {
    if (d->Name() == "modbus") modbus_driver = static_cast<modbus::ModbusDriver*>(d.get());
  }
  alarm::WebhookOutput webhook(config_);
  alarm::CoilOutput coil(config_.alarms.escalation, [&](const std::string& device, uint32_t address, bool on) {
    if (!modbus_driver) return Status::NotFound("no Modbus device '" + device + "' (drivers.modbus has none)");
    return modbus_driver->WriteCoil(device, address, on);
  });
  alarms.AddListener(&webhook);
  alarms.AddListener(&coil);

  std::unique_ptr<ConsoleView> view;
  if (options_.live_view) {
    view = std::make_unique<ConsoleView>(io, config_, *model.value(), pipeline, *outbox.value(), uplink, *clock);
  }

  // The status page and /metrics. A port in use is logged, not fatal: the readings
  // matter more than the page.
  std::unique_ptr<web::WebServer> web_server;
  if (config_.web.enabled) {
    auto recent = std::make_shared<web::RecentLog>();
    spdlog::default_logger()->sinks().push_back(recent);
    web::Sources sources{*model.value(), pipeline, *outbox.value(), uplink, *clock, drivers, recent, options_.version};
    sources.alarms = [&] { return alarms.Open(); };
    sources.alarm_outputs = [&] {
      web::AlarmOutputCounters c;
      c.webhook_enabled = !config_.alarms.escalation.webhook_url.empty();
      c.webhook_sent = webhook.stats().sent;
      c.webhook_failed = webhook.stats().failed;
      c.webhook_dropped = webhook.stats().dropped;
      c.coil_enabled = coil.enabled();
      c.coil_on = coil.on();
      if (modbus_driver) {
        c.coil_writes = modbus_driver->stats().coil_writes;
        c.coil_write_errors = modbus_driver->stats().coil_write_errors;
      }
      return c;
    };
    web_server = std::make_unique<web::WebServer>(io, config_, std::move(sources));
    uplink.set_publish_latency_observer([&](double s) { web_server->ObservePublishLatency(s); });
    alarms.AddListener(web_server.get());  // an alarm change is pushed to open pages at once
  }
  SystemdNotify systemd(io);

  int exit_code = 0;
  bool stopping = false;
  boost::asio::steady_timer grace(io);
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  auto shutdown = [&](const char* why) {
    if (stopping) return;
    stopping = true;
    spdlog::info("shutting down ({})", why);
    systemd.Stopping();
    if (web_server) web_server->set_stopping();
    for (auto& d : drivers) d->Stop();
    if (view) view->Stop();
    Status s = pipeline.Stop();
    if (!s.ok()) spdlog::error("final commit failed: {}", s.ToString());
    // After the final commit (its changes are the webhook's last events): a POST in flight
    // is cut off at once, what is still queued is logged and counted as failed.
    webhook.Stop();
    // A bounded grace period: a second signal, or a broker that never answers, cannot
    // keep the process from exiting.
    grace.expires_after(std::chrono::seconds(10));
    grace.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      spdlog::warn("shutdown grace period over; stopping now");
      io.stop();
    });
    uplink.Stop([&] {
      grace.cancel();
      if (web_server) web_server->Stop();
      io.stop();
    });
  };
  signals.async_wait([&](boost::system::error_code ec, int signo) {
    if (ec) return;
    shutdown(signo == SIGINT ? "SIGINT" : "SIGTERM");
    // A second signal ends the grace period at once.
    signals.async_wait([&](boost::system::error_code ec2, int) {
      if (!ec2) io.stop();
    });
  });

  // The simulator's first sample is taken exactly at its clock's start: the initial
  // facility metrics are stamped just before it, since platforms de-duplicate on
  // (metric, timestamp) and two values at one instant would lose one.
  Status s = pipeline.Start(sim_clock ? sim_clock->start_ms() - 1 : clock->NowMs());
  if (!s.ok()) {
    // Not fatal: the pipeline commits it again, and meanwhile the buffer drains.
    spdlog::error("the initial facility state is not committed yet ({}); the gateway runs on and retries",
                  s.message());
  }
  uplink::AlarmSource alarm_source;
  alarm_source.open = [&] { return alarms.Open(); };
  alarm_source.open_in = [&](const std::string& f) { return alarms.Open(f); };
  alarm_source.latest_by_sensor = [&](const std::string& f) { return alarms.LatestBySensor(f); };
  alarm_source.acknowledge = [&](const std::string& facility, const uplink::AlarmAcknowledge& ack) {
    Alarm now_is;
    switch (alarms.Acknowledge(facility, ack.id, ack.by, clock->NowMs(), &now_is)) {
      case AlarmBook::AckResult::kAcknowledged: pipeline.CommitAlarms(); break;  // then published
      case AlarmBook::AckResult::kAlready: uplink.RepublishAlarm(now_is); break;
      case AlarmBook::AckResult::kUnknown: break;
    }
  };
  alarm_source.published = [&](const Alarm& a) { alarms.MarkPublished(a.facility_id, a.id, a.version); };
  uplink.set_alarms(std::move(alarm_source), alarms.Unpublished());
  uplink.Start();
  // After the pipeline resumed the stored alarms: the coil starts as they call for (an
  // alarm escalated before a restart keeps its light on), the webhook's thread starts
  // and announces the escalated ones again (a POST lost with the power is sent).
  if (Status ws = webhook.Start(alarms.Open()); !ws.ok()) spdlog::error("alarm webhook not available: {}", ws.ToString());
  if (Status cs = coil.Start(alarms.Open()); !cs.ok()) spdlog::error("alarm coil not available: {}", cs.ToString());
  for (auto& d : drivers) {
    Status ds = d->Start(pipeline);
    if (!ds.ok()) {
      spdlog::error("driver {} did not start: {}", d->Name(), ds.ToString());
      d->set_start_error(ds.ToString());  // /readyz: not ready
    }
  }
  if (view) view->Start();
  if (web_server) {
    Status ws = web_server->Start();
    if (!ws.ok()) spdlog::error("status page not available: {}", ws.ToString());
  }
  for (const auto& missing : MissingSetup(config_)) spdlog::warn("not set up yet: {}", missing);
  spdlog::info("gateway {}/{} running: {} facilities", config_.group_id, config_.edge_node_id,
               config_.facilities.size());
  systemd.Ready(std::to_string(config_.facilities.size()) + " facilities; buffer " +
                std::to_string(outbox.value()->depth()) + " readings");

  io.run();
  if (sim_driver) {
    // What this run of the simulator generated per facility and local day: the ground
    // truth that tests compare reports with (tests/integration/test_report.py).
    std::string totals;
    for (const auto& [facility, days] : sim_driver->totals()) {
      std::string per_day;
      for (const auto& [day, t] : days) {
        per_day += (per_day.empty() ? "" : ",") + fmt::format(
            "\"{}\":{{\"entries\":{},\"meals\":{},\"checkins\":{},\"charging_sessions\":{},"
            "\"equipment_sessions\":{}}}", day, t.entries, t.meals, t.checkins, t.charging_sessions,
            t.equipment_sessions);
      }
      totals += (totals.empty() ? "" : ",") + fmt::format("\"{}\":{{{}}}", facility, per_day);
    }
    spdlog::info("simulator generated: {{{}}}", totals);
  }
  auto ps = pipeline.stats();
  auto us = uplink.stats();
  spdlog::info("stopped: {} readings accepted, {} published, {} waiting in the buffer", ps.accepted,
               us.readings_published, outbox.value()->depth());
  return exit_code;
}

}  // namespace gateway
