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

#include "gateway/status.h"
#include "sparkplug_host_session.h"

namespace host {

struct CommitResult {
  uint64_t inserted = 0;
  uint64_t duplicates = 0;
  uint64_t daily_reports = 0;
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

  gateway::Result<CommitResult> Commit(const std::vector<SampleRow>& samples, const std::vector<LifecycleEvent>& events,
                                       int64_t now_ms);
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

  std::string conninfo_, password_, host_id_;
  PGconn* conn_ = nullptr;
  std::set<int64_t> partitions_;  // UTC day numbers known to exist
};

}  // namespace host
