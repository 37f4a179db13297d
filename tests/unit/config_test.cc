// Unit tests of config loading: the shipped configs load with the values they say,
// and every kind of mistake is reported as "file:line: key: reason" at the right line,
// all of them at once, without ever printing a secret.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gateway/config.h"
#include "gateway/net_address.h"

namespace {

using gateway::Config;
using gateway::ConfigError;
using gateway::ConfigLoad;
using gateway::FacilityConfig;
using gateway::FacilityType;
using gateway::LoadConfig;
using gateway::SensorKind;
using gateway::SensorConfig;

std::string SourcePath(const std::string& relative) { return std::string(TEST_SOURCE_DIR) + "/" + relative; }
std::string TestData(const std::string& name) { return SourcePath("tests/unit/testdata/config/" + name); }

// A fresh directory per test for files whose mode or content the test decides.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "config_test.XXXXXX").string();
    char* made = ::mkdtemp(tmpl.data());
    REQUIRE(made != nullptr);
    path_ = made;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string Write(const std::string& name, const std::string& text, mode_t mode = 0600) const {
    std::string p = path_ + "/" + name;
    {
      std::ofstream out(p, std::ios::binary | std::ios::trunc);
      out << text;
    }
    REQUIRE(::chmod(p.c_str(), mode) == 0);
    return p;
  }

 private:
  std::string path_;
};

// The smallest config that loads without errors or warnings; tests append to it.
const char* kMinimal =
    "gateway: {group_id: huacao, edge_node_id: gw-1}\n"  // line 1
    "uplink: {brokers: [\"tcp://127.0.0.1:1883\"]}\n"     // line 2
    "simulator: {enabled: true}\n"                          // line 3
    "facilities:\n"                                         // line 4
    "  - {id: canteen-1, type: canteen, capacity: 60, sensors: [{id: door-1, kind: door_counter}]}\n";  // line 5

std::string All(const std::vector<ConfigError>& list) {
  std::string s;
  for (const auto& e : list) s += e.ToString() + "\n";
  return s;
}

// The one error whose message starts with "key: ". Fails the test when there is not
// exactly one.
ConfigError Only(const std::vector<ConfigError>& list, const std::string& key) {
  std::vector<ConfigError> found;
  for (const auto& e : list) {
    if (e.message.rfind(key + ": ", 0) == 0) found.push_back(e);
  }
  INFO("looking for " << key << " in:\n" << All(list));
  REQUIRE(found.size() == 1);
  return found.front();
}

// Checks the whole rendered line: file, line, key and the start of the reason.
void ExpectError(const ConfigLoad& load, const std::string& file, int line, const std::string& key,
                 const std::string& reason_prefix) {
  ConfigError e = Only(load.errors, key);
  std::string expected = file + ":" + std::to_string(line) + ": " + key + ": " + reason_prefix;
  INFO("all errors:\n" << All(load.errors));
  CHECK(e.file == file);
  CHECK(e.line == line);
  CHECK(e.ToString().rfind(expected, 0) == 0);
  if (e.ToString().rfind(expected, 0) != 0) {
    FAIL_CHECK("got      " << e.ToString() << "\nexpected " << expected << "...");
  }
}

