// Unit tests of the drivers' pure parts: point types and conversions, Modbus register
// decoding and read planning, Modbus TCP frames (the unit id check), MQTT packet codec and topic matching, the MQTT JSON
// mapping, the HTTP ingest body, and the facility model's handling of what drivers
// add (a driver's online point, 16-bit counter wraps).
#include <catch2/catch.hpp>
#include <modbus.h>

#include <nlohmann/json.hpp>

#include "common/point_value.h"
#include "core/facility_model.h"
#include "http_ingest/ingest_body.h"
#include "modbus/register_map.h"
#include "modbus/tcp_frame.h"
#include "mqtt_subscriber/json_mapping.h"
#include "mqtt_subscriber/mqtt_codec.h"

using gateway::ModbusRegisterConfig;
using gateway::PointType;
using gateway::Value;

namespace {

ModbusRegisterConfig Reg(ModbusRegisterConfig::Type t, const std::string& point = "x") {
  ModbusRegisterConfig r;
  r.type = t;
  r.point = point;
  return r;
}

gateway::Reading Raw(const std::string& sensor, const std::string& point, Value v, int64_t ts) {
  gateway::Reading r;
  r.facility_id = "f";
  r.sensor_id = sensor;
  r.point = point;
  r.value = std::move(v);
  r.ts_ms = ts;
  return r;
}

const gateway::Reading* Find(const std::vector<gateway::Reading>& out, const std::string& point) {
  const gateway::Reading* found = nullptr;
  for (const auto& r : out) {
    if (r.point == point) found = &r;
  }
  return found;
}

}  // namespace

TEST_CASE("drivers: known points get the wire contract's types", "[drivers]") {
  CHECK(drivers::AutoType("entries_total") == PointType::kUInt64);
  CHECK(drivers::AutoType("occupancy") == PointType::kUInt32);
  CHECK(drivers::AutoType("occupied") == PointType::kBool);
  CHECK(drivers::AutoType("connector/2/status") == PointType::kString);
  CHECK(drivers::AutoType("temperature") == PointType::kAuto);
  auto v = drivers::Convert(drivers::Source(int64_t(12)), PointType::kAuto, "entries_total", PointType::kAuto);
  REQUIRE(v.ok());
  CHECK(std::get<uint64_t>(v.value()) == 12);
  CHECK_FALSE(drivers::Convert(drivers::Source(int64_t(-1)), PointType::kAuto, "entries_total", PointType::kAuto).ok());
  CHECK_FALSE(drivers::Convert(drivers::Source(2.5), PointType::kUInt32, "x", PointType::kAuto).ok());
  CHECK(std::get<uint32_t>(drivers::Convert(drivers::Source(3.0), PointType::kUInt32, "x", PointType::kAuto).value()) == 3);
  CHECK(std::get<bool>(drivers::Convert(drivers::Source(std::string("ON")), PointType::kBool, "x", PointType::kAuto).value()));
  CHECK_FALSE(drivers::Convert(drivers::Source(std::string("maybe")), PointType::kBool, "x", PointType::kAuto).ok());
  CHECK_FALSE(drivers::Convert(drivers::Source(int64_t(1) << 40), PointType::kInt32, "x", PointType::kAuto).ok());
  CHECK(std::get<int32_t>(drivers::Convert(drivers::Source(int64_t(-2147483648LL)), PointType::kInt32, "x",
                                           PointType::kAuto).value()) == INT32_MIN);
}

