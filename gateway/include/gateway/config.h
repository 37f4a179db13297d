// Config: the typed model of a gateway configuration file (YAML).
//
// Loading is two passes, as in mosquitto: ParseConfig() turns YAML into these structs
// (rejecting unknown keys and wrong types), then ValidateConfig() checks the whole
// (references, ranges, files). Every problem is reported as "file:line: message"
// naming the key. The structs are plain values: built once on the main thread before
// the event loop starts, then shared read-only.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace gateway {

enum class FacilityType { kCanteen, kElderlyStation, kChargingStation, kFitnessPoint };
const char* FacilityTypeName(FacilityType t);

// What a sensor measures; decides which points it produces and how the facility model
// derives facility metrics from them (see core/facility_model.h).
enum class SensorKind {
  kDoorCounter,      // entries_total, exits_total: monotonic counters that may wrap or reset
  kOccupancy,        // occupancy: people present, measured directly (camera, radar)
  kSeat,             // occupied: one seat or room taken
  kMealTerminal,     // meals_total: counter of meals served
  kCheckinTerminal,  // checkins_total: counter of check-ins
  kChargePoint,      // connector/{n}/status|power_kw|energy_kwh
  kEquipment,        // in_use: one piece of fitness equipment
};
const char* SensorKindName(SensorKind k);

// One opening period on some weekdays, in the facility's local time. close may be
// "24:00"; a period with close <= open runs past midnight into the next day.
struct OpeningPeriod {
  uint8_t weekdays_mask = 0x7f;  // bit 0 = Monday ... bit 6 = Sunday
  int open_minute = 0;           // minutes after local midnight
  int close_minute = 24 * 60;
  int line = 0;                  // where it was written, for messages
};

struct SensorConfig {
  std::string id;
  SensorKind kind = SensorKind::kDoorCounter;
  std::string driver = "simulator";  // which driver serves it
  uint32_t connectors = 0;           // charge points: number of connectors
  double max_power_kw = 0;           // charge points: 7 (AC) or 60 (DC) typical
  double silent_after_s = 0;         // offline when not heard for this long; 0 = 3x the driver interval
  int line = 0;
};

struct FacilityConfig {
  std::string id;
  FacilityType type = FacilityType::kCanteen;
  std::string name;
  uint32_t capacity = 0;
  std::string timezone;  // IANA name; empty means gateway.timezone
  std::vector<OpeningPeriod> opening_hours;  // empty means always open
  std::vector<SensorConfig> sensors;
  int line = 0;
};

struct TlsConfig {
  bool enabled = false;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string key_password;  // secret: never logged
  bool verify = true;        // verify the broker's certificate and host name
};

struct UplinkConfig {
  std::vector<std::string> brokers;  // tcp://host:port, ssl://host:port; tried in turn
  std::string client_id;             // default: group_id + "-" + edge_node_id
  int mqtt_version = 4;              // 4 = MQTT 3.1.1, 5 = MQTT 5
  std::string username;
  std::string password;  // secret: never logged
  int keep_alive_s = 30;
  int connect_timeout_s = 10;
  int qos = 1;                       // 1 (default, delete on PUBACK) or 0
  int reconnect_min_ms = 500;
  int reconnect_max_ms = 30000;
  int recreate_client_after_s = 120;  // no connection for this long: build a fresh client
  int ack_timeout_s = 30;             // publishes in flight and no PUBACK for this long: reconnect
  int max_inflight = 32;              // DDATA messages awaiting PUBACK
  int max_metrics_per_payload = 500;
  int node_metrics_interval_s = 10;   // NDATA with buffer/depth etc.
  std::string primary_host_id;        // empty: no STATE awareness
  TlsConfig tls;
};

struct BufferConfig {
  uint64_t max_disk_bytes = 256ull << 20;
  int commit_interval_ms = 20;        // longest a reading waits before its group commit
  int commit_max_readings = 5000;     // a commit happens at once when this many wait
  int max_pending_readings = 100000;  // beyond this Submit() answers kBusy
  std::string synchronous = "full";   // full (survives power loss) or normal
};

struct SimulatorConfig {
  bool enabled = false;
  uint64_t seed = 1;
  double speed = 1.0;          // simulated seconds per real second
  double interval_s = 60.0;    // simulated seconds between samples
  double dropout_probability = 0.002;  // per sample per sensor: go silent for a while
  std::string start;           // local start date-time "YYYY-MM-DDTHH:MM", empty = now
  uint64_t max_samples = 0;    // stop producing after this many samples; 0 = never (tests, demos)
};

// Utilisation history (store/history.h) and the daily report on the wire.
struct HistoryConfig {
  int retention_days = 365;        // hourly rollups older than this many local days are deleted
  bool daily_report = true;        // publish reports/daily per facility after each local midnight
  int daily_report_delay_s = 60;   // wait this long after midnight for the day's late readings
};

struct LogConfig {
  std::string level = "info";
};

struct Config {
  std::string file;  // where it was read from
  std::string group_id;
  std::string edge_node_id;
  std::string data_dir = "/var/lib/community-gateway";
  std::string timezone = "Asia/Shanghai";
  LogConfig log;
  BufferConfig buffer;
  UplinkConfig uplink;
  SimulatorConfig simulator;
  std::vector<FacilityConfig> facilities;
  HistoryConfig history;
};

// One problem in a config file.
struct ConfigError {
  std::string file;
  int line = 0;
  std::string message;  // names the key, e.g. "uplink.qos: must be 0 or 1"
  std::string ToString() const;  // "file:line: message"
};

struct ConfigLoad {
  Config config;
  std::vector<ConfigError> errors;  // empty when the config is usable
  std::vector<ConfigError> warnings;
  bool ok() const { return errors.empty(); }
};

// Reads, parses and validates a config file. Never throws.
ConfigLoad LoadConfig(const std::string& path);

}  // namespace gateway
