// AlarmLane: the uplink's priority lane for emergency calls (docs/wire-format.md,
// "Alarms"): which alarm changes wait to be published, which are in flight, the metrics
// of an alarm message and of a facility's DBIRTH, their aliases, and the acknowledging
// DCMD. The MqttUplink owns it and publishes what it hands out ahead of the buffer's
// backlog, in a window of its own (kMaxInFlight) so that a full data window never holds
// an alarm back. Pure (no MQTT, no clock of its own), so unit tests drive it directly.
// Loop thread only, like the uplink.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "codec/sparkplug_codec.h"
#include "gateway/alarm.h"
#include "gateway/config.h"
#include "gateway/status.h"

namespace gateway::uplink {

// What a host's DCMD alarms/acknowledge asks. Parsed from untrusted bytes
// (tests/fuzz/fuzz_alarm_dcmd.cc): at most kMaxPayload bytes, an id of 1..200 bytes, an
// operator of at most 64 bytes of valid UTF-8.
struct AlarmAcknowledge {
  std::string id;
  std::string by;
};
Result<AlarmAcknowledge> ParseAlarmAcknowledge(std::string_view payload);

// The alarms/events DataSet of these alarms (one row each, in the documented columns).
DataSet AlarmEventsDataSet(const std::vector<Alarm>& alarms);
// When the alarm's latest change happened: the acknowledgement, the escalation, or its
// newest press (event time).
int64_t AlarmChangeMs(const Alarm& a);

class AlarmLane {
 public:
  static constexpr size_t kMaxPayload = 4096;
  static constexpr int kMaxInFlight = 8;
  // Alarm metrics' aliases: above every facility alias (16 + a 32-bit row id), per
  // facility (its index in the config) and slot (0 alarms/open, 1 alarms/events, then
  // two per sensor in config order: active, alarm_id).
  static constexpr uint64_t kAliasBase = 1ull << 40;

  explicit AlarmLane(const Config& config);

  struct Item {
    Alarm alarm;
    bool reannounce = false;  // stamped now rather than at the change
  };
  // A change to publish (a newer version replaces a queued older one); a re-announcement
  // of an open alarm already queued or in flight is dropped.
  void Enqueue(const Alarm& a, bool reannounce);
  bool HasQueued() const { return !queue_.empty(); }
  bool CanSend() const { return !queue_.empty() && int(in_flight_.size()) < kMaxInFlight; }
  Item TakeNext();
  void Sent(uint64_t msg_id, Item item);
  // The broker's answer for an alarm message: ok gives the item (its version is
  // published); a failure puts it back in the queue (unless a newer one waits).
  std::optional<Item> Settled(uint64_t msg_id, bool ok);
  bool InFlight(uint64_t msg_id) const { return in_flight_.count(msg_id) != 0; }
  // The connection is gone: what was in flight is queued again.
  void ResetInFlight();
  size_t in_flight() const { return in_flight_.size(); }

  // The metrics of one alarm's message: its sensor's active and alarm_id, the
  // facility's open count, and its events row. Stamped at the change (now_ms for a
  // re-announcement).
  std::vector<codec::Metric> ChangeMetrics(const Item& item, uint32_t open_in_facility, int64_t now_ms,
                                           bool aliases) const;
  // What a facility's DBIRTH carries: active/alarm_id of its call buttons and of every
  // sensor with an alarm, alarms/open, and alarms/events with its open alarms.
  std::vector<codec::Metric> BirthMetrics(const std::string& facility, const std::vector<Alarm>& latest_by_sensor,
                                          const std::vector<Alarm>& open, int64_t now_ms, bool aliases);
  // Whether the facility's last DBIRTH named this sensor's alarm metrics.
  bool Birthed(const std::string& facility, const std::string& sensor) const;
  void ForgetBirths() { birthed_.clear(); }

  bool KnowsFacility(const std::string& facility) const { return facility_index_.count(facility) != 0; }

 private:
  using Key = std::pair<std::string, std::string>;  // (facility, alarm id)
  std::optional<uint64_t> Alias(const std::string& facility, uint64_t slot, bool aliases) const;
  uint64_t SensorSlot(const std::string& facility, const std::string& sensor) const;

  std::map<Key, Item> queue_;
  std::map<uint64_t, Item> in_flight_;
  std::map<std::string, uint64_t> facility_index_;
  std::map<Key, uint64_t> sensor_index_;  // (facility, sensor) -> index in the config
  std::map<std::string, std::vector<std::string>> call_buttons_;
  std::map<std::string, std::set<std::string>> birthed_;
};

}  // namespace gateway::uplink
