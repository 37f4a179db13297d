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
// Bounded (docs/town-host.md, "Acknowledge resends"): a command is sent only while its
// edge node is online as this process last saw it (OnNode: an NBIRTH, no NDEATH since);
// a node this process has not seen yet (just started, the births not yet come) gets the
// first send of a round only. A round starts with a request (a new click, or the
// host's start) and with each new birth of the node; after max_sends DCMDs in one
// round without an answer the command is abandoned: counted, returned once by
// TakeAbandoned for the log, never sent again in that round. It stays pending (the
// stored request is kept), so the node's next birth or a new click starts a new round.
//
// One thread (the host loop's). Times are the caller's monotonic milliseconds.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "alarm_rows.h"
#include "pg_store.h"

namespace host {

struct AckCommand {
  std::string group, edge_node, facility, alarm_id, operator_name;
  uint32_t sends = 0;  // DCMDs of this round, this one included (TakeAbandoned: all of them)
};

class AlarmCommands {
 public:
  // 120 sends: an hour of a gateway online and silent at the 30 s resend, 20 min at
  // the 10 s floor if it re-announces that often; a gateway that answers none of them
  // is broken (it lost the alarm, or drops DCMDs), and flooding it helps nobody.
  static constexpr uint32_t kDefaultMaxSends = 120;

  explicit AlarmCommands(int64_t resend_ms = 30000, int64_t min_interval_ms = 10000,
                         uint32_t max_sends = kDefaultMaxSends)
      : resend_ms_(resend_ms), min_interval_ms_(min_interval_ms), max_sends_(max_sends == 0 ? 1 : max_sends) {}

  // The pending requests as the database has them now: new ones are added (sent at the
  // next Due), those no longer pending (completed) are dropped; a newer request for a
  // known command (a new click) starts a new round.
  void Sync(const std::vector<AckRequest>& pending);
  // A committed alarms/events row: acknowledged completes its command; another state
  // (a re-announcement of the open alarm) makes it due again, subject to min_interval.
  // It does not revive an abandoned command: a gateway re-announcing what it will not
  // close would otherwise keep the resends going for ever.
  void OnAlarmRow(const AlarmRow& row, int64_t now_ms);
  // The node's state as the Sparkplug session has it: online with its bdSeq, or dead.
  // Coming online, or a new bdSeq, is a new birth: a new round for its commands.
  void OnNode(const std::string& group, const std::string& edge_node, bool online, int64_t bd_seq);
  // The commands to publish now; each is marked sent at now_ms.
  std::vector<AckCommand> Due(int64_t now_ms);
  // The commands abandoned since the last call (for the log line), once each.
  std::vector<AckCommand> TakeAbandoned();
  // The next instant Due may return something, or INT64_MAX.
  int64_t NextDeadline() const;
  size_t pending() const { return items_.size(); }
  // The (group, edge node) pairs with a pending command, each once.
  std::vector<std::pair<std::string, std::string>> PendingNodes() const;
  uint64_t sent_total() const { return sent_total_; }
  uint64_t abandoned_total() const { return abandoned_total_; }

 private:
  using Key = std::tuple<std::string, std::string, std::string, std::string>;
  using NodeKey = std::pair<std::string, std::string>;
  struct Item {
    std::string operator_name;
    int64_t request_id = 0;     // the newest request seen (a larger one: a new click)
    int64_t last_sent_ms = -1;  // -1: never sent
    bool reannounced = false;   // an open row came since the last send
    uint32_t sends = 0;         // in this round
    bool abandoned = false;
  };
  struct NodeState {
    bool online = false;
    int64_t bd_seq = -1;
  };
  static void NewRound(Item& it);
  bool MaySend(const Key& k, const Item& it) const;
  int64_t DueAt(const Key& k, const Item& it) const;  // INT64_MAX: not while as it is

  int64_t resend_ms_, min_interval_ms_;
  uint32_t max_sends_;
  std::map<Key, Item> items_;
  std::map<NodeKey, NodeState> nodes_;  // absent: not seen by this process yet
  std::vector<AckCommand> abandoned_;
  uint64_t sent_total_ = 0, abandoned_total_ = 0;
};

}  // namespace host
