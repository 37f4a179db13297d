// alarm_outputs_probe: the alarm escalation outputs (WebhookOutput, CoilOutput over a
// real ModbusDriver) without the rest of the gateway, driven by test_alarm_outputs.py
// against a real HTTP server and a real Modbus peer.
//
//   alarm_outputs_probe key=value...   (webhook_url, webhook_token, webhook_timeout_ms,
//                                       webhook_retries, modbus_port, coil_address)
//
// Prints "ready", then reads JSON commands from stdin, one per line, each answered with
// one line:
//   {"op":"alarm","alarm":{...Alarm fields, "state":"raised"|"escalated"|"acknowledged"}}
//        -> "ok": both outputs are told of the change (as the AlarmBook tells them)
//   {"op":"stats"} -> a JSON object of the outputs' counters
// End of input stops the outputs (bounded) and exits 0. Logs go to stderr.
// Threads: the main thread plays the core's loop thread (it alone calls the listeners).
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "alarm/coil_output.h"
#include "alarm/webhook_output.h"
#include "gateway/clock.h"
#include "gateway/reading_sink.h"
#include "modbus/modbus_driver.h"

namespace {

// Takes every batch at once, as a core with room would.
class AcceptAll final : public gateway::ReadingSink {
 public:
  void Submit(std::vector<gateway::Reading>, Done done) override {
    if (done) done(gateway::Status::Ok());
  }
};

gateway::Alarm AlarmFromJson(const nlohmann::json& j) {
  gateway::Alarm a;
  a.id = j.value("id", "");
  a.facility_id = j.value("facility", "station-1");
  a.sensor_id = j.value("sensor", "cord-1");
  a.location = j.value("location", "");
  a.kind = j.value("kind", "call");
  a.test = j.value("test", false);
  const std::string state = j.value("state", "raised");
  a.state = state == "escalated"      ? gateway::AlarmState::kEscalated
            : state == "acknowledged" ? gateway::AlarmState::kAcknowledged
                                      : gateway::AlarmState::kRaised;
  a.raised_ms = j.value("raised_ms", int64_t(0));
  a.presses = j.value("presses", uint32_t(1));
  a.escalated_ms = j.value("escalated_ms", int64_t(-1));
  a.acknowledged_ms = j.value("acknowledged_ms", int64_t(-1));
  a.acknowledged_by = j.value("acknowledged_by", "");
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_default_logger(spdlog::stderr_logger_mt("probe"));
  spdlog::set_level(spdlog::level::debug);
  std::map<std::string, std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    const size_t eq = a.find('=');
    if (eq == std::string::npos) {
      std::cerr << "usage: alarm_outputs_probe key=value...\n";
      return 2;
    }
    args[a.substr(0, eq)] = a.substr(eq + 1);
  }
  gateway::Config config;
  gateway::FacilityConfig f;
  f.id = "station-1";
  f.type = gateway::FacilityType::kElderlyStation;
  f.name = "Huacao day-care station";
  config.facilities.push_back(f);
  auto& esc = config.alarms.escalation;
  esc.webhook_url = args["webhook_url"];
  esc.webhook_token = args["webhook_token"];
  if (args.count("webhook_timeout_ms")) esc.webhook_timeout_ms = std::stoi(args["webhook_timeout_ms"]);
  if (args.count("webhook_retries")) esc.webhook_retries = std::stoi(args["webhook_retries"]);
  if (args.count("modbus_port")) {
    gateway::ModbusDeviceConfig d;
    d.id = "io-1";
    d.facility = "station-1";
    d.sensor = "cord-1";
    d.host = "127.0.0.1";
    d.port = uint32_t(std::stoul(args["modbus_port"]));
    d.poll_interval_ms = 200;
    d.timeout_ms = 300;
    d.retries = 1;
    d.backoff_max_ms = 800;
    gateway::ModbusRegisterConfig r;  // the cord's dry contact, polled as usual
    r.point = "pressed";
    r.table = gateway::ModbusRegisterConfig::Table::kDiscreteInput;
    r.type = gateway::ModbusRegisterConfig::Type::kBool;
    d.registers.push_back(r);
    config.drivers.modbus.devices.push_back(d);
    esc.coil_device = "io-1";
    esc.coil_address = uint32_t(std::stoul(args.count("coil_address") ? args["coil_address"] : "0"));
  }

  gateway::SystemClock clock;
  AcceptAll sink;
  modbus::ModbusDriver driver(config, clock);
  gateway::alarm::WebhookOutput webhook(config);
  gateway::alarm::CoilOutput coil(esc, [&driver](const std::string& dev, uint32_t address, bool on) {
    return driver.WriteCoil(dev, address, on);
  });
  if (auto s = webhook.Start(); !s.ok()) {
    std::cerr << "webhook: " << s.message() << "\n";
    return 1;
  }
  if (auto s = driver.Start(sink); !s.ok()) {
    std::cerr << "modbus: " << s.message() << "\n";
    return 1;
  }
  if (auto s = coil.Start({}); !s.ok()) {
    std::cerr << "coil: " << s.message() << "\n";
    return 1;
  }
  std::cout << "ready" << std::endl;

  std::string line;
  while (std::getline(std::cin, line)) {
    auto cmd = nlohmann::json::parse(line, nullptr, false);
    if (cmd.is_discarded() || !cmd.is_object()) {
      std::cout << "error: not JSON" << std::endl;
      continue;
    }
    const std::string op = cmd.value("op", "");
    if (op == "alarm") {
      const gateway::Alarm a = AlarmFromJson(cmd["alarm"]);
      webhook.OnAlarmChanged(a);
      coil.OnAlarmChanged(a);
      std::cout << "ok" << std::endl;
    } else if (op == "stats") {
      const auto& w = webhook.stats();
      const auto& m = driver.stats();
      nlohmann::json out = {{"sent", w.sent.load()},           {"failed", w.failed.load()},
                            {"attempts", w.attempts.load()},   {"dropped", w.dropped.load()},
                            {"queued", webhook.queued()},      {"coil_on", coil.on()},
                            {"coil_switches", coil.switches()}, {"coil_writes", m.coil_writes.load()},
                            {"coil_write_errors", m.coil_write_errors.load()},
                            {"pending_coil_writes", driver.pending_coil_writes()}, {"polls", m.polls.load()}};
      std::cout << out.dump() << std::endl;
    } else {
      std::cout << "error: unknown op" << std::endl;
    }
  }
  webhook.Stop();
  driver.Stop();
  return 0;
}
