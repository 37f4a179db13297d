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
  kFeedbackTerminal, // button/{name}_total counters or press events: residents' satisfaction
  kCallButton,       // pressed (Boolean state) or action (String event): emergency calls (gateway/alarm)
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

// One button of a feedback terminal (very unhappy .. very happy) and the score a press
// of it gives. Scores are distinct within a terminal: a tablet may post the score.
struct FeedbackButton {
  std::string name;
  int score = 0;
};

// The default buttons: four smileys, as HappyOrNot makes them.
std::vector<FeedbackButton> DefaultFeedbackButtons();

struct SensorConfig {
  std::string id;
  SensorKind kind = SensorKind::kDoorCounter;
  std::string driver = "simulator";  // which driver serves it
  uint32_t connectors = 0;           // charge points: number of connectors
  double max_power_kw = 0;           // charge points: 7 (AC) or 60 (DC) typical
  double silent_after_s = 0;         // offline when not heard for this long; 0 = 3x the driver interval
                                     // (simulator, modbus; at least 300 s), 3600 s for mqtt and http
  std::vector<FeedbackButton> buttons;  // feedback terminals: default DefaultFeedbackButtons()
  double repeat_interval_s = 5;         // feedback terminals: presses this close count once; 0 = all
  // Where the sensor is (room, bed, flat): shown with its alarms. Any kind may have one.
  std::string location;
  // Call buttons: the `action` values that are a call, and those that are a test press
  // (zigbee2mqtt's actions of SOS buttons and pull cords).
  std::vector<std::string> call_actions = {"emergency", "sos", "panic", "single"};
  std::vector<std::string> test_actions = {"test"};
  // Call buttons: presses within these local periods are test presses (the weekly test
  // of the cords); empty: none.
  std::vector<OpeningPeriod> test_hours;
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
  // Fewer answers than this in a day: its satisfaction index is not significant.
  uint32_t feedback_min_responses = 20;
  int line = 0;
};

// The buttons of the facility's feedback terminals (all of them have the same, the
// validation sees to it), or nullptr when it has none.
const std::vector<FeedbackButton>* FeedbackButtonsOf(const FacilityConfig& facility);

struct TlsConfig {
  bool enabled = false;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string key_password;  // secret: never logged
  bool verify = true;        // verify the broker's certificate and host name
};

// Where values go in the Protobuf payload (docs/wire-format.md, "Value encoding"):
// kSpec as the Sparkplug specification says, kTahu as Eclipse Tahu's decoders (Node-RED,
// Ignition, Tahu Java) read them.
enum class UplinkEncoding { kSpec, kTahu };

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
  bool aliases = true;                // Sparkplug metric aliases: names only in births
  UplinkEncoding encoding = UplinkEncoding::kSpec;
  TlsConfig tls;
};

