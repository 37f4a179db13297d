#include "migrations.h"

namespace host {

const std::vector<Migration>& Migrations() {
  // Sample timestamps are UTC epoch milliseconds as bigint: exactly the wire's value,
  // so the natural key compares what the gateway sent, with no rounding.
  static const std::vector<Migration> kSteps = {
      {1, R"sql(
CREATE TABLE edge_nodes (
  group_id text NOT NULL, edge_node text NOT NULL,
  online boolean NOT NULL, bd_seq bigint,
  birth_ms bigint, death_ms bigint, host_id text,
  PRIMARY KEY (group_id, edge_node));
CREATE TABLE facilities (
  group_id text NOT NULL, edge_node text NOT NULL, device text NOT NULL,
  online boolean NOT NULL, birth_ms bigint, death_ms bigint,
  PRIMARY KEY (group_id, edge_node, device));
CREATE TABLE metric_catalog (
  group_id text NOT NULL, edge_node text NOT NULL, device text NOT NULL, metric text NOT NULL,
  datatype integer NOT NULL, alias bigint, birth_ms bigint NOT NULL,
  PRIMARY KEY (group_id, edge_node, device, metric));
-- Every sample once: the natural key absorbs redeliveries. Partitioned by UTC day of
-- the sample's own timestamp; retention drops whole partitions.
CREATE TABLE samples (
  group_id text NOT NULL, edge_node text NOT NULL, device text NOT NULL, metric text NOT NULL,
  ts_ms bigint NOT NULL, datatype smallint NOT NULL,
  v_bool boolean, v_int bigint, v_double double precision, v_text text,
  historical boolean NOT NULL,
  received_ms bigint NOT NULL,
  PRIMARY KEY (group_id, edge_node, device, metric, ts_ms)) PARTITION BY RANGE (ts_ms);
-- The newest live (not historical) value of each metric: what a board shows.
CREATE TABLE live_values (
  group_id text NOT NULL, edge_node text NOT NULL, device text NOT NULL, metric text NOT NULL,
  ts_ms bigint NOT NULL, datatype smallint NOT NULL,
  v_bool boolean, v_int bigint, v_double double precision, v_text text,
  PRIMARY KEY (group_id, edge_node, device, metric));
-- reports/daily: the latest revision per facility and local day.
CREATE TABLE daily_reports (
  group_id text NOT NULL, edge_node text NOT NULL, device text NOT NULL, day date NOT NULL,
  revision bigint NOT NULL, late_readings bigint, ts_ms bigint NOT NULL, report jsonb NOT NULL,
  received_ms bigint NOT NULL,
  PRIMARY KEY (group_id, edge_node, device, day));
)sql"},
      // When the host last committed anything from each edge node (its own clock): what
      // the town board shows as "last heard".
      {2, R"sql(
ALTER TABLE edge_nodes ADD COLUMN last_heard_ms bigint;
)sql"},
      // Emergency calls (docs/wire-format.md "Alarms"): one row per alarm, merged from
      // every alarms/events row seen (births, changes, re-announcements) so that it only
      // moves forward. Times are timestamptz (from the wire's epoch ms, exactly), so
      // that a facility's local day is a plain AT TIME ZONE. The board's acknowledge
      // requests wait in alarm_ack_requests for the host loop, which owns MQTT.
      {3, R"sql(
CREATE TABLE alarms (
  group_id text NOT NULL, edge_node text NOT NULL, facility text NOT NULL, alarm_id text NOT NULL,
  sensor text NOT NULL, location text NOT NULL, kind text NOT NULL, test boolean NOT NULL,
  state text NOT NULL CHECK (state IN ('raised', 'escalated', 'acknowledged')),
  raised_at timestamptz NOT NULL, presses bigint NOT NULL,
  escalated_at timestamptz, acknowledged_at timestamptz, acknowledged_by text,
  first_seen_at timestamptz NOT NULL, updated_at timestamptz NOT NULL,
  PRIMARY KEY (group_id, edge_node, facility, alarm_id));
CREATE INDEX alarms_open ON alarms (group_id) WHERE state <> 'acknowledged';
CREATE TABLE alarm_ack_requests (
  id bigserial PRIMARY KEY,
  group_id text NOT NULL, edge_node text NOT NULL, facility text NOT NULL, alarm_id text NOT NULL,
  requested_by text NOT NULL, requested_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz);
CREATE INDEX alarm_ack_requests_pending ON alarm_ack_requests (group_id, edge_node, facility, alarm_id)
  WHERE completed_at IS NULL;
)sql"},
  };
  return kSteps;
}

}  // namespace host
