// Alarm: one emergency call (一键通) as the gateway keeps it, from the press that raised
// it to the host's acknowledgement. A plain value, copied freely between threads.
//
// Who owns what: the core's AlarmBook (gateway/alarm/) creates and changes alarms and
// the buffer file keeps them (store/alarm_store); the uplink publishes them ahead of the
// backlog and hands acknowledgements back to the core; the escalation outputs (status
// page, Modbus coil, LAN webhook) only read them. The wire form is in
// docs/wire-format.md, "Alarms".
#pragma once

#include <cstdint>
#include <string>

namespace gateway {

enum class AlarmState : uint8_t {
  kRaised = 0,        // pressed, not yet acknowledged
  kEscalated = 1,     // not acknowledged within alarms.escalate_after_s: local outputs fired
  kAcknowledged = 2,  // closed by a host's DCMD
};
const char* AlarmStateName(AlarmState s);  // "raised", "escalated", "acknowledged"

struct Alarm {
  // Unique within the facility and stable across restarts: "{sensor_id}-{raised_ms}".
  std::string id;
  std::string facility_id;
  std::string sensor_id;
  std::string location;     // the sensor's configured location label (may be empty)
  std::string kind;         // "call" (a call button) or the alarm point's name ("fall")
  bool test = false;        // a test press: published and acknowledged, never escalated
  AlarmState state = AlarmState::kRaised;
  int64_t raised_ms = 0;    // the press's own timestamp (event time)
  uint32_t presses = 1;     // device presses folded into this alarm (repeats, within the window)
  int64_t escalated_ms = -1;     // -1: not escalated
  int64_t acknowledged_ms = -1;  // gateway clock when the acknowledging DCMD arrived; -1: open
  std::string acknowledged_by;   // the host's operator name from the DCMD ("" if none)
  int64_t last_press_ms = 0;     // the newest press folded in (event time)
  // Bumped by every change; the uplink reports which version the broker acknowledged,
  // so that a change not yet published when the gateway stopped is published at start.
  uint32_t version = 1;
  uint32_t published_version = 0;

  bool open() const { return state != AlarmState::kAcknowledged; }
  bool operator==(const Alarm&) const = default;
};

// One press as the facility model recognised it (core/model/call_button.cc,
// core/model/alarm_point.cc): what the AlarmBook turns into a new alarm or folds into one.
struct AlarmPress {
  std::string facility_id;
  std::string sensor_id;
  std::string location;
  std::string kind;      // "call", or the alarm point's name
  bool test = false;
  bool phantom = false;  // replayed by its source (a retained MQTT message): counted, never raised
  int64_t ts_ms = 0;     // the press's own time
};

// Told of every alarm change once it is committed to the buffer (raised, a press folded
// in, escalated, acknowledged), with the alarm as it now is. Called on the core's
// event-loop thread; must not block (an output that does I/O posts it to its own
// thread or strand).
class AlarmListener {
 public:
  virtual ~AlarmListener() = default;
  virtual void OnAlarmChanged(const Alarm& alarm) = 0;
};

}  // namespace gateway