TEST_CASE("drivers: JSON pointers and timestamps", "[drivers]") {
  auto doc = nlohmann::json::parse(R"({"a":{"b/c":[10,{"~k":true}]}})");
  REQUIRE(drivers::FindPointer(doc, "/a/b~1c/0") != nullptr);
  CHECK(*drivers::FindPointer(doc, "/a/b~1c/0") == 10);
  CHECK(*drivers::FindPointer(doc, "/a/b~1c/1/~0k") == true);
  CHECK(drivers::FindPointer(doc, "/a/b~1c/2") == nullptr);
  CHECK(drivers::FindPointer(doc, "/a/b~1c/01") == nullptr);
  CHECK(drivers::FindPointer(doc, "/a/x") == nullptr);
  CHECK(drivers::FindPointer(doc, "a") == nullptr);
  CHECK(drivers::TimestampFromJson(nlohmann::json(1700000000)).value() == 1700000000000);
  CHECK(drivers::TimestampFromJson(nlohmann::json(1700000000123)).value() == 1700000000123);
  CHECK(drivers::TimestampFromJson(nlohmann::json("2023-11-14T22:13:20.5Z")).value() == 1700000000500);
  CHECK(drivers::TimestampFromJson(nlohmann::json("2023-11-15T06:13:20+08:00")).value() == 1700000000000);
  CHECK_FALSE(drivers::TimestampFromJson(nlohmann::json("2023-11-15 06:13:20")).ok());
  CHECK_FALSE(drivers::TimestampFromJson(nlohmann::json("2023-02-30T00:00:00Z")).ok());
}

TEST_CASE("modbus: register decoding with byte and word order, scale and offset", "[drivers][modbus]") {
  using T = ModbusRegisterConfig::Type;
  uint16_t w[2] = {0x0001, 0x0002};
  CHECK(std::get<uint32_t>(modbus::DecodeRegisters(w, 2, Reg(T::kUInt32)).value()) == 0x00010002u);
  auto ws = Reg(T::kUInt32);
  ws.word_swap = true;
  CHECK(std::get<uint32_t>(modbus::DecodeRegisters(w, 2, ws).value()) == 0x00020001u);
  auto bs = Reg(T::kUInt16);
  bs.byte_swap = true;
  CHECK(std::get<uint32_t>(modbus::DecodeRegisters(w, 1, bs).value()) == 0x0100u);
  uint16_t neg[1] = {0xFFDD};  // -35
  auto t = Reg(T::kInt16);
  t.scale = 0.1;
  CHECK(std::get<double>(modbus::DecodeRegisters(neg, 1, t).value()) == Approx(-3.5));
  CHECK(std::get<int32_t>(modbus::DecodeRegisters(neg, 1, Reg(T::kInt16)).value()) == -35);
  uint16_t f[2] = {0x449A, 0x5000};  // 1234.5f
  CHECK(std::get<float>(modbus::DecodeRegisters(f, 2, Reg(T::kFloat32)).value()) == 1234.5f);
  // Scaled (or offset), a float32 is Double like every scaled register
  // (docs/wire-format.md): 1234.5 * 0.1 keeps its double digits.
  auto fs = Reg(T::kFloat32);
  fs.scale = 0.1;
  auto scaled = modbus::DecodeRegisters(f, 2, fs);
  REQUIRE(scaled.ok());
  REQUIRE(std::holds_alternative<double>(scaled.value()));
  CHECK(std::get<double>(scaled.value()) == double(1234.5f) * 0.1);
  auto fo = Reg(T::kFloat32);
  fo.offset = -1;
  CHECK(std::get<double>(modbus::DecodeRegisters(f, 2, fo).value()) == 1233.5);
  // `as` still wins over the default.
  fs.as = gateway::PointType::kFloat;
  CHECK(std::get<float>(modbus::DecodeRegisters(f, 2, fs).value()) == float(double(1234.5f) * 0.1));
  uint16_t nan[2] = {0x7FC0, 0x0000};
  CHECK_FALSE(modbus::DecodeRegisters(nan, 2, Reg(T::kFloat32)).ok());
  CHECK_FALSE(modbus::DecodeRegisters(w, 1, Reg(T::kUInt32)).ok());  // short
  // A counter point: UInt64 whatever the register width; a negative one is refused.
  CHECK(std::get<uint64_t>(modbus::DecodeRegisters(w, 2, Reg(T::kUInt32, "entries_total")).value()) == 0x00010002u);
  CHECK_FALSE(modbus::DecodeRegisters(neg, 1, Reg(T::kInt16, "entries_total")).ok());
  CHECK(std::get<bool>(modbus::DecodeBit(1, Reg(T::kBool, "occupied")).value()));
}

