// AlarmView: the open alarms as the status page shows them (the red banner at the top,
// JSON under "alarms" in /api/status and each pushed update) and the escalation
// outputs' counters as /metrics lists them.
//
// Who owns what: the App's AlarmBook owns the alarms and the outputs their counters;
// the WebServer gets both through functions in its Sources and only reads. Pure
// functions over copies; called on the core's loop thread with the rest of the page.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gateway/alarm.h"
#include "gateway/config.h"

namespace gateway::web {

// What the escalation outputs did (gateway/alarm), for /metrics.
struct AlarmOutputCounters {
  bool webhook_enabled = false;
  uint64_t webhook_sent = 0;     // events the receiver answered 2xx
  uint64_t webhook_failed = 0;   // events given up after every attempt
  uint64_t webhook_dropped = 0;  // events not queued: the queue was full
  bool coil_enabled = false;
  bool coil_on = false;          // the state wanted now
  uint64_t coil_writes = 0;      // writes the device confirmed
  uint64_t coil_write_errors = 0;  // write attempts that failed (retried)
};

// The page's "alarms" array: open alarms, escalated real calls first, then the other
// real calls, then test presses; newest first within each. `now_ms`: the gateway clock,
// for how long each has been open.
nlohmann::json AlarmsJson(std::vector<Alarm> open, const Config& config, int64_t now_ms);

// Prometheus text: gateway_alarms_open{facility,state,test} and the outputs' counters.
std::string AlarmMetricsText(const std::vector<Alarm>& open, const AlarmOutputCounters& c);

}  // namespace gateway::web
