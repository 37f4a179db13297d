// PgStore: the town host's PostgreSQL (libpq): schema, batched ingest, retention.
//
// Commit() writes one batch in one transaction: the samples are COPYed into a
// temporary staging table and moved into the partitioned `samples` with ON CONFLICT DO
// NOTHING on the natural key (group, edge node, device, metric, timestamp), so a QoS 1
// redelivery is absorbed and counted as a duplicate; the newest live values, the births
// and deaths and the daily reports (latest revision) follow in the same transaction.
// Only when Commit() returns ok may the caller acknowledge the batch's messages.
// Partitions (one per UTC day of the samples' own timestamps) are created on demand;
// DropExpired() drops those wholly older than the retention.
//
// Owns its PGconn; one thread (the host loop's). Never logs the connection password.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "alarm_rows.h"
#include "gateway/status.h"
#include "sparkplug_host_session.h"

namespace host {

struct CommitResult {
  uint64_t inserted = 0;
  uint64_t duplicates = 0;
  uint64_t daily_reports = 0;
  uint64_t alarm_rows = 0;  // alarms/events rows merged into `alarms`
};

// An operator's request to acknowledge an alarm (alarm_ack_requests), not yet done.
struct AckRequest {
  std::string group, edge_node, facility, alarm_id;
  std::string requested_by;
  int64_t request_id = 0;  // the newest pending request's id (a new click: a larger one)
};

class PgStore {
 public:
  PgStore(std::string conninfo, std::string password, std::string host_id);
  ~PgStore();
  PgStore(const PgStore&) = delete;
  PgStore& operator=(const PgStore&) = delete;

  // Connects if not connected, and applies the migrations once per connection.
  gateway::Status Ensure();
  bool connected() const;

  // alarms: the batch's alarms/events rows (ExtractAlarmRows), merged into `alarms` so
  // that an alarm only moves forward (state by rank, presses growing, the first
  // escalation and acknowledgement kept); an acknowledged row completes the pending
  // acknowledge requests of its alarm. All in the samples' transaction.
  gateway::Result<CommitResult> Commit(const std::vector<SampleRow>& samples, const std::vector<LifecycleEvent>& events,
                                       const std::vector<AlarmRow>& alarms, int64_t now_ms);
  // Acknowledge requests not completed, newest per alarm; those whose alarm is already
  // acknowledged are completed on the way. LISTEN alarm_ack is on this connection.
  gateway::Result<std::vector<AckRequest>> PendingAckRequests();
  // True when a NOTIFY alarm_ack came (the board inserted a request). Never blocks.
  bool TakeAckNotification();
  // The connection's socket for the host loop's poll; -1 when not connected.
  int socket() const;
  // The metric declarations of the stored births of these groups, oldest birth first
  // (a later birth's alias wins when replayed in this order).
  struct Declaration {
    NodeRef node;
    std::string device;
    MetricDecl decl;
  };
  gateway::Result<std::vector<Declaration>> LoadCatalog(const std::vector<std::string>& groups);
  // Drops sample partitions whose whole day is older than now - retention_days.
  gateway::Result<int> DropExpired(int64_t now_ms, uint32_t retention_days);

 private:
  gateway::Status Exec(const char* sql);
  gateway::Status Migrate();
  gateway::Status EnsurePartitions(const std::vector<SampleRow>& samples);
  gateway::Status Fail(const std::string& what);
  gateway::Status StoreAlarms(const std::vector<AlarmRow>& alarms, int64_t now_ms, CommitResult* result);

  std::string conninfo_, password_, host_id_;
  PGconn* conn_ = nullptr;
  std::set<int64_t> partitions_;  // UTC day numbers known to exist
};

}  // namespace host
