// Unit tests of the drivers sections of the config (drivers.modbus, drivers.mqtt,
// drivers.http): values and defaults land in the typed structs, and every mistake is
// reported at its line, naming the key.
#include <catch2/catch.hpp>

#include <string>

#include "gateway/config.h"

namespace {

std::string TestData(const std::string& name) {
  return std::string(TEST_SOURCE_DIR) + "/tests/unit/testdata/config/" + name;
}

std::string All(const std::vector<gateway::ConfigError>& list) {
  std::string s;
  for (const auto& e : list) s += e.ToString() + "\n";
  return s;
}

// The rendered error for `key`, or "" when there is none.
std::string ErrorFor(const gateway::ConfigLoad& load, const std::string& key) {
  for (const auto& e : load.errors) {
    if (e.message.rfind(key + ": ", 0) == 0) return e.ToString();
  }
  return "";
}

}  // namespace

TEST_CASE("drivers config: a valid file fills the structs with values and defaults", "[config][drivers]") {
  auto load = gateway::LoadConfig(TestData("drivers_ok.yaml"));
  INFO(All(load.errors) << All(load.warnings));
  REQUIRE(load.ok());
  CHECK(load.warnings.empty());
  const auto& d = load.config.drivers;
  REQUIRE(d.modbus.devices.size() == 2);
  const auto& tcp = d.modbus.devices[0];
  CHECK_FALSE(tcp.rtu);
  CHECK(tcp.host == "192.168.10.21");
  CHECK(tcp.port == 502);
  CHECK(tcp.unit_id == 1);
  CHECK(tcp.poll_interval_ms == 1000);
  REQUIRE(tcp.registers.size() == 3);
  CHECK(tcp.registers[0].table == gateway::ModbusRegisterConfig::Table::kInput);
  CHECK(tcp.registers[0].type == gateway::ModbusRegisterConfig::Type::kUInt32);
  CHECK(tcp.registers[0].word_swap);
  CHECK(tcp.registers[1].type == gateway::ModbusRegisterConfig::Type::kBool);  // a coil
  CHECK(tcp.registers[2].scale == Approx(0.1));
  CHECK(tcp.registers[2].offset == Approx(-40));
  CHECK(tcp.registers[2].byte_swap);
  CHECK(tcp.registers[2].as == gateway::PointType::kFloat);
  const auto& rtu = d.modbus.devices[1];
  CHECK(rtu.rtu);
  CHECK(rtu.serial_port == "/dev/ttyUSB0");
  CHECK(rtu.baud == 19200);
  CHECK(rtu.parity == 'E');
  CHECK(rtu.unit_id == 7);
  CHECK(d.mqtt.broker == "tcp://127.0.0.1:1883");  // default
  CHECK(d.mqtt.client_id == "gw-1-southbound");    // default
  REQUIRE(d.mqtt.subscriptions.size() == 1);
  CHECK(d.mqtt.subscriptions[0].sensor_level == 1);
  CHECK(d.mqtt.subscriptions[0].points[0].type == gateway::PointType::kBool);
  CHECK(d.http.enabled);
  CHECK(d.http.bind == "127.0.0.1");
  CHECK(d.http.port == 8081);
}

TEST_CASE("drivers config: every mistake at its line, naming the key", "[config][drivers]") {
  const std::string file = TestData("drivers_bad.yaml");
  auto load = gateway::LoadConfig(file);
  INFO(All(load.errors));
  CHECK_FALSE(load.ok());
  struct Want {
    const char* key;
    int line;
    const char* reason;
  };
  const Want wants[] = {
      {"drivers.modbus.devices[0].host", 15, "required for transport tcp"},
      {"drivers.modbus.devices[0].port", 18, "must be between 1 and 65535"},
      {"drivers.modbus.devices[0].registers[0].address", 21, "must be between 0 and 65534"},
      {"drivers.modbus.devices[0].registers[1].type", 22, "coils and discrete inputs are bits"},
      {"drivers.modbus.devices[0].registers[2].sensor", 23, "sensor 'meal-1' of facility 'canteen-1' has driver 'simulator'"},
      {"drivers.modbus.devices[0].registers[3].type", 24, "unknown value 'int64'"},
      {"drivers.modbus.devices[0].registers[3].point", 24, "'bad point' must not contain"},
      {"drivers.modbus.devices[1].facility", 26, "no facility 'canteen-9'"},
      {"drivers.modbus.devices[1].serial.parity", 28, "unknown value 'mark'"},
      {"drivers.modbus.devices[1].registers", 29, "at least one register"},
      {"drivers.mqtt.broker", 31, "'ssl://127.0.0.1:8883' is not tcp://host:port"},
      {"drivers.mqtt.subscriptions[0].topic", 33, "'zigbee2mqtt/#/x': '+' and '#' must be whole levels"},
      {"drivers.mqtt.subscriptions[0].sensor", 35, "give exactly one of sensor, sensor_level or sensor_pointer"},
      {"drivers.mqtt.subscriptions[0].points[0].pointer", 38, "'occupancy' is not a JSON Pointer"},
      {"drivers.http.token", 39, "required when listening on 0.0.0.0"},
      {"drivers.http.max_body_bytes", 43, "must be between 1024"},
  };
  for (const auto& w : wants) {
    const std::string expected = file + ":" + std::to_string(w.line) + ": " + w.key + ": " + w.reason;
    const std::string got = ErrorFor(load, w.key);
    INFO("expected " << expected << "\ngot      " << got);
    CHECK(got.rfind(expected, 0) == 0);
  }
}

TEST_CASE("drivers config: a sensor with a driver that nothing feeds draws a warning", "[config][drivers]") {
  auto load = gateway::LoadConfig(TestData("drivers_ok.yaml"));
  REQUIRE(load.ok());
  // drivers_ok feeds every sensor; the shipped example must too (checked in config_test).
  CHECK(load.warnings.empty());
}
