// AlarmCommands: which acknowledge DCMDs the host loop must send, and when. No I/O.
//
// The town board cannot publish (it has no MQTT): an operator's acknowledge becomes a row
// of alarm_ack_requests and a NOTIFY; the host loop reads the pending requests
// (PgStore::PendingAckRequests) into this component and publishes what Due() returns as
// DCMD `alarms/acknowledge` + `alarms/acknowledged_by` (docs/wire-format.md). A command
// stays pending until a committed alarms/events row says the alarm is acknowledged
// (OnAlarmRow). Until then it is sent again when the gateway re-announces the alarm, or
// every resend_ms without one, never more often than min_interval_ms: a lost DCMD (QoS
// 0, a gateway offline) is repaired without flooding a gateway that is slow to answer.
//
// One thread (the host loop's). Times are the caller's monotonic milliseconds.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "alarm_rows.h"
#include "pg_store.h"

namespace host {

struct AckCommand {
  std::string group, edge_node, facility, alarm_id, operator_name;
};

class AlarmCommands {
 public:
  explicit AlarmCommands(int64_t resend_ms = 30000, int64_t min_interval_ms = 10000)
      : resend_ms_(resend_ms), min_interval_ms_(min_interval_ms) {}

  // The pending requests as the database has them now: new ones are added (sent at the
  // next Due), those no longer pending (completed) are dropped.
  void Sync(const std::vector<AckRequest>& pending);
  // A committed alarms/events row: acknowledged completes its command; another state
  // (a re-announcement of the open alarm) makes it due again, subject to min_interval.
  void OnAlarmRow(const AlarmRow& row, int64_t now_ms);
  // The commands to publish now; each is marked sent at now_ms.
  std::vector<AckCommand> Due(int64_t now_ms);
  // The next instant Due may return something, or INT64_MAX.
  int64_t NextDeadline() const;
  size_t pending() const { return items_.size(); }
  uint64_t sent_total() const { return sent_total_; }

 private:
  using Key = std::tuple<std::string, std::string, std::string, std::string>;
  struct Item {
    std::string operator_name;
    int64_t last_sent_ms = -1;  // -1: never sent
    bool reannounced = false;   // an open row came since the last send
  };
  int64_t DueAt(const Item& it) const;

  int64_t resend_ms_, min_interval_ms_;
  std::map<Key, Item> items_;
  uint64_t sent_total_ = 0;
};

}  // namespace host