TEST_CASE("modbus: TCP read requests and the checks of their replies, byte by byte", "[drivers][modbus]") {
  // Read 2 holding registers at 0x0102 from unit 5, transaction 0x1234.
  const auto req = modbus::BuildTcpReadRequest(0x1234, 5, 3, 0x0102, 2);
  const std::array<uint8_t, 12> want_req{0x12, 0x34, 0, 0, 0, 6, 5, 3, 0x01, 0x02, 0, 2};
  CHECK(req == want_req);
  uint16_t words[2] = {0, 0};
  uint8_t bits[16] = {};
  std::vector<uint8_t> ok{0x12, 0x34, 0, 0, 0, 7, 5, 3, 4, 0xAB, 0xCD, 0x00, 0x01};
  REQUIRE(modbus::CheckTcpReadReply(req, ok.data(), ok.size(), words, bits) == 0);
  CHECK(words[0] == 0xABCD);
  CHECK(words[1] == 0x0001);

  // The same reply from unit 7 (another device behind an RS-485 gateway): refused, and
  // the values are not unpacked.
  auto other = ok;
  other[6] = 7;
  words[0] = words[1] = 0;
  CHECK(modbus::CheckTcpReadReply(req, other.data(), other.size(), words, bits) == EMBBADSLAVE);
  CHECK(words[0] == 0);
  // An exception from another unit is not this device's exception either.
  std::vector<uint8_t> exc{0x12, 0x34, 0, 0, 0, 3, 5, 0x83, 2};
  CHECK(modbus::CheckTcpReadReply(req, exc.data(), exc.size(), words, bits) == EMBXILADD);
  exc[6] = 0;
  CHECK(modbus::CheckTcpReadReply(req, exc.data(), exc.size(), words, bits) == EMBBADSLAVE);
  exc[6] = 5;
  exc[8] = 0;  // exception code 0 does not exist
  CHECK(modbus::CheckTcpReadReply(req, exc.data(), exc.size(), words, bits) == EMBBADEXC);

  // What libmodbus checks, still checked: the transaction id, the protocol id; and what
  // it does not: the MBAP length; then the function code and the byte count.
  auto bad = ok;
  bad[1] = 0x35;
  CHECK(modbus::CheckTcpReadReply(req, bad.data(), bad.size(), words, bits) == EMBBADDATA);
  bad = ok;
  bad[3] = 1;  // protocol id 0x0001 (libmodbus 3.1.6 lets this one through: && for ||)
  CHECK(modbus::CheckTcpReadReply(req, bad.data(), bad.size(), words, bits) == EMBBADDATA);
  bad = ok;
  bad[5] = 9;
  CHECK(modbus::CheckTcpReadReply(req, bad.data(), bad.size(), words, bits) == EMBBADDATA);
  bad = ok;
  bad[7] = 4;  // input registers, not holding
  CHECK(modbus::CheckTcpReadReply(req, bad.data(), bad.size(), words, bits) == EMBBADDATA);
  bad = {0x12, 0x34, 0, 0, 0, 5, 5, 3, 2, 0xAB, 0xCD};  // one register of two
  CHECK(modbus::CheckTcpReadReply(req, bad.data(), bad.size(), words, bits) == EMBBADDATA);
  CHECK(modbus::CheckTcpReadReply(req, ok.data(), 8, words, bits) == EMBBADDATA);  // cut short

  // Coils: 10 bits from unit 0, packed low bit first.
  const auto coils = modbus::BuildTcpReadRequest(1, 0, 1, 0, 10);
  std::vector<uint8_t> packed{0, 1, 0, 0, 0, 5, 0, 1, 2, 0b10000101, 0b10};
  REQUIRE(modbus::CheckTcpReadReply(coils, packed.data(), packed.size(), words, bits) == 0);
  const uint8_t want_bits[10] = {1, 0, 1, 0, 0, 0, 0, 1, 0, 1};
  for (int i = 0; i < 10; ++i) CHECK(bits[i] == want_bits[i]);
  packed[6] = 1;
  CHECK(modbus::CheckTcpReadReply(coils, packed.data(), packed.size(), words, bits) == EMBBADSLAVE);
}

