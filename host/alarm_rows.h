// AlarmRows: the rows of an `alarms/events` DataSet (docs/wire-format.md, "Alarms:
// emergency calls") as the host stores them in the `alarms` table, validated: every
// documented column present with its type (integers of any width where the value fits),
// an id of at most 200 bytes, a known state. A row that fails is reported as malformed
// (the caller counts and logs it) and never stored half; a DataSet without the columns
// makes all its rows malformed.
//
// Pure functions; any thread. The host loop extracts the rows of a batch before its
// commit (HostLoop::Flush), PgStore upserts them in the batch's transaction.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gateway/reading.h"
#include "sparkplug_host_session.h"

namespace host {

enum class AlarmState { kRaised = 0, kEscalated = 1, kAcknowledged = 2 };  // ranks: a state never goes down

const char* AlarmStateName(AlarmState s);

struct AlarmRow {
  std::string group, edge_node, facility;  // facility: the Sparkplug device
  std::string id, sensor, location, kind;
  bool test = false;
  AlarmState state = AlarmState::kRaised;
  int64_t raised_ms = 0;
  uint32_t presses = 1;
  int64_t escalated_ms = -1;     // -1: never
  int64_t acknowledged_ms = -1;  // -1: open
  std::string acknowledged_by;
  int64_t message_ts_ms = 0;     // the metric's timestamp (the change or re-announcement)
};

struct AlarmParse {
  std::vector<AlarmRow> rows;
  uint64_t malformed = 0;
  std::string first_error;  // for the log: which column or value, never a whole payload
};

constexpr size_t kMaxAlarmIdBytes = 200;
constexpr size_t kMaxAlarmTextBytes = 256;  // sensor, location, kind, acknowledged_by

// The rows of one alarms/events DataSet of a facility.
void ParseAlarmEvents(const gateway::DataSet& d, const SampleRow& sample, AlarmParse* out);

// Every alarms/events sample (births and data) of a batch.
AlarmParse ExtractAlarmRows(const std::vector<SampleRow>& samples);

}  // namespace host