struct BufferConfig {
  uint64_t max_disk_bytes = 256ull << 20;
  int commit_interval_ms = 20;        // longest a reading waits before its group commit...
  // ...unless fewer than Pipeline::kLowRateReadings wait then: at a low rate they wait up
  // to this long (from the first) for more to share the commit's pages. 0: off.
  int low_rate_commit_delay_ms = 1000;
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

// --- Southbound drivers other than the simulator (drivers/modbus, drivers/mqtt_subscriber,
// drivers/http_ingest). Sensors name their driver ("modbus", "mqtt", "http"); these
// sections say how each device is reached and which of its values feeds which point.

// The type a driver gives a point's value. kAuto: the type the facility model and the
// wire contract use for a known point (entries_total -> UInt64, occupancy -> UInt32,
// occupied/in_use -> Boolean, ...), otherwise the natural type of the source value.
enum class PointType { kAuto, kBool, kInt32, kInt64, kUInt32, kUInt64, kFloat, kDouble, kString };

struct ModbusRegisterConfig {
  enum class Table { kHolding, kInput, kCoil, kDiscreteInput };
  enum class Type { kInt16, kUInt16, kInt32, kUInt32, kFloat32, kBool };
  std::string sensor;  // default: the device's sensor
  std::string point;
  Table table = Table::kHolding;
  uint32_t address = 0;          // 0-based protocol address (register 40001 is 0)
  Type type = Type::kUInt16;     // coils and discrete inputs are always kBool
  bool byte_swap = false;        // byte_order: little (each register's two bytes swapped)
  bool word_swap = false;        // word_order: little (32-bit values: low register first)
  double scale = 1.0;            // value = raw * scale + offset
  double offset = 0.0;
  PointType as = PointType::kAuto;
  int line = 0;
};

struct ModbusDeviceConfig {
  std::string id;        // for logs and counters
  std::string facility;  // every register feeds a sensor of this facility
  std::string sensor;    // default sensor of the registers
  bool rtu = false;      // transport: tcp (default) or rtu (serial RS-485)
  std::string host;      // tcp
  uint32_t port = 502;
  std::string serial_port;  // rtu, e.g. /dev/ttyUSB0; devices on one port share the bus
  uint32_t baud = 9600;
  char parity = 'N';     // 'N', 'E', 'O'
  int data_bits = 8;
  int stop_bits = 1;
  int unit_id = 1;
  int poll_interval_ms = 1000;
  int timeout_ms = 1000;    // per request
  int retries = 2;          // extra attempts of a failed request before the poll fails
  int backoff_max_ms = 30000;  // a dead device is retried at growing intervals up to this
  std::vector<ModbusRegisterConfig> registers;
  int line = 0;
};

struct ModbusConfig {
  std::vector<ModbusDeviceConfig> devices;
};

struct JsonPointConfig {
  std::string point;
  std::string pointer;  // RFC 6901 JSON Pointer into the payload, e.g. /occupancy
  PointType type = PointType::kAuto;
  double scale = 1.0;   // numbers only
  int line = 0;
};

struct MqttSubscriptionConfig {
  std::string topic;           // MQTT filter, wildcards + and # allowed
  std::string facility;
  std::string sensor;          // fixed sensor id, or
  int sensor_level = -1;       // the topic level (0-based) that is the sensor id, or
  std::string sensor_pointer;  // a JSON Pointer to the sensor id in the payload
  std::string timestamp_pointer;  // epoch s/ms number or RFC 3339 string; empty = arrival time
  std::vector<JsonPointConfig> points;
  int line = 0;
};

struct MqttSubscriberConfig {
  std::string broker;  // tcp://host:port of the local broker; empty = driver off
  std::string client_id;  // default: edge_node_id + "-southbound"; fixed: the session persists
  std::string username;
  std::string password;  // secret: never logged
  int keep_alive_s = 30;
  int reconnect_min_ms = 500;
  int reconnect_max_ms = 30000;
  uint32_t max_payload_bytes = 65536;
  int max_unacked = 100;  // messages received and not yet committed (the broker's window)
  std::vector<MqttSubscriptionConfig> subscriptions;
};

struct HttpIngestConfig {
  bool enabled = false;
  std::string bind = "127.0.0.1";
  uint32_t port = 8081;
  std::string token;  // bearer token; secret: never logged. Empty: no auth (loopback only)
  uint32_t max_body_bytes = 1u << 20;
  uint32_t max_readings = 10000;   // per request
  uint32_t max_connections = 256;
  int request_timeout_s = 10;  // an idle or partial request is cut off after this (slow clients)
};

// drivers/ocpp: charge points speaking OCPP 1.6J connect here over WebSocket
// (ws[s]://listen:port/ocpp/{chargePointId}, subprotocol ocpp1.6). Either the gateway
// answers them itself (local central system) or it relays every frame to the
// operator's central system (upstream) and reads what passes.
struct OcppChargePointConfig {
  std::string id;                 // chargePointId in the URL (and the Basic auth user name)
  std::string facility;           // default: the facility with a charge_point sensor of this id
  std::string sensor;             // default: id
  std::string password;           // secret: security profile 1/2 Basic auth; empty = none (loopback only)
  std::string upstream;           // ws:// or wss:// of the operator's central system; overrides the driver's
  std::string upstream_password;  // secret: Basic auth towards upstream (user = id)
  int line = 0;
};

struct OcppConfig {
  bool enabled = false;
  std::string listen = "127.0.0.1";
  uint32_t port = 8887;             // 0: an ephemeral port, logged at start
  std::string cert_file, key_file;  // both given: TLS (security profile 2)
  int heartbeat_interval_s = 300;   // BootNotification.conf interval
  bool allow_unknown = false;       // serve charge point ids not in the config (no readings)
  bool authorize_any = true;        // authorize: any | list
  std::vector<std::string> id_tags;  // secrets: the idTags accepted when authorize: list
  std::string id_tag_salt;          // secret; or id_tag_salt_file; empty: generated in data_dir
  std::string upstream;             // default upstream of every charge point: pass-through mode
  std::string upstream_password;    // secret
  std::string upstream_ca_file;     // wss: CA to verify upstream with; empty = system store
  std::vector<std::string> data_transfer_vendors;  // DataTransfer vendorIds answered Accepted
  uint32_t max_frame_bytes = 65536;
  uint32_t max_calls_per_minute = 600;  // per connection; beyond: CALLERROR, then close
  int idle_timeout_s = 300;             // silent this long: close (a WebSocket ping goes out at half of it)
  uint32_t max_connections = 1000;
  std::vector<OcppChargePointConfig> charge_points;  // filled by validation from ocpp sensors too
};

struct DriversConfig {
  ModbusConfig modbus;
  MqttSubscriberConfig mqtt;
  HttpIngestConfig http;
  OcppConfig ocpp;  // drivers/ocpp
};

// Utilisation history (store/history.h) and the daily report on the wire.
struct HistoryConfig {
  int retention_days = 365;        // hourly rollups older than this many local days are deleted
  bool daily_report = true;        // publish reports/daily per facility after each local midnight
  int daily_report_delay_s = 60;   // wait this long after midnight for the day's late readings
  // How far back a reading may be stamped (local days before today, by the gateway
  // clock): older ones are refused and counted. At most retention_days.
  int late_days = 7;
};

// Emergency calls (gateway/alarm, docs/wire-format.md "Alarms").
struct AlarmEscalationConfig {
  // A Modbus coil (a light or buzzer in the station) switched on while an alarm is
  // escalated, off when none is: a device of drivers.modbus (which owns the connection).
  std::string coil_device;
  uint32_t coil_address = 0;  // 0-based protocol address
  // An HTTP(S) URL on the LAN (the duty phone's app) that gets a JSON POST per
  // escalation and per acknowledgement of an escalated alarm.
  std::string webhook_url;
  std::string webhook_token;  // bearer token; secret: never logged; or webhook_token_file
  int webhook_timeout_ms = 3000;
  int webhook_retries = 5;    // attempts after the first, with backoff (1 s doubling)
};

struct AlarmsConfig {
  double repeat_window_s = 60;    // presses of one sensor this close fold into one alarm
  double reannounce_s = 30;       // an open alarm is published again this often
  double escalate_after_s = 60;   // not acknowledged by then: the local outputs fire
  AlarmEscalationConfig escalation;
};

struct LogConfig {
  std::string level = "info";
};

// The status page, /metrics and the health probes (gateway/web).
struct WebConfig {
  bool enabled = false;
  std::string address = "127.0.0.1";  // a non-loopback address needs a password
  int port = 8080;                     // 0: an ephemeral port, logged at start
  std::string username = "admin";
  std::string password;                // secret: never logged; or from password_file
  int max_connections = 16;
  int push_interval_ms = 1000;         // how often open pages get fresh figures
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
  DriversConfig drivers;  // modbus, mqtt, http (see drivers/)
  WebConfig web;
  HistoryConfig history;
  AlarmsConfig alarms;
};

// What a gateway still lacks before it measures or forwards anything, as "key: what"
// lines; empty once it has facilities and a broker. The config installed by the
// package has neither, so that a board booted before anyone edited it does nothing
// made up; check-config, the log, /readyz and the status page all say what is missing.
std::vector<std::string> MissingSetup(const Config& config);

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
// The same for YAML text already read; `path` is the name its messages give (and the
// file whose permissions the secrets warnings look at). Never throws.
ConfigLoad LoadConfigText(const std::string& text, const std::string& path);

}  // namespace gateway