TEST_CASE("modbus: reads are planned per table over contiguous addresses", "[drivers][modbus]") {
  using T = ModbusRegisterConfig::Type;
  using Tb = ModbusRegisterConfig::Table;
  std::vector<ModbusRegisterConfig> regs;
  auto add = [&](Tb table, uint32_t addr, T type) {
    auto r = Reg(type);
    r.table = table;
    r.address = addr;
    regs.push_back(r);
  };
  add(Tb::kHolding, 0, T::kUInt32);   // 0-1
  add(Tb::kHolding, 2, T::kUInt32);   // 2-3: joins
  add(Tb::kHolding, 10, T::kUInt16);  // gap: new block
  add(Tb::kInput, 2, T::kUInt16);     // other table
  add(Tb::kCoil, 0, T::kBool);
  add(Tb::kCoil, 1, T::kBool);
  add(Tb::kHolding, 1, T::kUInt16);   // overlaps the first
  auto blocks = modbus::PlanReads(regs);
  REQUIRE(blocks.size() == 4);
  CHECK(blocks[0].table == Tb::kHolding);
  CHECK(blocks[0].address == 0);
  CHECK(blocks[0].count == 4);
  CHECK(blocks[0].entries.size() == 3);
  CHECK(blocks[1].address == 10);
  CHECK(blocks[2].table == Tb::kInput);
  CHECK(blocks[3].table == Tb::kCoil);
  CHECK(blocks[3].count == 2);
  // At most 125 registers per read.
  regs.clear();
  for (uint32_t a = 0; a < 200; ++a) add(Tb::kHolding, a, T::kUInt16);
  blocks = modbus::PlanReads(regs);
  REQUIRE(blocks.size() == 2);
  CHECK(blocks[0].count == 125);
  CHECK(blocks[1].count == 75);
}

TEST_CASE("mqtt: topic filters", "[drivers][mqtt]") {
  using mqtt_subscriber::TopicMatches;
  CHECK(TopicMatches("zigbee2mqtt/+", "zigbee2mqtt/seat-1"));
  CHECK_FALSE(TopicMatches("zigbee2mqtt/+", "zigbee2mqtt/bridge/state"));
  CHECK(TopicMatches("application/+/device/+/event/up", "application/1/device/0102/event/up"));
  CHECK(TopicMatches("a/#", "a"));
  CHECK(TopicMatches("a/#", "a/b/c"));
  CHECK(TopicMatches("#", "x/y"));
  CHECK_FALSE(TopicMatches("#", "$SYS/broker"));
  CHECK_FALSE(TopicMatches("a/+", "a"));
  CHECK(TopicMatches("a/+", "a/"));
  CHECK_FALSE(TopicMatches("a/b", "a/b/c"));
}

