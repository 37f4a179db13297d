#include "uplink/alarm_lane.h"

#include <algorithm>

namespace gateway::uplink {

namespace {

bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return false;
    }
    if (n == 1 && c < 0x20) return false;  // control characters do not belong in a name
    i += n;
  }
  return true;
}

std::string ActiveMetric(const std::string& sensor) { return "alarms/" + sensor + "/active"; }
std::string IdMetric(const std::string& sensor) { return "alarms/" + sensor + "/alarm_id"; }

}  // namespace

Result<AlarmAcknowledge> ParseAlarmAcknowledge(std::string_view payload) {
  if (payload.size() > AlarmLane::kMaxPayload) {
    return Status::InvalidArgument("DCMD of " + std::to_string(payload.size()) + " bytes (at most " +
                                   std::to_string(AlarmLane::kMaxPayload) + ")");
  }
  auto decoded = codec::Decode(payload, AlarmLane::kMaxPayload);
  if (!decoded.ok()) return decoded.status();
  AlarmAcknowledge ack;
  bool has_id = false;
  for (const auto& m : decoded->metrics) {
    const auto* text = std::get_if<std::string>(&m.value);
    if (m.name == "alarms/acknowledge") {
      if (!text) return Status::InvalidArgument("alarms/acknowledge must be a String");
      if (text->empty() || text->size() > 200) return Status::InvalidArgument("alarms/acknowledge: an id of 1..200 bytes");
      if (!ValidUtf8(*text)) return Status::InvalidArgument("alarms/acknowledge: not UTF-8 text");
      ack.id = *text;
      has_id = true;
    } else if (m.name == "alarms/acknowledged_by") {
      if (!text) return Status::InvalidArgument("alarms/acknowledged_by must be a String");
      if (text->size() > 64 || !ValidUtf8(*text)) {
        return Status::InvalidArgument("alarms/acknowledged_by: at most 64 bytes of UTF-8 text");
      }
      ack.by = *text;
    }
  }
  if (!has_id) return Status::InvalidArgument("no alarms/acknowledge metric (metrics go by name in a DCMD)");
  return ack;
}

DataSet AlarmEventsDataSet(const std::vector<Alarm>& alarms) {
  DataSet d;
  d.columns = {"id", "sensor", "location", "kind", "test", "state", "raised_ms", "presses", "escalated_ms",
               "acknowledged_ms", "acknowledged_by"};
  d.types = {DataType::kString, DataType::kString, DataType::kString, DataType::kString, DataType::kBoolean,
             DataType::kString, DataType::kInt64,  DataType::kUInt32, DataType::kInt64,  DataType::kInt64,
             DataType::kString};
  for (const auto& a : alarms) {
    d.rows.push_back({a.id, a.sensor_id, a.location, a.kind, a.test, std::string(AlarmStateName(a.state)),
                      a.raised_ms, a.presses, a.escalated_ms, a.acknowledged_ms, a.acknowledged_by});
  }
  return d;
}

int64_t AlarmChangeMs(const Alarm& a) {
  if (a.state == AlarmState::kAcknowledged) return a.acknowledged_ms;
  if (a.state == AlarmState::kEscalated) return a.escalated_ms;
  return a.last_press_ms;
}

AlarmLane::AlarmLane(const Config& config) {
  for (size_t i = 0; i < config.facilities.size(); ++i) {
    const auto& f = config.facilities[i];
    facility_index_[f.id] = i;
    for (size_t k = 0; k < f.sensors.size(); ++k) {
      sensor_index_[{f.id, f.sensors[k].id}] = k;
      if (f.sensors[k].kind == SensorKind::kCallButton) call_buttons_[f.id].push_back(f.sensors[k].id);
    }
  }
}

void AlarmLane::Enqueue(const Alarm& a, bool reannounce) {
  const Key k{a.facility_id, a.id};
  auto it = queue_.find(k);
  if (reannounce) {
    if (it != queue_.end()) return;
    for (const auto& [id, item] : in_flight_) {
      if (item.alarm.facility_id == a.facility_id && item.alarm.id == a.id) return;
    }
  }
  if (it != queue_.end() && it->second.alarm.version > a.version) return;
  queue_[k] = Item{a, reannounce};
}

AlarmLane::Item AlarmLane::TakeNext() {
  // The oldest call first: it has waited longest.
  auto best = std::min_element(queue_.begin(), queue_.end(), [](const auto& x, const auto& y) {
    return x.second.alarm.raised_ms < y.second.alarm.raised_ms;
  });
  Item item = std::move(best->second);
  queue_.erase(best);
  return item;
}

