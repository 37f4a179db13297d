#include "web/alarm_view.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "http/prometheus_label.h"

namespace gateway::web {

nlohmann::json AlarmsJson(std::vector<Alarm> open, const Config& config, int64_t now_ms) {
  std::erase_if(open, [](const Alarm& a) { return !a.open(); });
  auto rank = [](const Alarm& a) { return a.test ? 2 : a.state == AlarmState::kEscalated ? 0 : 1; };
  std::sort(open.begin(), open.end(), [&](const Alarm& a, const Alarm& b) {
    return std::make_tuple(rank(a), -a.raised_ms, a.id) < std::make_tuple(rank(b), -b.raised_ms, b.id);
  });
  std::map<std::string, std::string> names;
  for (const auto& f : config.facilities) names[f.id] = f.name;
  nlohmann::json out = nlohmann::json::array();
  for (const auto& a : open) {
    out.push_back({{"id", a.id},
                   {"facility", a.facility_id},
                   {"facility_name", names[a.facility_id]},
                   {"sensor", a.sensor_id},
                   {"location", a.location},
                   {"kind", a.kind},
                   {"test", a.test},
                   {"state", AlarmStateName(a.state)},
                   {"raised_ms", a.raised_ms},
                   {"open_s", std::max<int64_t>(0, now_ms - a.raised_ms) / 1000},
                   {"presses", a.presses},
                   {"escalated_ms", a.escalated_ms}});
  }
  return out;
}

std::string AlarmMetricsText(const std::vector<Alarm>& open, const AlarmOutputCounters& c) {
  std::string t;
  auto family = [&](const char* name, const char* type, const char* help) {
    t += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  };
  auto sample = [&](const std::string& name, uint64_t v, const std::string& labels = "") {
    t += name + (labels.empty() ? "" : "{" + labels + "}") + " " + std::to_string(v) + "\n";
  };
  std::map<std::tuple<std::string, std::string, bool>, uint64_t> counts;
  for (const auto& a : open) {
    if (a.open()) ++counts[{a.facility_id, AlarmStateName(a.state), a.test}];
  }
  family("gateway_alarms_open", "gauge", "Open (not acknowledged) alarms, by facility, state and test press.");
  for (const auto& [k, n] : counts) {
    const auto& [facility, state, test] = k;
    sample("gateway_alarms_open", n,
           "facility=\"" + http::PrometheusLabel(facility) + "\",state=\"" + state + "\",test=\"" + (test ? "true" : "false") + "\"");
  }
  if (c.webhook_enabled) {
    family("gateway_alarm_webhook_sent_total", "counter", "Alarm webhook events the receiver answered with 2xx.");
    sample("gateway_alarm_webhook_sent_total", c.webhook_sent);
    family("gateway_alarm_webhook_failed_total", "counter", "Alarm webhook events given up after every attempt.");
    sample("gateway_alarm_webhook_failed_total", c.webhook_failed);
    family("gateway_alarm_webhook_dropped_total", "counter", "Alarm webhook events dropped: the queue was full.");
    sample("gateway_alarm_webhook_dropped_total", c.webhook_dropped);
  }
  if (c.coil_enabled) {
    family("gateway_alarm_coil_on", "gauge", "1 while the escalation coil is wanted ON (an alarm is escalated).");
    sample("gateway_alarm_coil_on", c.coil_on ? 1 : 0);
    family("gateway_alarm_coil_writes_total", "counter", "Escalation coil writes the Modbus device confirmed.");
    sample("gateway_alarm_coil_writes_total", c.coil_writes);
    family("gateway_alarm_coil_write_errors_total", "counter", "Escalation coil write attempts that failed (retried).");
    sample("gateway_alarm_coil_write_errors_total", c.coil_write_errors);
  }
  return t;
}

}  // namespace gateway::web