TEST_CASE("mqtt: packets", "[drivers][mqtt]") {
  using namespace mqtt_subscriber;
  std::string c = EncodeConnect("gw-1", false, 30, "user", "pw");
  bool bad = false;
  auto h = ParseFixedHeader(c, &bad);
  REQUIRE(h);
  CHECK(h->type == kConnect);
  CHECK(h->header_size + h->remaining == c.size());
  CHECK(EncodePubAck(0x1234) == std::string("\x40\x02\x12\x34", 4));
  // A QoS 1 PUBLISH with a 200-byte payload: two-byte remaining length.
  std::string body = std::string("\x00\x03" "a/b" "\x00\x07", 7) + std::string(200, 'x');
  std::string pkt = std::string(1, char(0x32)) + char(0x80 | (body.size() % 128)) + char(body.size() / 128) + body;
  h = ParseFixedHeader(pkt, &bad);
  REQUIRE(h);
  CHECK(h->remaining == body.size());
  auto p = ParsePublish(h->flags, std::string_view(pkt).substr(h->header_size));
  REQUIRE(p);
  CHECK(p->topic == "a/b");
  CHECK(p->qos == 1);
  CHECK(p->packet_id == 7);
  CHECK(p->payload.size() == 200);
  CHECK_FALSE(ParseFixedHeader(std::string("\x30\xff\xff\xff\xff\x01", 6), &bad));
  CHECK(bad);
  CHECK_FALSE(ParsePublish(0x02, std::string("\x00\x09" "ab", 4)));  // topic longer than the packet
}

TEST_CASE("mqtt: JSON mapping of zigbee2mqtt and ChirpStack messages", "[drivers][mqtt]") {
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
  z.points = {{"occupied", "/occupancy", PointType::kAuto, 1.0, 0}, {"battery", "/battery", PointType::kUInt32, 1.0, 0}};
  c.drivers.mqtt.subscriptions.push_back(z);
  gateway::MqttSubscriptionConfig cs;
  cs.topic = "application/+/device/+/event/up";
  cs.facility = "canteen-1";
  cs.sensor_pointer = "/deviceInfo/deviceName";
  cs.timestamp_pointer = "/time";
  cs.points = {{"entries_total", "/object/entries", PointType::kAuto, 1.0, 0}};
  c.drivers.mqtt.subscriptions.push_back(cs);
  mqtt_subscriber::JsonMapping m(c);

  auto out = m.Map("zigbee2mqtt/seat-1", R"({"occupancy":true,"linkquality":80})", 1000);
  CHECK(out.matched);
  CHECK(out.errors.empty());
  CHECK(out.missing == 1);  // no battery in this update
  REQUIRE(out.readings.size() == 1);
  CHECK(out.readings[0].sensor_id == "seat-1");
  CHECK(std::get<bool>(out.readings[0].value));
  CHECK(out.readings[0].ts_ms == 1000);

  out = m.Map("application/1/device/01/event/up",
              R"({"time":"2023-11-14T22:13:20Z","deviceInfo":{"deviceName":"door-1"},"object":{"entries":7}})", 1000);
  REQUIRE(out.readings.size() == 1);
  CHECK(out.readings[0].sensor_id == "door-1");
  CHECK(out.readings[0].ts_ms == 1700000000000);
  CHECK(std::get<uint64_t>(out.readings[0].value) == 7);

  CHECK(m.Map("zigbee2mqtt/seat-1", "nope", 0).errors.at(0) == "payload is not JSON");
  CHECK(m.Map("zigbee2mqtt/seat-1", R"({"occupancy":"maybe"})", 0).errors.at(0).rfind("/occupancy: ", 0) == 0);
  CHECK(m.Map("zigbee2mqtt/lamp", R"({"occupancy":true})", 0).errors.at(0).find("'lamp' is not an mqtt sensor") !=
        std::string::npos);
  CHECK_FALSE(m.Map("other/x", "{}", 0).matched);
}

