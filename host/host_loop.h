// HostLoop: the town host's one thread: broker in, PostgreSQL out, acknowledgements last.
//
// Messages are read from the broker, handed to the SparkplugHostSession, and the rows
// of all messages read so far are committed in one PgStore transaction as soon as the
// socket has nothing more to give (or max_batch_messages are waiting); only then are
// their PUBACKs sent, in the order the messages came. A crash before the commit leaves
// them unacknowledged in the broker's persistent session, which delivers them again;
// the store's natural key absorbs what was committed but not yet acknowledged.
// While PostgreSQL cannot commit, STATE is published offline (gateways that follow
// this host keep their readings in their buffers), the batch is retried every second,
// and once it commits the host reconnects to the broker so that its will and its new
// STATE online carry the same timestamp, as Sparkplug 3.0 wants.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "alarm_commands.h"
#include "alarm_rows.h"
#include "host_config.h"
#include "host_metrics.h"
#include "mqtt_link.h"
#include "pg_store.h"
#include "sparkplug_host_session.h"

namespace host {

struct HostStats {
  uint64_t commits = 0, samples_inserted = 0, duplicates = 0, acks = 0, db_failures = 0, broker_connects = 0;
  uint64_t refused = 0, daily_reports = 0;
  uint64_t alarm_rows = 0, alarm_rows_malformed = 0, alarm_dcmds = 0;
};

class HostLoop {
 public:
  // metrics may be null (metrics.enabled: false).
  HostLoop(const HostConfig& config, HostMetrics* metrics);
  // Until *stop; returns when asked to stop. Publishes STATE offline on the way out.
  void Run(const std::atomic<bool>& stop);

 private:
  bool ConnectBroker();
  bool PublishState(bool online, int64_t ts_ms);
  bool Drain();            // parse what was read; false on a broken connection
  void Flush();            // commit pending, then acknowledge
  void SendRebirths(std::vector<NodeRef>& refs);
  void SyncAckRequests();  // the board's pending acknowledge requests, after a NOTIFY
  void SendAcknowledges(); // the DCMDs AlarmCommands says are due
  bool RestoreCatalog();   // the stored births' aliases, once, before the first message
  void LogStats();
  std::string RenderMetrics() const;

  const HostConfig& config_;
  SparkplugHostSession session_;
  PgStore store_;
  MqttLink link_;
  std::string state_topic_;
  uint16_t next_packet_id_ = 1;
  bool db_ok_ = true;
  bool reconnect_after_recovery_ = false;
  int64_t state_ts_ms_ = 0;
  SessionOutput pending_;
  std::vector<uint16_t> pending_acks_;
  size_t pending_messages_ = 0;
  int64_t next_db_retry_ms_ = 0;
  int64_t next_retention_ms_ = 0;
  int64_t next_stats_ms_ = 0;
  HostStats stats_;
  HostMetrics* metrics_;
  double last_lag_s_ = 0;      // taken -> committed, the newest live sample of the last commit
  int64_t next_metrics_ms_ = 0;
  bool catalog_restored_ = false;
  AlarmParse pending_alarms_;      // the alarms/events rows of pending_, once extracted
  bool alarms_extracted_ = false;
  AlarmCommands alarm_cmds_;
  bool ack_sync_needed_ = true;    // read alarm_ack_requests at the next chance
  int64_t next_ack_sync_ms_ = 0;
};

}  // namespace host