void AlarmLane::Sent(uint64_t msg_id, Item item) { in_flight_[msg_id] = std::move(item); }

std::optional<AlarmLane::Item> AlarmLane::Settled(uint64_t msg_id, bool ok) {
  auto it = in_flight_.find(msg_id);
  if (it == in_flight_.end()) return std::nullopt;
  Item item = std::move(it->second);
  in_flight_.erase(it);
  if (ok) return item;
  Enqueue(item.alarm, item.reannounce);
  return std::nullopt;
}

void AlarmLane::ResetInFlight() {
  auto flights = std::move(in_flight_);
  in_flight_.clear();
  for (auto& [id, item] : flights) Enqueue(item.alarm, item.reannounce);
}

std::optional<uint64_t> AlarmLane::Alias(const std::string& facility, uint64_t slot, bool aliases) const {
  if (!aliases) return std::nullopt;
  auto it = facility_index_.find(facility);
  const uint64_t fi = it == facility_index_.end() ? 0 : it->second;
  return kAliasBase + (fi << 20) + slot;
}

uint64_t AlarmLane::SensorSlot(const std::string& facility, const std::string& sensor) const {
  auto it = sensor_index_.find({facility, sensor});
  return 2 + 2 * (it == sensor_index_.end() ? 0 : it->second);
}

std::vector<codec::Metric> AlarmLane::ChangeMetrics(const Item& item, uint32_t open_in_facility, int64_t now_ms,
                                                    bool aliases) const {
  const Alarm& a = item.alarm;
  const auto ts = static_cast<uint64_t>(item.reannounce ? now_ms : AlarmChangeMs(a));
  const uint64_t slot = SensorSlot(a.facility_id, a.sensor_id);
  std::vector<codec::Metric> m = {
      {ActiveMetric(a.sensor_id), Value(a.open()), ts, false, Alias(a.facility_id, slot, aliases)},
      {IdMetric(a.sensor_id), Value(a.id), ts, false, Alias(a.facility_id, slot + 1, aliases)},
      {"alarms/open", Value(open_in_facility), ts, false, Alias(a.facility_id, 0, aliases)},
      {"alarms/events", Value(AlarmEventsDataSet({a})), ts, false, Alias(a.facility_id, 1, aliases)},
  };
  if (aliases) {
    for (auto& x : m) x.name.clear();  // the DBIRTH named them
  }
  return m;
}

std::vector<codec::Metric> AlarmLane::BirthMetrics(const std::string& facility,
                                                   const std::vector<Alarm>& latest_by_sensor,
                                                   const std::vector<Alarm>& open, int64_t now_ms, bool aliases) {
  auto& named = birthed_[facility];
  named.clear();
  std::vector<std::string> sensors = call_buttons_[facility];
  for (const auto& a : latest_by_sensor) {
    if (std::find(sensors.begin(), sensors.end(), a.sensor_id) == sensors.end()) sensors.push_back(a.sensor_id);
  }
  std::vector<codec::Metric> m;
  const auto now = static_cast<uint64_t>(now_ms);
  for (const auto& s : sensors) {
    named.insert(s);
    const uint64_t slot = SensorSlot(facility, s);
    auto it = std::find_if(latest_by_sensor.begin(), latest_by_sensor.end(),
                           [&](const Alarm& a) { return a.sensor_id == s; });
    if (it == latest_by_sensor.end()) {
      // No alarm yet: a fact of this moment.
      m.push_back({ActiveMetric(s), Value(false), now, false, Alias(facility, slot, aliases)});
      m.push_back({IdMetric(s), Value(std::string()), now, false, Alias(facility, slot + 1, aliases)});
    } else {
      const auto ts = static_cast<uint64_t>(AlarmChangeMs(*it));
      m.push_back({ActiveMetric(s), Value(it->open()), ts, false, Alias(facility, slot, aliases)});
      m.push_back({IdMetric(s), Value(it->id), ts, false, Alias(facility, slot + 1, aliases)});
    }
  }
  if (sensors.empty() && open.empty()) return m;
  m.push_back({"alarms/open", Value(static_cast<uint32_t>(open.size())), now, false, Alias(facility, 0, aliases)});
  m.push_back({"alarms/events", Value(AlarmEventsDataSet(open)), now, false, Alias(facility, 1, aliases)});
  return m;
}

bool AlarmLane::Birthed(const std::string& facility, const std::string& sensor) const {
  auto it = birthed_.find(facility);
  return it != birthed_.end() && it->second.count(sensor) != 0;
}

}  // namespace gateway::uplink
