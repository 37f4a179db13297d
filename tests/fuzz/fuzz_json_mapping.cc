// libFuzzer target: the MQTT driver's JSON mapping (topic + payload -> readings).
// Input: the topic, a newline, the payload. Must never crash, hang or throw.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "gateway/config.h"
#include "mqtt_subscriber/json_mapping.h"

namespace {
gateway::Config MakeConfig() {
  gateway::Config c;
  gateway::FacilityConfig f;
  f.id = "canteen-1";
  for (const char* id : {"seat-1", "door-1"}) {
    gateway::SensorConfig s;
    s.id = id;
    s.driver = "mqtt";
    f.sensors.push_back(s);
  }
  c.facilities.push_back(f);
  gateway::MqttSubscriptionConfig z;
  z.topic = "zigbee2mqtt/+";
  z.facility = "canteen-1";
  z.sensor_level = 1;
  z.points = {{"occupied", "/occupancy", gateway::PointType::kAuto, 1.0, 0},
              {"battery", "/battery", gateway::PointType::kUInt32, 1.0, 0},
              {"temp", "/t", gateway::PointType::kFloat, 0.1, 0}};
  c.drivers.mqtt.subscriptions.push_back(z);
  gateway::MqttSubscriptionConfig cs;
  cs.topic = "application/#";
  cs.facility = "canteen-1";
  cs.sensor_pointer = "/deviceInfo/deviceName";
  cs.timestamp_pointer = "/time";
  cs.points = {{"entries_total", "/object/entries", gateway::PointType::kAuto, 1.0, 0},
               {"label", "/object/a~1b/0", gateway::PointType::kString, 1.0, 0}};
  c.drivers.mqtt.subscriptions.push_back(cs);
  return c;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const gateway::Config config = MakeConfig();
  static const mqtt_subscriber::JsonMapping mapping(config);
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t nl = in.find('\n');
  std::string_view topic = nl == std::string_view::npos ? in : in.substr(0, nl);
  std::string_view payload = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
  auto out = mapping.Map(topic, payload, 1700000000000);
  for (const auto& r : out.readings) {
    if (r.facility_id != "canteen-1") __builtin_trap();
  }
  return 0;
}
