#include "alarm_rows.h"

#include <array>
#include <limits>
#include <optional>

namespace host {

namespace {

std::optional<int64_t> AsInt(const gateway::Scalar& s) {
  if (auto* v = std::get_if<int32_t>(&s)) return *v;
  if (auto* v = std::get_if<int64_t>(&s)) return *v;
  if (auto* v = std::get_if<uint32_t>(&s)) return int64_t(*v);
  if (auto* v = std::get_if<uint64_t>(&s))
    return *v > uint64_t(std::numeric_limits<int64_t>::max()) ? std::nullopt : std::optional<int64_t>(int64_t(*v));
  return std::nullopt;
}

enum Col { kId, kSensor, kLocation, kKind, kTest, kState, kRaised, kPresses, kEscalated, kAcked, kAckedBy, kCols };
constexpr std::array<const char*, kCols> kNames = {"id",      "sensor",     "location",     "kind",
                                                    "test",    "state",      "raised_ms",    "presses",
                                                    "escalated_ms", "acknowledged_ms", "acknowledged_by"};

bool ValidText(const std::string& s, size_t max) {
  if (s.size() > max) return false;
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return false;  // control characters never reach a page or a log
  return true;
}

}  // namespace

const char* AlarmStateName(AlarmState s) {
  switch (s) {
    case AlarmState::kRaised: return "raised";
    case AlarmState::kEscalated: return "escalated";
    case AlarmState::kAcknowledged: return "acknowledged";
  }
  return "raised";
}

void ParseAlarmEvents(const gateway::DataSet& d, const SampleRow& sample, AlarmParse* out) {
  std::array<int, kCols> at;
  at.fill(-1);
  for (size_t i = 0; i < d.columns.size(); ++i)
    for (size_t c = 0; c < kCols; ++c)
      if (d.columns[i] == kNames[c]) at[c] = int(i);
  for (size_t c = 0; c < kCols; ++c) {
    if (at[c] < 0) {
      out->malformed += d.rows.size();
      if (out->first_error.empty()) out->first_error = std::string("column ") + kNames[c] + " missing";
      return;
    }
  }
  for (const auto& cells : d.rows) {
    auto fail = [&](const char* what) {
      ++out->malformed;
      if (out->first_error.empty()) out->first_error = what;
    };
    auto text = [&](Col c) -> const std::string* { return std::get_if<std::string>(&cells[size_t(at[c])]); };
    auto integer = [&](Col c) { return AsInt(cells[size_t(at[c])]); };
    AlarmRow r;
    r.group = sample.group;
    r.edge_node = sample.edge_node;
    r.facility = sample.device;
    r.message_ts_ms = sample.ts_ms;
    const std::string *id = text(kId), *sensor = text(kSensor), *location = text(kLocation), *kind = text(kKind),
                      *state = text(kState), *by = text(kAckedBy);
    const bool* test = std::get_if<bool>(&cells[size_t(at[kTest])]);
    auto raised = integer(kRaised), presses = integer(kPresses), esc = integer(kEscalated), ack = integer(kAcked);
    if (!id || !sensor || !location || !kind || !state || !by || !test || !raised || !presses || !esc || !ack) {
      fail("a cell of the wrong type");
      continue;
    }
    if (id->empty() || !ValidText(*id, kMaxAlarmIdBytes)) { fail("id empty, over 200 bytes or with control characters"); continue; }
    if (sensor->empty() || !ValidText(*sensor, kMaxAlarmTextBytes) || !ValidText(*location, kMaxAlarmTextBytes) ||
        !ValidText(*kind, kMaxAlarmTextBytes) || !ValidText(*by, kMaxAlarmTextBytes)) {
      fail("sensor, location, kind or acknowledged_by empty, too long or with control characters");
      continue;
    }
    if (*state == "raised") r.state = AlarmState::kRaised;
    else if (*state == "escalated") r.state = AlarmState::kEscalated;
    else if (*state == "acknowledged") r.state = AlarmState::kAcknowledged;
    else { fail("unknown state"); continue; }
    if (*raised <= 0 || *presses < 1 || *presses > std::numeric_limits<uint32_t>::max() || *esc < -1 || *ack < -1) {
      fail("raised_ms, presses, escalated_ms or acknowledged_ms out of range");
      continue;
    }
    if ((r.state == AlarmState::kAcknowledged) != (*ack >= 0)) { fail("state and acknowledged_ms disagree"); continue; }
    r.id = *id;
    r.sensor = *sensor;
    r.location = *location;
    r.kind = *kind;
    r.test = *test;
    r.raised_ms = *raised;
    r.presses = uint32_t(*presses);
    r.escalated_ms = *esc;
    r.acknowledged_ms = *ack;
    r.acknowledged_by = *by;
    out->rows.push_back(std::move(r));
  }
}

AlarmParse ExtractAlarmRows(const std::vector<SampleRow>& samples) {
  AlarmParse out;
  for (const auto& s : samples) {
    if (s.metric != "alarms/events" || s.device.empty()) continue;
    if (const auto* d = std::get_if<gateway::DataSet>(&s.value)) {
      ParseAlarmEvents(*d, s, &out);
    } else {
      ++out.malformed;
      if (out.first_error.empty()) out.first_error = "alarms/events is not a DataSet";
    }
  }
  return out;
}

}  // namespace host