TEST_CASE("mqtt: a retained message's readings are marked replayed", "[drivers][mqtt]") {
  using namespace mqtt_subscriber;
  gateway::Config c;
  gateway::FacilityConfig f;
  f.id = "station-1";
  gateway::SensorConfig s;
  s.id = "cord-3";
  s.kind = gateway::SensorKind::kCallButton;
  s.driver = "mqtt";
  f.sensors.push_back(s);
  c.facilities.push_back(f);
  gateway::MqttSubscriptionConfig z;
  z.topic = "zigbee2mqtt/+";
  z.facility = "station-1";
  z.sensor_level = 1;
  z.points = {{"action", "/action", PointType::kString, 1.0, 0}, {"battery", "/battery", PointType::kUInt32, 1.0, 0}};
  c.drivers.mqtt.subscriptions.push_back(z);
  JsonMapping m(c);
  const std::string payload = R"({"action":"emergency","battery":90})";

  // What the broker sends: the same message replayed to a new subscription (RETAIN
  // set) and delivered live (RETAIN clear), both QoS 1; the driver maps each with the
  // flag its PUBLISH carried.
  for (const bool retain : {true, false}) {
    CAPTURE(retain);
    const std::string pkt = EncodePublish("zigbee2mqtt/cord-3", payload, 1, retain, 42);
    bool bad = false;
    auto h = ParseFixedHeader(pkt, &bad);
    REQUIRE(h);
    CHECK((h->flags & 0x01) == (retain ? 1 : 0));
    auto p = ParsePublish(h->flags, std::string_view(pkt).substr(h->header_size, h->remaining));
    REQUIRE(p);
    CHECK(p->retain == retain);
    CHECK(p->packet_id == 42);
    auto out = m.Map(p->topic, p->payload, 5000, p->retain);
    CHECK(out.errors.empty());
    REQUIRE(out.readings.size() == 2);
    for (const auto& r : out.readings) {
      CHECK(r.sensor_id == "cord-3");
      CHECK(r.replayed == retain);
    }
    CHECK(std::get<std::string>(Find(out.readings, "action")->value) == "emergency");
  }
  // The oversize path reads only the head; it carries the flag too.
  auto head = ParsePublishHead(0x03, std::string("\x00\x01" "t" "\x00\x05", 5));
  REQUIRE(head);
  CHECK(head->retain);
  // A reading is fresh unless a driver says otherwise.
  CHECK_FALSE(gateway::Reading{}.replayed);
  CHECK_FALSE(m.Map("zigbee2mqtt/cord-3", payload, 0).readings.at(0).replayed);
}

TEST_CASE("http ingest: body parsing names the bad field", "[drivers][http]") {
  http_ingest::IngestBodyParser p({{"canteen-1", "meal-1"}}, 3);
  auto ok = p.Parse(R"({"facility":"canteen-1","sensor":"meal-1","readings":[{"point":"meals_total","value":5}]})", 42);
  REQUIRE(ok.ok());
  REQUIRE(ok->size() == 1);
  CHECK(ok->at(0).ts_ms == 42);
  CHECK(std::get<uint64_t>(ok->at(0).value) == 5);
  auto msg = [&](const std::string& body) { return p.Parse(body, 42).status().message(); };
  CHECK(msg("{").rfind("body:", 0) == 0);
  CHECK(msg(R"({"readings":[{"facility":"canteen-1","sensor":"meal-1","value":1}]})").rfind("readings[0].point:", 0) == 0);
  CHECK(msg(R"({"readings":[{"facility":"canteen-1","sensor":"x","point":"p","value":1}]})").rfind("readings[0].sensor:", 0) == 0);
  CHECK(msg(R"({"readings":[{"facility":"canteen-1","sensor":"meal-1","point":"p","value":null}]})").rfind("readings[0].value:", 0) == 0);
  CHECK(msg(R"({"readings":[{"facility":"canteen-1","sensor":"meal-1","point":"p","value":1,"type":"int8"}]})").rfind("readings[0].type:", 0) == 0);
  CHECK(msg(R"({"readings":[{"facility":"canteen-1","sensor":"meal-1","point":"online","value":true}]})").rfind("readings[0].point:", 0) == 0);
  CHECK(msg(R"({"readings":[1,2,3,4]})").rfind("readings: 4 readings, at most 3", 0) == 0);
  CHECK(msg(R"({"reading":[]})").rfind("reading: unknown key", 0) == 0);
}

