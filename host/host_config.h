// HostConfig: the town host's YAML configuration (community-host --config FILE).
//
// The same conventions as the gateway's config (gateway/config): YAML, unknown keys
// refused, and every error names the file, the line and the key. Secrets (the broker
// and database passwords) come from files named in the config, never from the YAML
// itself, and are never logged. Loaded once on the main thread before anything starts.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gateway/status.h"

namespace host {

struct HostConfig {
  std::string host_id = "town-host";      // spBv1.0/STATE/{host_id}
  std::vector<std::string> groups;        // Sparkplug group ids (towns) this instance serves
  // broker
  std::string mqtt_host = "127.0.0.1";
  uint16_t mqtt_port = 1883;
  std::string mqtt_client_id;             // default: community-host-{host_id}
  std::string mqtt_username;
  std::string mqtt_password;              // from mqtt.password_file
  uint16_t keep_alive_s = 30;
  uint32_t max_payload_bytes = 1 << 20;
  // database: a libpq connection string; its password from database.password_file
  std::string pg_conninfo;
  std::string pg_password;
  // Sparkplug
  uint32_t reorder_timeout_ms = 2000;     // a missing seq not filled by then: NCMD rebirth
  uint32_t rebirth_min_interval_ms = 5000;
  // store
  uint32_t retention_days = 400;          // sample partitions older than this are dropped
  uint32_t max_batch_messages = 500;      // committed together, then acknowledged
  uint32_t future_tolerance_s = 86400;    // samples stamped later than now + this are refused
  // The facilities' zone (IANA): the wire carries no zone, and the gateways' default is
  // Asia/Shanghai. Local times of alarms on the board and their days in the town report.
  std::string timezone = "Asia/Shanghai";
  // /metrics
  bool metrics_enabled = true;
  std::string metrics_address = "127.0.0.1";
  uint16_t metrics_port = 9181;           // 0: an ephemeral port, logged
  // the town board (town_board.h)
  bool board_enabled = true;
  std::string board_address = "127.0.0.1";
  uint16_t board_port = 9180;             // 0: an ephemeral port, logged
  uint32_t board_refresh_ms = 1000;       // how often the board reads the database
  // Operators who may acknowledge alarms (board_auth.h): "name:$pbkdf2-sha256$..." lines.
  // Empty: nobody can log in (the board stays read-only).
  std::string board_users_file;
  uint32_t board_session_hours = 12;      // a login's lifetime
};

// Errors are "file:line: key: message", one per line.
gateway::Result<HostConfig> LoadHostConfig(const std::string& path);

}  // namespace host