const FacilityConfig& FacilityById(const Config& c, const std::string& id) {
  for (const auto& f : c.facilities) {
    if (f.id == id) return f;
  }
  FAIL("no facility " << id);
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("config: ConfigError renders as file:line: message", "[config]") {
  ConfigError e{"/etc/gw.yaml", 12, "uplink.qos: must be 0 or 1, got 2"};
  CHECK(e.ToString() == "/etc/gw.yaml:12: uplink.qos: must be 0 or 1, got 2");
  ConfigError whole_file{"/etc/gw.yaml", 0, "cannot read '/etc/gw.yaml': Permission denied"};
  CHECK(whole_file.ToString() == "/etc/gw.yaml: cannot read '/etc/gw.yaml': Permission denied");
}

TEST_CASE("config: enum names", "[config]") {
  CHECK(std::string(gateway::FacilityTypeName(FacilityType::kCanteen)) == "canteen");
  CHECK(std::string(gateway::FacilityTypeName(FacilityType::kElderlyStation)) == "elderly_station");
  CHECK(std::string(gateway::FacilityTypeName(FacilityType::kChargingStation)) == "charging_station");
  CHECK(std::string(gateway::FacilityTypeName(FacilityType::kFitnessPoint)) == "fitness_point");
  CHECK(std::string(gateway::SensorKindName(SensorKind::kDoorCounter)) == "door_counter");
  CHECK(std::string(gateway::SensorKindName(SensorKind::kOccupancy)) == "occupancy");
  CHECK(std::string(gateway::SensorKindName(SensorKind::kSeat)) == "seat");
  CHECK(std::string(gateway::SensorKindName(SensorKind::kMealTerminal)) == "meal_terminal");
  CHECK(std::string(gateway::SensorKindName(SensorKind::kCheckinTerminal)) == "checkin_terminal");
  CHECK(std::string(gateway::SensorKindName(SensorKind::kChargePoint)) == "charge_point");
  CHECK(std::string(gateway::SensorKindName(SensorKind::kEquipment)) == "equipment");
}

TEST_CASE("config: demo.yaml loads with the demo's values", "[config]") {
  const std::string path = SourcePath("config/demo.yaml");
  ConfigLoad load = LoadConfig(path);
  INFO(All(load.errors) << All(load.warnings));
  REQUIRE(load.ok());
  CHECK(load.warnings.empty());
  const Config& c = load.config;
  CHECK(c.file == path);
  CHECK(c.group_id == "huacao");
  CHECK(c.edge_node_id == "demo-gateway");
  CHECK(c.data_dir == "./demo-data");
  CHECK(c.timezone == "Asia/Shanghai");
  CHECK(c.uplink.brokers == std::vector<std::string>{"tcp://127.0.0.1:1883"});
  CHECK(c.uplink.qos == 1);
  CHECK(c.uplink.client_id == "huacao-demo-gateway");  // the default
  CHECK(c.simulator.enabled);
  CHECK(c.simulator.speed == 60.0);
  CHECK(c.simulator.interval_s == 10.0);
  CHECK(c.simulator.seed == 2026);
  CHECK(c.simulator.dropout_probability == Approx(0.002));
  REQUIRE(c.facilities.size() == 4);

  const FacilityConfig& canteen = FacilityById(c, "canteen-1");
  CHECK(canteen.type == FacilityType::kCanteen);
  CHECK(canteen.name.find("长者食堂") != std::string::npos);
  CHECK(canteen.capacity == 60);
  CHECK(canteen.timezone == "Asia/Shanghai");  // inherited from gateway.timezone
  REQUIRE(canteen.opening_hours.size() == 2);
  CHECK(canteen.opening_hours[0].weekdays_mask == 0x7f);
  CHECK(canteen.opening_hours[0].open_minute == 10 * 60 + 30);
  CHECK(canteen.opening_hours[0].close_minute == 13 * 60 + 30);
  CHECK(canteen.opening_hours[1].open_minute == 16 * 60 + 30);
  CHECK(canteen.opening_hours[1].close_minute == 19 * 60);
  REQUIRE(canteen.sensors.size() == 3);
  CHECK(canteen.sensors[0].kind == SensorKind::kDoorCounter);
  CHECK(canteen.sensors[1].kind == SensorKind::kMealTerminal);
  CHECK(canteen.sensors[2].kind == SensorKind::kFeedbackTerminal);
  CHECK(canteen.sensors[2].buttons.size() == 4);  // the default smileys
  CHECK(canteen.sensors[0].driver == "simulator");
  CHECK(canteen.line > 0);
  CHECK(canteen.sensors[1].line > canteen.sensors[0].line);

  const FacilityConfig& daycare = FacilityById(c, "daycare-1");
  CHECK(daycare.type == FacilityType::kElderlyStation);
  CHECK(daycare.name.find("日间照料中心") != std::string::npos);
  CHECK(daycare.capacity == 40);
  REQUIRE(daycare.opening_hours.size() == 1);
  CHECK(daycare.opening_hours[0].weekdays_mask == 0x3f);  // mon-sat
  CHECK(daycare.opening_hours[0].open_minute == 8 * 60);
  CHECK(daycare.opening_hours[0].close_minute == 17 * 60 + 30);
  REQUIRE(daycare.sensors.size() == 2);
  CHECK(daycare.sensors[1].kind == SensorKind::kCheckinTerminal);

  const FacilityConfig& charging = FacilityById(c, "charging-1");
  CHECK(charging.type == FacilityType::kChargingStation);
  CHECK(charging.name.find("充电站") != std::string::npos);
  CHECK(charging.opening_hours.empty());
  uint32_t connectors = 0;
  for (const auto& s : charging.sensors) {
    CHECK(s.kind == SensorKind::kChargePoint);
    CHECK(s.max_power_kw > 0);
    connectors += s.connectors;
  }
  CHECK(connectors == 4);
  CHECK(charging.capacity == 4);  // omitted in the file: the connectors count

  const FacilityConfig& fitness = FacilityById(c, "fitness-1");
  CHECK(fitness.type == FacilityType::kFitnessPoint);
  CHECK(fitness.name.find("益智健身苑点") != std::string::npos);
  CHECK(fitness.capacity == 30);
  REQUIRE(fitness.opening_hours.size() == 1);
  CHECK(fitness.opening_hours[0].open_minute == 6 * 60);
  CHECK(fitness.opening_hours[0].close_minute == 21 * 60);
  int doors = 0, equipment = 0;
  for (const auto& s : fitness.sensors) {
    doors += s.kind == SensorKind::kDoorCounter;
    equipment += s.kind == SensorKind::kEquipment;
  }
  CHECK(doors == 1);
  CHECK(equipment == 4);
}

TEST_CASE("config: example.yaml loads and documents the defaults", "[config]") {
  ConfigLoad load = LoadConfig(SourcePath("config/example.yaml"));
  INFO(All(load.errors) << All(load.warnings));
  REQUIRE(load.ok());
  CHECK(load.warnings.empty());
  const Config& c = load.config;
  const Config d;  // the defaults of the typed model
  // The reference file states each default; if a default changes in config.h, this
  // test says the reference must change with it.
  CHECK(c.data_dir == d.data_dir);
  CHECK(c.timezone == d.timezone);
  CHECK(c.log.level == d.log.level);
  CHECK(c.buffer.max_disk_bytes == d.buffer.max_disk_bytes);
  CHECK(c.buffer.commit_interval_ms == d.buffer.commit_interval_ms);
  CHECK(c.buffer.low_rate_commit_delay_ms == d.buffer.low_rate_commit_delay_ms);
  CHECK(c.buffer.commit_max_readings == d.buffer.commit_max_readings);
  CHECK(c.buffer.max_pending_readings == d.buffer.max_pending_readings);
  CHECK(c.buffer.synchronous == d.buffer.synchronous);
  CHECK(c.uplink.mqtt_version == d.uplink.mqtt_version);
  CHECK(c.uplink.username == d.uplink.username);
  CHECK(c.uplink.password == d.uplink.password);
  CHECK(c.uplink.keep_alive_s == d.uplink.keep_alive_s);
  CHECK(c.uplink.connect_timeout_s == d.uplink.connect_timeout_s);
  CHECK(c.uplink.qos == d.uplink.qos);
  CHECK(c.uplink.reconnect_min_ms == d.uplink.reconnect_min_ms);
  CHECK(c.uplink.reconnect_max_ms == d.uplink.reconnect_max_ms);
  CHECK(c.uplink.recreate_client_after_s == d.uplink.recreate_client_after_s);
  CHECK(c.uplink.max_inflight == d.uplink.max_inflight);
  CHECK(c.uplink.max_metrics_per_payload == d.uplink.max_metrics_per_payload);
  CHECK(c.uplink.node_metrics_interval_s == d.uplink.node_metrics_interval_s);
  CHECK(c.uplink.primary_host_id == d.uplink.primary_host_id);
  CHECK(c.uplink.aliases == d.uplink.aliases);
  CHECK(c.uplink.encoding == d.uplink.encoding);
  CHECK(c.uplink.tls.enabled == d.uplink.tls.enabled);
  CHECK(c.uplink.tls.verify == d.uplink.tls.verify);
  CHECK(c.simulator.seed == d.simulator.seed);
  CHECK(c.simulator.speed == d.simulator.speed);
  CHECK(c.simulator.interval_s == d.simulator.interval_s);
  CHECK(c.simulator.dropout_probability == d.simulator.dropout_probability);
  CHECK(c.simulator.start == d.simulator.start);
  CHECK(c.simulator.max_samples == d.simulator.max_samples);
  CHECK(c.uplink.client_id == c.group_id + "-" + c.edge_node_id);
  CHECK(c.web.enabled);  // on in the reference, off by default
  CHECK(c.web.address == d.web.address);
  CHECK(c.web.port == d.web.port);
  CHECK(c.web.username == d.web.username);
  CHECK(c.web.password == d.web.password);
  CHECK(c.web.max_connections == d.web.max_connections);
  CHECK(c.web.push_interval_ms == d.web.push_interval_ms);

  REQUIRE(c.facilities.size() == 3);
  const FacilityConfig& canteen = c.facilities[0];
  REQUIRE(canteen.opening_hours.size() == 2);
  CHECK(canteen.opening_hours[1].weekdays_mask == 0x1f);  // [mon, tue, wed, thu, fri]
  const FacilityConfig& station = c.facilities[1];
  REQUIRE(station.opening_hours.size() == 2);
  CHECK(station.opening_hours[1].weekdays_mask == 0x20);  // sat
  CHECK(station.sensors[2].kind == SensorKind::kOccupancy);
  const FacilityConfig& charging = c.facilities[2];
  CHECK(charging.capacity == 4);
  REQUIRE(charging.sensors.size() == 2);
  CHECK(charging.sensors[0].max_power_kw == 7.0);
  CHECK(charging.sensors[1].max_power_kw == 60.0);

  // Emergency calls: the reference states the alarms defaults and a call button's.
  CHECK(c.alarms.repeat_window_s == d.alarms.repeat_window_s);
  CHECK(c.alarms.reannounce_s == d.alarms.reannounce_s);
  CHECK(c.alarms.escalate_after_s == d.alarms.escalate_after_s);
  CHECK(c.alarms.escalation.webhook_timeout_ms == d.alarms.escalation.webhook_timeout_ms);
  CHECK(c.alarms.escalation.webhook_retries == d.alarms.escalation.webhook_retries);
  CHECK(c.alarms.escalation.coil_device == "rs485-bus-1");
  const SensorConfig* sos = nullptr;
  for (const auto& s : station.sensors) {
    if (s.id == "sos-101") sos = &s;
  }
  REQUIRE(sos);
  const SensorConfig defaults;
  CHECK(sos->kind == SensorKind::kCallButton);
  CHECK(sos->call_actions == defaults.call_actions);
  CHECK(sos->test_actions == defaults.test_actions);
  CHECK(sos->test_hours.size() == 1);
  CHECK(sos->location == "101室 Room 101");
}

TEST_CASE("config: unknown keys are rejected at every level, by full path", "[config]") {
  const std::string f = TestData("unknown_keys.yaml");
  ConfigLoad load = LoadConfig(f);
  CHECK_FALSE(load.ok());
  ExpectError(load, f, 9, "uplink.tls.verfy", "unknown key (did you mean 'verify'?)");
  ExpectError(load, f, 17, "facilities[0].sensors[0].intervall_s", "unknown key");
  ExpectError(load, f, 20, "metrics_port", "unknown key");
  CHECK(load.errors.size() == 3);
}

TEST_CASE("config: wrong types name the key and what was written", "[config]") {
  const std::string f = TestData("wrong_types.yaml");
  ConfigLoad load = LoadConfig(f);
  CHECK_FALSE(load.ok());
  ExpectError(load, f, 6, "buffer.max_disk_mb", "expected a number, got 'abc'");
  ExpectError(load, f, 7, "buffer.commit_interval_ms", "expected a whole number, got '2.5'");
  ExpectError(load, f, 9, "uplink.brokers", "expected a list, got 'tcp://127.0.0.1:1883'");
  ExpectError(load, f, 10, "uplink.qos", "expected a whole number, got 'one'");
  ExpectError(load, f, 12, "uplink.tls.enabled", "expected true or false, got 'maybe'");
  ExpectError(load, f, 15, "simulator.seed", "must not be negative");
  ExpectError(load, f, 19, "facilities[0].capacity", "expected a whole number, got a list");
  // A value the parse pass rejected is not judged again by the validation pass
  // (no second "uplink.brokers: at least one broker is required").
  CHECK(load.errors.size() == 7);
}

TEST_CASE("config: every problem is reported together, each at its line", "[config]") {
  const std::string f = TestData("many_problems.yaml");
  ConfigLoad load = LoadConfig(f);
  CHECK_FALSE(load.ok());
  ExpectError(load, f, 3, "gateway.group_id", "'hua/cao' must not contain '/', '+' or '#'");
  ExpectError(load, f, 4, "gateway.edge_node_id", "'gw+1' must not contain '/', '+' or '#'");
  ExpectError(load, f, 5, "gateway.timezone", "unknown time zone 'Asia/Shanghia'");
  ExpectError(load, f, 7, "log.level", "must be one of trace, debug, info, warn, error");
  ExpectError(load, f, 9, "buffer.commit_interval_ms", "must be between 1 and 10000, got 0");
  ExpectError(load, f, 10, "buffer.synchronous", "must be full or normal");
  ExpectError(load, f, 13, "uplink.brokers[0]", "'tcp://127.0.0.1' needs a port");
  ExpectError(load, f, 14, "uplink.brokers[1]", "'ssl://broker.example:8883' needs uplink.tls.enabled: true");
  ExpectError(load, f, 15, "uplink.brokers[2]", "'http://broker.example:80' must start with tcp://");
  ExpectError(load, f, 16, "uplink.mqtt_version", "must be \"3.1.1\" (also written 4) or 5, got '3'");
  ExpectError(load, f, 17, "uplink.qos", "must be 0 or 1, got 2");
  ExpectError(load, f, 20, "uplink.reconnect.max_ms", "must be >= uplink.reconnect.min_ms (1000)");
  ExpectError(load, f, 21, "uplink.max_inflight", "must be between 1 and 65535");
  ExpectError(load, f, 24, "simulator.speed", "must be > 0");
  ExpectError(load, f, 25, "simulator.dropout_probability", "must be between 0 and 1");
  ExpectError(load, f, 26, "simulator.start", "'2024-02-30T08:00' is not a local date and time");
  ExpectError(load, f, 29, "facilities[0].type", "unknown facility type 'school'");
  ExpectError(load, f, 30, "facilities[0].capacity", "must be > 0");
  ExpectError(load, f, 31, "facilities[0].timezone", "unknown time zone 'Mars/Olympus'");
  ExpectError(load, f, 33, "facilities[0].sensors[0].driver", "unknown driver 'bacnet'; known drivers: simulator, modbus, mqtt, http");
  ExpectError(load, f, 34, "facilities[0].sensors[1].id", "duplicate sensor id 'door-1'");
  ExpectError(load, f, 35, "facilities[0].sensors[2].id", "'seat/1' must not contain");
  ExpectError(load, f, 35, "facilities[0].sensors[2].connectors", "only for kind charge_point");
  ExpectError(load, f, 36, "facilities[1].id", "duplicate facility id 'canteen-1' (also at line 28)");
  ExpectError(load, f, 36, "facilities[1].capacity", "required");
  ExpectError(load, f, 39, "facilities[1].sensors[0].connectors", "must be between 1 and 32, got 40");
  ExpectError(load, f, 40, "facilities[1].sensors[1].connectors", "required for a charge_point");
  CHECK(load.errors.size() == 27);
  // Reported in file order, so an operator can work down the file.
  for (size_t i = 1; i < load.errors.size(); ++i) CHECK(load.errors[i - 1].line <= load.errors[i].line);
}

TEST_CASE("config: opening hours", "[config]") {
  const std::string f = TestData("bad_hours.yaml");
  ConfigLoad load = LoadConfig(f);
  CHECK_FALSE(load.ok());
  ExpectError(load, f, 10, "facilities[0].opening_hours[0].days", "unknown days 'mon-fry'");
  ExpectError(load, f, 11, "facilities[0].opening_hours[1].open", "expected a time of day \"HH:MM\"");
  ExpectError(load, f, 12, "facilities[0].opening_hours[2].close", "expected a time of day \"HH:MM\"");
  ExpectError(load, f, 13, "facilities[0].opening_hours[3].close", "must differ from open (10:00)");
  ExpectError(load, f, 14, "facilities[0].opening_hours[4].close", "required");
  CHECK(load.errors.size() == 5);  // 00:00-24:00 on line 15 is fine

  SECTION("day forms, 24:00 and periods past midnight") {
    TempDir dir;
    const std::string text =
        "gateway: {group_id: huacao, edge_node_id: gw-1}\n"                                  // 1
        "uplink: {brokers: [\"tcp://127.0.0.1:1883\"]}\n"                                    // 2
        "simulator: {enabled: true}\n"                                                       // 3
        "facilities:\n"                                                                      // 4
        "  - id: canteen-1\n"                                                                // 5
        "    type: canteen\n"                                                                // 6
        "    capacity: 60\n"                                                                 // 7
        "    sensors: [{id: door-1, kind: door_counter}]\n"                                  // 8
        "    opening_hours:\n"                                                               // 9
        "      - {days: weekdays, open: \"7:00\", close: \"09:30\"}\n"                       // 10
        "      - {days: weekends, open: \"10:00\", close: \"24:00\"}\n"                      // 11
        "      - {days: sat-mon, open: \"22:00\", close: \"02:00\"}\n"                       // 12
        "      - {days: [tue, Thursday, fri-sat], open: \"12:00\", close: \"13:00\"}\n"      // 13
        "      - {open: \"00:00\", close: \"24:00\"}\n";                                     // 14
    ConfigLoad ok = LoadConfig(dir.Write("hours.yaml", text));
    INFO(All(ok.errors));
    REQUIRE(ok.ok());
    const auto& h = ok.config.facilities.at(0).opening_hours;
    REQUIRE(h.size() == 5);
    CHECK(h[0].weekdays_mask == 0x1f);
    CHECK(h[0].open_minute == 7 * 60);
    CHECK(h[0].close_minute == 9 * 60 + 30);
    CHECK(h[1].weekdays_mask == 0x60);
    CHECK(h[1].close_minute == 24 * 60);
    CHECK(h[2].weekdays_mask == (0x20 | 0x40 | 0x01));  // the range wraps past Sunday
    CHECK(h[2].open_minute == 22 * 60);
    CHECK(h[2].close_minute == 2 * 60);
    CHECK(h[3].weekdays_mask == (0x02 | 0x08 | 0x10 | 0x20));
    CHECK(h[4].weekdays_mask == 0x7f);  // days omitted: daily
    CHECK(h[0].line == 10);
    CHECK(h[4].line == 14);
  }
}

TEST_CASE("config: YAML syntax errors carry the line", "[config]") {
  const std::string f = TestData("syntax_error.yaml");
  ConfigLoad load = LoadConfig(f);
  REQUIRE(load.errors.size() == 1);
  const ConfigError& e = load.errors[0];
  CHECK(e.file == f);
  // yaml-cpp reports where it gave up: the line after the unclosed '['.
  CHECK((e.line == 5 || e.line == 6));
  CHECK(e.message.rfind("YAML syntax error: ", 0) == 0);
  CHECK(e.ToString().rfind(f + ":" + std::to_string(e.line) + ": YAML syntax error: ", 0) == 0);
}

TEST_CASE("config: an unreadable or empty file", "[config]") {
  ConfigLoad missing = LoadConfig("/nonexistent/gateway.yaml");
  REQUIRE(missing.errors.size() == 1);
  CHECK(missing.errors[0].ToString() ==
        "/nonexistent/gateway.yaml: cannot read '/nonexistent/gateway.yaml': No such file or directory");

  TempDir dir;
  const std::string empty = dir.Write("empty.yaml", "# nothing yet\n");
  ConfigLoad load = LoadConfig(empty);
  CHECK_FALSE(load.ok());
  ExpectError(load, empty, 1, "gateway.group_id", "required");
  ExpectError(load, empty, 1, "gateway.edge_node_id", "required");
  // No broker and no facility: a gateway not set up yet, warned, not refused (the
  // installed config is such a file; see "the installed config does nothing").
  Only(load.warnings, "uplink.brokers");
  Only(load.warnings, "facilities");

  const std::string list = dir.Write("list.yaml", "- a\n- b\n");
  ConfigLoad not_map = LoadConfig(list);
  REQUIRE(not_map.errors.size() == 1);
  CHECK(not_map.errors[0].message.rfind("expected a map of sections", 0) == 0);
}

TEST_CASE("config: missing required keys point at their section", "[config]") {
  TempDir dir;
  const std::string f = dir.Write("c.yaml",
                                  "# a comment\n"                     // 1
                                  "gateway:\n"                        // 2
                                  "  data_dir: /tmp/x\n"              // 3
                                  "uplink: {brokers: [\"tcp://h:1\"]}\n"  // 4
                                  "simulator: {enabled: true}\n"      // 5
                                  "facilities:\n"                     // 6
                                  "  - name: 食堂\n"                   // 7
                                  "    sensors:\n"                    // 8
                                  "      - id: cp-1\n"                // 9
                                  "        kind: charge_point\n");    // 10
  ConfigLoad load = LoadConfig(f);
  ExpectError(load, f, 2, "gateway.group_id", "required");  // at the "gateway:" line
  ExpectError(load, f, 7, "facilities[0].id", "required");
  ExpectError(load, f, 7, "facilities[0].type", "required");
  ExpectError(load, f, 7, "facilities[0].capacity", "required");
  ExpectError(load, f, 9, "facilities[0].sensors[0].connectors", "required for a charge_point");
}

TEST_CASE("config: defaults and derived values", "[config]") {
  TempDir dir;
  const std::string f = dir.Write("c.yaml",
                                  "gateway: {group_id: huacao, edge_node_id: gw-1, timezone: Europe/Berlin}\n"
                                  "buffer: {max_disk_mb: 0.5}\n"
                                  "uplink:\n"
                                  "  brokers: [\"mqtt://[::1]:1883\", \"tcp://broker.example:1883\"]\n"
                                  "  mqtt_version: 5\n"
                                  "simulator: {enabled: true, start: \"2024-03-04T08:00\"}\n"
                                  "facilities:\n"
                                  "  - id: charge-1\n"
                                  "    type: charging_station\n"
                                  "    sensors:\n"
                                  "      - {id: cp-1, kind: charge_point, connectors: 2}\n"
                                  "      - {id: cp-2, kind: charge_point, connectors: 3, max_power_kw: 60}\n"
                                  "  - id: station-1\n"
                                  "    type: elderly_station\n"
                                  "    capacity: 40\n"
                                  "    timezone: Asia/Shanghai\n"
                                  "    sensors: [{id: s, kind: checkin_terminal, silent_after_s: 90}]\n");
  ConfigLoad load = LoadConfig(f);
  INFO(All(load.errors) << All(load.warnings));
  REQUIRE(load.ok());
  const Config& c = load.config;
  CHECK(c.buffer.max_disk_bytes == 512u * 1024u);
  CHECK(c.uplink.mqtt_version == 5);
  CHECK(c.uplink.client_id == "huacao-gw-1");
  CHECK(c.uplink.brokers.size() == 2);
  const FacilityConfig& charge = c.facilities.at(0);
  CHECK(charge.capacity == 5);              // 2 + 3 connectors
  CHECK(charge.timezone == "Europe/Berlin");  // from gateway.timezone
  CHECK(charge.name == "charge-1");           // the id when no name is given
  CHECK(charge.sensors.at(0).max_power_kw == 7.0);
  CHECK(charge.sensors.at(1).max_power_kw == 60.0);
  CHECK(charge.sensors.at(0).driver == "simulator");
  CHECK(charge.line == 8);
  CHECK(charge.sensors.at(1).line == 12);
  const FacilityConfig& station = c.facilities.at(1);
  CHECK(station.timezone == "Asia/Shanghai");
  CHECK(station.sensors.at(0).silent_after_s == 90.0);

  SECTION("mqtt_version accepts \"3.1.1\", 4 and 5 only") {
    for (const char* v : {"\"3.1.1\"", "4"}) {
      std::string text = std::string("uplink: {brokers: [\"tcp://h:1\"], mqtt_version: ") + v + "}\n" +
                         "gateway: {group_id: g, edge_node_id: e}\nsimulator: {enabled: true}\n"
                         "facilities: [{id: f, type: canteen, capacity: 1, sensors: [{id: d, kind: seat}]}]\n";
      ConfigLoad ok = LoadConfig(dir.Write("v.yaml", text));
      INFO(v << "\n" << All(ok.errors));
      REQUIRE(ok.ok());
      CHECK(ok.config.uplink.mqtt_version == 4);
    }
  }
}

TEST_CASE("config: password_file is read, trimmed, and exclusive with password", "[config]") {
  TempDir dir;
  const std::string pw = dir.Write("mqtt-password", "s3cret-from-file\n", 0600);
  const std::string base = "gateway: {group_id: huacao, edge_node_id: gw-1}\n"
                           "simulator: {enabled: true}\n"
                           "facilities: [{id: f, type: canteen, capacity: 1, sensors: [{id: d, kind: seat}]}]\n"
                           "uplink:\n"
                           "  brokers: [\"tcp://127.0.0.1:1883\"]\n"
                           "  username: gw-1\n";  // line 6

  ConfigLoad ok = LoadConfig(dir.Write("ok.yaml", base + "  password_file: " + pw + "\n"));
  INFO(All(ok.errors) << All(ok.warnings));
  REQUIRE(ok.ok());
  CHECK(ok.config.uplink.password == "s3cret-from-file");
  CHECK(ok.warnings.empty());

  SECTION("CRLF endings are trimmed too") {
    const std::string crlf = dir.Write("crlf", "abc\r\n", 0600);
    ConfigLoad l = LoadConfig(dir.Write("crlf.yaml", base + "  password_file: " + crlf + "\n"));
    REQUIRE(l.ok());
    CHECK(l.config.uplink.password == "abc");
  }
  SECTION("an unreadable file is an error naming the key and the path") {
    const std::string f = dir.Write("missing.yaml", base + "  password_file: " + dir.Write("x", "") + ".gone\n");
    ConfigLoad l = LoadConfig(f);
    ExpectError(l, f, 7, "uplink.password_file", "cannot read '");
    CHECK(l.errors[0].message.find("No such file or directory") != std::string::npos);
  }
  SECTION("an empty file is an error") {
    const std::string empty = dir.Write("empty-pw", "\n", 0600);
    const std::string f = dir.Write("empty.yaml", base + "  password_file: " + empty + "\n");
    ExpectError(LoadConfig(f), f, 7, "uplink.password_file", "'" + empty + "' is empty");
  }
  SECTION("password and password_file together are an error") {
    const std::string f =
        dir.Write("both.yaml", base + "  password: inline-secret\n  password_file: " + pw + "\n");
    ConfigLoad l = LoadConfig(f);
    ExpectError(l, f, 8, "uplink.password_file", "give either uplink.password or uplink.password_file");
  }
  SECTION("a password file others can read draws a warning") {
    const std::string open_pw = dir.Write("open-pw", "pw\n", 0644);
    ConfigLoad l = LoadConfig(dir.Write("open.yaml", base + "  password_file: " + open_pw + "\n"));
    REQUIRE(l.ok());
    ConfigError w = Only(l.warnings, "uplink.password_file");
    CHECK(w.line == 7);
  }
  SECTION("MQTT 3.1.1 needs a user name with a password") {
    std::string no_user = base.substr(0, base.find("  username:"));
    const std::string f = dir.Write("nouser.yaml", no_user + "  password_file: " + pw + "\n");
    ExpectError(LoadConfig(f), f, 6, "uplink.password_file", "needs uplink.username with MQTT 3.1.1");
  }
}

TEST_CASE("config: an inline password in a file others can read draws a warning", "[config]") {
  TempDir dir;
  const std::string body = "gateway: {group_id: huacao, edge_node_id: gw-1}\n"   // 1
                           "simulator: {enabled: true}\n"                        // 2
                           "facilities: [{id: f, type: canteen, capacity: 1, sensors: [{id: d, kind: seat}]}]\n"  // 3
                           "uplink:\n"                                           // 4
                           "  brokers: [\"tcp://127.0.0.1:1883\"]\n"             // 5
                           "  username: gw-1\n"                                  // 6
                           "  password: Inline-Secret-1\n";                      // 7

  const std::string readable = dir.Write("readable.yaml", body, 0644);
  ConfigLoad l = LoadConfig(readable);
  REQUIRE(l.ok());  // a warning, not an error
  CHECK(l.config.uplink.password == "Inline-Secret-1");
  REQUIRE(l.warnings.size() == 1);
  CHECK(l.warnings[0].ToString() == readable +
                                        ":7: uplink.password: config file is readable by other users; use "
                                        "password_file with mode 0600");
  CHECK(l.warnings[0].ToString().find("Inline-Secret-1") == std::string::npos);

  ConfigLoad private_file = LoadConfig(dir.Write("private.yaml", body, 0600));
  REQUIRE(private_file.ok());
  CHECK(private_file.warnings.empty());
}

TEST_CASE("config: secrets never appear in messages", "[config]") {
  const std::string f = TestData("secrets.yaml");
  ConfigLoad load = LoadConfig(f);
  CHECK_FALSE(load.ok());
  // The file provokes errors on the very keys and lines that hold the secrets.
  ExpectError(load, f, 5, "uplink.brokers[0]", "credentials in the broker URI are not supported");
  ExpectError(load, f, 8, "uplink.pasword", "unknown key (did you mean 'password'?)");
  ExpectError(load, f, 11, "uplink.tls.key_password", "given without uplink.tls.key_file");
  ExpectError(load, f, 12, "uplink.tls.ca_file", "cannot read '/nonexistent/ca.pem'");
  std::string everything = All(load.errors) + All(load.warnings);
  for (const char* secret : {"Br0ker-URI-secret", "Inline-pw-secret", "Misplaced-pw-secret", "Key-pw-secret"}) {
    INFO(secret);
    CHECK(everything.find(secret) == std::string::npos);
  }

  SECTION("nor does the content of a password file, nor a secret of the wrong type") {
    TempDir dir;
    const std::string pw = dir.Write("pw", "File-pw-secret\n", 0600);
    const std::string g = dir.Write("g.yaml",
                                    "gateway: {group_id: g, edge_node_id: e}\n"
                                    "simulator: {enabled: true}\n"
                                    "facilities: [{id: f, type: canteen, capacity: 1}]\n"
                                    "uplink:\n"
                                    "  brokers: [\"tcp://h:1\"]\n"
                                    "  password_file: " + pw + "\n"
                                    "  tls: {key_password: [List-pw-secret]}\n");
    ConfigLoad l = LoadConfig(g);
    std::string all = All(l.errors) + All(l.warnings);
    INFO(all);
    CHECK_FALSE(l.ok());  // no username with MQTT 3.1.1; key_password is not a string
    CHECK(all.find("uplink.tls.key_password: expected a string, got a list") != std::string::npos);
    CHECK(all.find("File-pw-secret") == std::string::npos);
    CHECK(all.find("List-pw-secret") == std::string::npos);
  }
}

TEST_CASE("config: TLS files must be readable when TLS is on", "[config]") {
  TempDir dir;
  const std::string ca = dir.Write("ca.pem", "-----BEGIN CERTIFICATE-----\n", 0644);
  const std::string head = "gateway: {group_id: g, edge_node_id: e}\n"                       // 1
                           "simulator: {enabled: true}\n"                                    // 2
                           "facilities: [{id: f, type: canteen, capacity: 1, sensors: [{id: d, kind: seat}]}]\n"  // 3
                           "uplink:\n"                                                       // 4
                           "  brokers: [\"ssl://broker.example:8883\"]\n"                    // 5
                           "  tls:\n"                                                        // 6
                           "    enabled: true\n";                                            // 7

  ConfigLoad ok = LoadConfig(dir.Write("ok.yaml", head + "    ca_file: " + ca + "\n"));
  INFO(All(ok.errors));
  REQUIRE(ok.ok());
  CHECK(ok.config.uplink.tls.ca_file == ca);

  const std::string bad = dir.Write("bad.yaml", head + "    ca_file: " + ca + ".missing\n"  // 8
                                                       "    cert_file: " + ca + "\n");      // 9
  ConfigLoad l = LoadConfig(bad);
  ExpectError(l, bad, 8, "uplink.tls.ca_file", "cannot read '" + ca + ".missing': No such file or directory");
  ExpectError(l, bad, 9, "uplink.tls.cert_file", "needs uplink.tls.key_file as well");

  // The same files with TLS off are not looked at.
  const std::string off = dir.Write("off.yaml", "gateway: {group_id: g, edge_node_id: e}\n"
                                                "simulator: {enabled: true}\n"
                                                "facilities: [{id: f, type: canteen, capacity: 1, sensors: [{id: d, kind: seat}]}]\n"
                                                "uplink:\n"
                                                "  brokers: [\"tcp://broker.example:1883\"]\n"
                                                "  tls: {enabled: false, ca_file: /nonexistent/ca.pem}\n");
  ConfigLoad l2 = LoadConfig(off);
  INFO(All(l2.errors));
  CHECK(l2.ok());
}

TEST_CASE("config: warnings do not fail a config", "[config]") {
  TempDir dir;
  const std::string f = dir.Write("c.yaml",
                                  "gateway: {group_id: g, edge_node_id: e}\n"
                                  "uplink: {brokers: [\"tcp://h:1883\"]}\n"
                                  "facilities:\n"          // 3
                                  "  - {id: f, type: fitness_point, capacity: 10}\n");
  ConfigLoad l = LoadConfig(f);
  INFO(All(l.errors));
  REQUIRE(l.ok());
  ConfigError w = Only(l.warnings, "facilities");
  CHECK(w.line == 3);
  CHECK(w.message == "facilities: no facility has sensors; nothing will be measured");
}

TEST_CASE("config: duplicate keys are reported", "[config]") {
  TempDir dir;
  const std::string f = dir.Write("c.yaml", std::string(kMinimal) + "gateway: {group_id: x}\n");
  ConfigLoad l = LoadConfig(f);
  CHECK_FALSE(l.ok());
  ExpectError(l, f, 6, "gateway", "given twice (first at line 1)");
}

TEST_CASE("config: web section, and a wide bind needs a password", "[config]") {
  TempDir dir;
  SECTION("defaults: off, loopback, port 8080") {
    ConfigLoad l = LoadConfig(dir.Write("d.yaml", kMinimal));
    REQUIRE(l.ok());
    CHECK_FALSE(l.config.web.enabled);
    CHECK(l.config.web.address == "127.0.0.1");
    CHECK(l.config.web.port == 8080);
    CHECK(l.config.web.password.empty());
  }
  SECTION("loopback needs no password") {
    ConfigLoad l = LoadConfig(dir.Write("lo.yaml", std::string(kMinimal) +
                                                       "web: {enabled: true, address: \"::1\", port: 0}\n"));
    INFO(All(l.errors));
    REQUIRE(l.ok());
    CHECK(l.config.web.port == 0);
  }
  SECTION("every interface without a password is refused, at the line of web") {
    const std::string f = dir.Write("wide.yaml", std::string(kMinimal) + "web:\n  enabled: true\n  address: 0.0.0.0\n");
    ExpectError(LoadConfig(f), f, 6, "web.password", "required when web.address (0.0.0.0) is not a loopback address");
  }
  SECTION("a LAN address with a password file is accepted and the secret stays out of messages") {
    const std::string pw = dir.Write("web-pw", "lan-s3cret\n", 0600);
    ConfigLoad l = LoadConfig(dir.Write("lan.yaml", std::string(kMinimal) + "web:\n  enabled: true\n"
                                                      "  address: 192.168.1.20\n  password_file: " + pw + "\n"));
    INFO(All(l.errors));
    REQUIRE(l.ok());
    CHECK(l.config.web.password == "lan-s3cret");
    CHECK(l.config.web.username == "admin");
    CHECK(All(l.warnings).find("lan-s3cret") == std::string::npos);
  }
  SECTION("an inline password in a readable file draws a warning, never showing it") {
    ConfigLoad l = LoadConfig(dir.Write("inline.yaml", std::string(kMinimal) +
                                                           "web: {enabled: true, address: 0.0.0.0, password: pa55}\n", 0644));
    REQUIRE(l.ok());
    ConfigError w = Only(l.warnings, "web.password");
    CHECK(w.ToString().find("pa55") == std::string::npos);
  }
  SECTION("bad values name their key") {
    const std::string f = dir.Write("bad.yaml", std::string(kMinimal) + "web:\n  address: gateway.lan\n  port: 70000\n"
                                                                      "  push_interval_ms: 5\n  colour: blue\n");
    ConfigLoad l = LoadConfig(f);
    // A host name; localhost is 127.0.0.1 for every server ("listen addresses mean ...").
    ExpectError(l, f, 7, "web.address", "'gateway.lan' is not an IPv4 or IPv6 address");
    ExpectError(l, f, 8, "web.port", "");
    ExpectError(l, f, 9, "web.push_interval_ms", "");
    ExpectError(l, f, 10, "web.colour", "");
  }
}

TEST_CASE("config: the history section, its defaults and its errors", "[config][history]") {
  ConfigLoad example = LoadConfig(SourcePath("config/example.yaml"));
  REQUIRE(example.ok());
  CHECK(example.config.history.retention_days == 365);
  CHECK(example.config.history.daily_report);
  CHECK(example.config.history.daily_report_delay_s == 60);

  const std::string f = TestData("bad_history.yaml");
  ConfigLoad load = LoadConfig(f);
  CHECK_FALSE(load.ok());
  ExpectError(load, f, 7, "history.retention_days", "must be between 1 and 3660, got 0");
  ExpectError(load, f, 8, "history.daily_report", "expected true or false, got 'sometimes'");
  ExpectError(load, f, 9, "history.daily_report_delay_s", "must be between 0 and 21600, got 90000");
  ExpectError(load, f, 10, "history.keep_raw", "unknown key");
  CHECK(load.errors.size() == 4);
  CHECK(example.config.history.late_days == 7);

  // How far back a reading may come is bounded by what the history keeps.
  TempDir dir;
  const std::string late = dir.Write("late.yaml",
                                     "gateway:\n  group_id: huacao\n  edge_node_id: gw-1\n"
                                     "uplink:\n  brokers: [tcp://127.0.0.1:1883]\n"
                                     "history:\n  retention_days: 30\n  late_days: 31\n");
  ConfigLoad too_far = LoadConfig(late);
  CHECK_FALSE(too_far.ok());
  ExpectError(too_far, late, 8, "history.late_days", "must be between 0 and 30, got 31");
}

TEST_CASE("config: the installed config does nothing made up and says what is missing", "[config]") {
  ConfigLoad load = LoadConfig(SourcePath("config/installed.yaml"));
  INFO(All(load.errors) << All(load.warnings));
  REQUIRE(load.ok());
  CHECK_FALSE(load.config.simulator.enabled);
  CHECK(load.config.facilities.empty());
  CHECK(load.config.uplink.brokers.empty());
  CHECK(load.config.web.enabled);
  CHECK(load.config.web.address == "127.0.0.1");
  CHECK(load.config.data_dir == "/var/lib/community-gateway");
  CHECK(Only(load.warnings, "uplink.brokers").message ==
        "uplink.brokers: none: nothing is forwarded until a broker is configured, e.g. tcp://127.0.0.1:1883");
  CHECK(Only(load.warnings, "facilities").message ==
        "facilities: none: nothing is measured or stored until facilities are configured");
  const auto missing = gateway::MissingSetup(load.config);
  REQUIRE(missing.size() == 2);
  CHECK(missing[0] == "facilities: none configured, nothing is measured");
  CHECK(missing[1] == "uplink.brokers: none configured, nothing is forwarded");

  // The reference and the demo are set up.
  CHECK(gateway::MissingSetup(LoadConfig(SourcePath("config/example.yaml")).config).empty());
  CHECK(gateway::MissingSetup(LoadConfig(SourcePath("config/demo.yaml")).config).empty());
}

TEST_CASE("config: every secret in a file others can read draws the warning", "[config]") {
  TempDir dir;
  // Secret files, readable by others (0644) and private (0600).
  const std::string open_file = dir.Write("open-secret", "Open-File-Secret-1\n", 0644);
  const std::string key_open = dir.Write("key-open.pem", "not really a key\n", 0644);
  const std::string body =
      "gateway: {group_id: huacao, edge_node_id: gw-1}\n"                                          // 1
      "simulator: {enabled: true}\n"                                                             // 2
      "facilities:\n"                                                                            // 3
      "  - id: f\n"                                                                              // 4
      "    type: charging_station\n"                                                             // 5
      "    sensors: [{id: cp-1, kind: charge_point, driver: ocpp, connectors: 1},\n"             // 6
      "              {id: t, kind: meal_terminal, driver: http}, {id: m, kind: seat, driver: mqtt}]\n"  // 7
      "uplink:\n"                                                                                // 8
      "  brokers: [\"tcp://127.0.0.1:1883\"]\n"                                                  // 9
      "  username: gw-1\n"                                                                       // 10
      "  password: Uplink-Secret-1\n"                                                            // 11
      "drivers:\n"                                                                               // 12
      "  mqtt:\n"                                                                                // 13
      "    password: Mqtt-Secret-1\n"                                                            // 14
      "    subscriptions: [{topic: \"a/#\", sensor: m, facility: f, values: {occupied: /o}}]\n"  // 15
      "  http:\n"                                                                                // 16
      "    enabled: true\n"                                                                      // 17
      "    token: Http-Secret-1\n"                                                               // 18
      "  ocpp:\n"                                                                                // 19
      "    enabled: true\n"                                                                      // 20
      "    upstream_password: Upstream-Secret-1\n"                                               // 21
      "    id_tag_salt_file: " + open_file + "\n"                                                // 22
      "    charge_points: [{id: cp-1, password: Cp-Secret-12345}]\n"                             // 23
      "web:\n"                                                                                   // 24
      "  password_file: " + open_file + "\n";                                                    // 25

  const std::string readable = dir.Write("readable.yaml", body, 0644);
  ConfigLoad l = LoadConfig(readable);
  INFO(All(l.errors) << All(l.warnings));
  // Other problems of this made-up file do not matter here; the warnings do.
  const std::string use_file = "config file is readable by other users; use ";
  const std::string make_private = "config file is readable by other users; make it mode 0600";
  const std::string chmod = "' is readable by other users; chmod 600 it";
  CHECK(Only(l.warnings, "uplink.password").ToString() == readable + ":11: uplink.password: " + use_file +
                                                              "password_file with mode 0600");
  CHECK(Only(l.warnings, "drivers.mqtt.password").ToString() ==
        readable + ":14: drivers.mqtt.password: " + use_file + "password_file with mode 0600");
  CHECK(Only(l.warnings, "drivers.http.token").ToString() ==
        readable + ":18: drivers.http.token: " + use_file + "token_file with mode 0600");
  CHECK(Only(l.warnings, "drivers.ocpp.upstream_password").ToString() ==
        readable + ":21: drivers.ocpp.upstream_password: " + make_private);
  CHECK(Only(l.warnings, "drivers.ocpp.id_tag_salt_file").ToString() ==
        readable + ":22: drivers.ocpp.id_tag_salt_file: '" + open_file + chmod);
  CHECK(Only(l.warnings, "drivers.ocpp.charge_points[0].password").ToString() ==
        readable + ":23: drivers.ocpp.charge_points[0].password: " + make_private);
  CHECK(Only(l.warnings, "web.password_file").ToString() == readable + ":25: web.password_file: '" + open_file + chmod);
  const std::string all = All(l.errors) + All(l.warnings);
  for (const char* secret : {"Uplink-Secret-1", "Mqtt-Secret-1", "Http-Secret-1", "Upstream-Secret-1",
                             "Open-File-Secret-1", "Cp-Secret-12345"}) {
    INFO(secret);
    CHECK(all.find(secret) == std::string::npos);
  }

  SECTION("a private config and private files: no warning about readers") {
    const std::string private_file = dir.Write("private-secret", "Private-File-Secret-1\n", 0600);
    std::string text = body;
    for (size_t at; (at = text.find(open_file)) != std::string::npos;) text.replace(at, open_file.size(), private_file);
    ConfigLoad p = LoadConfig(dir.Write("private.yaml", text, 0600));
    CHECK(All(p.warnings).find("readable by other users") == std::string::npos);
  }
  SECTION("a TLS key readable by others") {
    const std::string cert = dir.Write("cert.pem", "x\n", 0644);
    ConfigLoad k = LoadConfig(dir.Write("tls.yaml",
                                        "gateway: {group_id: huacao, edge_node_id: gw-1}\n"
                                        "simulator: {enabled: true}\n"
                                        "facilities: [{id: f, type: canteen, capacity: 1, sensors: [{id: d, kind: seat}]}]\n"
                                        "uplink:\n"
                                        "  brokers: [\"ssl://127.0.0.1:8883\"]\n"
                                        "  tls: {enabled: true, cert_file: " + cert + ", key_file: " + key_open + "}\n",
                                        0600));
    CHECK(Only(k.warnings, "uplink.tls.key_file").message ==
          "uplink.tls.key_file: '" + key_open + chmod);
  }
}

TEST_CASE("config: listen addresses mean what the servers bind", "[config]") {
  TempDir dir;
  auto load = [&](const std::string& drivers) {
    return LoadConfig(dir.Write("a.yaml", std::string(kMinimal) +
                                              "  - {id: t-1, type: canteen, capacity: 5, sensors: [{id: t, kind: "
                                              "meal_terminal, driver: http}]}\n" + drivers));
  };
  SECTION("localhost is 127.0.0.1: loopback, no token needed, and the server binds it") {
    ConfigLoad l = load("drivers: {http: {enabled: true, bind: localhost}}\n");
    INFO(All(l.errors));
    CHECK(l.ok());
    auto a = gateway::ParseListenAddress("localhost");
    REQUIRE(a.ok());
    CHECK(a->ip == "127.0.0.1");
    CHECK(a->loopback);
  }
  SECTION("all of 127/8 and ::1 are loopback, for every server alike") {
    for (const char* addr : {"127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"}) {
      INFO(addr);
      CHECK(load(std::string("drivers: {http: {enabled: true, bind: \"") + addr + "\"}}\n").ok());
      auto a = gateway::ParseListenAddress(addr);
      REQUIRE(a.ok());
      CHECK(a->loopback);
    }
    for (const char* addr : {"0.0.0.0", "::", "192.168.1.10", "fe80::1"}) {
      INFO(addr);
      auto a = gateway::ParseListenAddress(addr);
      REQUIRE(a.ok());
      CHECK_FALSE(a->loopback);
      ConfigLoad l = load(std::string("drivers: {http: {enabled: true, bind: \"") + addr + "\"}}\n");
      CHECK(Only(l.errors, "drivers.http.token").message.find("required when listening on") != std::string::npos);
    }
  }
  SECTION("a host name is refused by the check, not by the server later") {
    ConfigLoad l = load("drivers: {http: {enabled: true, bind: board.local, token: abcdefgh}}\n");
    CHECK(Only(l.errors, "drivers.http.bind").message ==
          "drivers.http.bind: 'board.local' is not an IPv4 or IPv6 address (or localhost); 0.0.0.0 for every "
          "interface");
    ConfigLoad w = load("web: {address: gateway.lan, password: x}\n");
    Only(w.errors, "web.address");
    CHECK_FALSE(gateway::ParseListenAddress("gateway.lan").ok());
  }
}

TEST_CASE("config: uplink.encoding and uplink.aliases, and their mistakes by file, line and key", "[config]") {
  TempDir dir;
  const std::string tahu = dir.Write(
      "tahu.yaml",
      "gateway: {group_id: huacao, edge_node_id: gw-1}\n"
      "uplink: {brokers: [\"tcp://127.0.0.1:1883\"], encoding: tahu, aliases: false}\n"
      "simulator: {enabled: true}\n"
      "facilities:\n"
      "  - {id: canteen-1, type: canteen, capacity: 60, sensors: [{id: door-1, kind: door_counter}]}\n");
  ConfigLoad ok = LoadConfig(tahu);
  INFO(All(ok.errors));
  REQUIRE(ok.ok());
  CHECK(ok.config.uplink.encoding == gateway::UplinkEncoding::kTahu);
  CHECK_FALSE(ok.config.uplink.aliases);
  CHECK(Config().uplink.encoding == gateway::UplinkEncoding::kSpec);
  CHECK(Config().uplink.aliases);

  const std::string bad = dir.Write(
      "bad.yaml",
      "gateway: {group_id: huacao, edge_node_id: gw-1}\n"  // 1
      "uplink:\n"                                           // 2
      "  brokers: [\"tcp://127.0.0.1:1883\"]\n"           // 3
      "  encoding: compat\n"                                // 4
      "  aliases: maybe\n"                                  // 5
      "simulator: {enabled: true}\n"
      "facilities:\n"
      "  - {id: canteen-1, type: canteen, capacity: 60, sensors: [{id: door-1, kind: door_counter}]}\n");
  ConfigLoad load = LoadConfig(bad);
  CHECK_FALSE(load.ok());
  ExpectError(load, bad, 4, "uplink.encoding", "unknown value");
  CHECK(Only(load.errors, "uplink.encoding").message.find("spec, tahu") != std::string::npos);
  ExpectError(load, bad, 5, "uplink.aliases", "");
}