TEST_CASE("http ingest: duplicate keys, deep nesting, long strings and huge batches are refused", "[drivers][http]") {
  http_ingest::IngestBodyParser p({{"canteen-1", "meal-1"}, {"canteen-2", "meal-1"}}, 10);
  auto msg = [&](const std::string& body) { return p.Parse(body, 42).status().message(); };
  // Last-wins would have stored this under canteen-2.
  CHECK(msg(R"({"facility":"canteen-1","facility":"canteen-2","sensor":"meal-1",)"
            R"("readings":[{"point":"meals_total","value":1}]})") == "body: key 'facility' given twice");
  CHECK(msg(R"({"facility":"canteen-1","sensor":"meal-1","readings":[{"point":"p","value":1,"value":2}]})") ==
        "body: key 'value' given twice");
  // The same key in sibling objects is fine.
  CHECK(p.Parse(R"({"sensor":"meal-1","readings":[{"facility":"canteen-1","point":"p","value":1},)"
                R"({"facility":"canteen-2","point":"p","value":2}]})", 42).ok());
  std::string deep = "{\"readings\":[{\"facility\":\"canteen-1\",\"sensor\":\"meal-1\",\"point\":\"p\",\"value\":";
  for (int i = 0; i < 10000; ++i) deep += "[";
  CHECK(msg(deep) == "body: nested deeper than 4 levels");
  const std::string base = R"({"facility":"canteen-1","sensor":"meal-1","readings":[{"point":"status","value":")";
  CHECK(p.Parse(base + std::string(1024, 'x') + "\"}]}", 42).ok());
  CHECK(msg(base + std::string(1024 * 1024, 'x') + "\"}]}") == "body: a string of 1048576 bytes; at most 1024");
  // A batch of many small values: refused before a document of them is built.
  std::string many = R"({"readings":[)";
  for (int i = 0; i < 100000; ++i) many += "0,";
  many += "0]}";
  CHECK(msg(many) == "body: more than 96 values");
}

TEST_CASE("facility model: a driver's online point and 16-bit counter wraps", "[drivers][facility]") {
  gateway::Config c;
  c.timezone = "Asia/Shanghai";
  gateway::FacilityConfig f;
  f.id = "f";
  f.capacity = 10;
  f.timezone = "Asia/Shanghai";
  gateway::SensorConfig door;
  door.id = "door";
  door.driver = "modbus";
  f.sensors.push_back(door);
  c.facilities.push_back(f);
  auto model = gateway::FacilityModel::Create(c);
  REQUIRE(model.ok());
  auto& m = *model.value();
  const int64_t t = 1700000000000;
  std::vector<gateway::Reading> init;
  m.Tick(t, init);
  std::vector<gateway::Reading> out;
  // online + data at one instant: the model announces nothing of its own for online.
  m.Process({Raw("door", "entries_total", uint32_t(65530), t), Raw("door", "online", true, t)}, out);
  CHECK(Find(out, "sensors/door/online") == nullptr);
  out.clear();
  m.Process({Raw("door", "entries_total", uint32_t(4), t + 1000)}, out);  // wrapped at 2^16
  REQUIRE(Find(out, "visits/entries") != nullptr);
  CHECK(std::get<uint64_t>(Find(out, "visits/entries")->value) == 10);
  out.clear();
  m.Process({Raw("door", "entries_total", uint32_t(30000), t + 2000)}, out);
  m.Process({Raw("door", "entries_total", uint32_t(5), t + 3000)}, out);  // a reset, not a wrap
  CHECK(std::get<uint64_t>(Find(out, "visits/entries")->value) == 10 + 29996 + 5);
  // The driver says offline; the model follows and does not flag it again by silence.
  out.clear();
  m.Process({Raw("door", "online", false, t + 4000)}, out);
  CHECK(m.Snapshot()[0].sensors_online == 0);
  out.clear();
  m.Process({Raw("door", "online", true, t + 5000), Raw("door", "entries_total", uint32_t(6), t + 5000)}, out);
  CHECK(m.Snapshot()[0].sensors_online == 1);
  CHECK(Find(out, "sensors/door/online") == nullptr);
}
