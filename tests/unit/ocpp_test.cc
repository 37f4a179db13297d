// Unit tests of the OCPP driver's pure parts: the OCPP-J frame parser, the payload
// validators (CALLERROR codes), the session model (readings of a charge point's
// messages, the transaction book) and the idTag hash; plus the drivers.ocpp config.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "gateway/config.h"
#include "ocpp/id_tag.h"
#include "ocpp/ocpp_protocol.h"
#include "ocpp/ocpp_session.h"

using nlohmann::json;
using namespace ocpp;

namespace {

std::string TestData(const std::string& name) {
  return std::string(TEST_SOURCE_DIR) + "/tests/unit/testdata/config/" + name;
}

std::string CodeOf(std::string_view text) {
  auto r = ParseFrame(text);
  if (auto* e = std::get_if<RpcError>(&r)) return e->code;
  const Frame& f = std::get<Frame>(r);
  if (f.type != MessageType::kCall) return "ok";
  auto bad = ValidateCall(f.id, f.action, f.payload);
  return bad ? bad->code : "ok";
}

const gateway::Reading* Find(const std::vector<gateway::Reading>& rs, const std::string& point) {
  for (const auto& r : rs) {
    if (r.point == point) return &r;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("ocpp frames: CALL, CALLRESULT and CALLERROR parse; broken frames get their CALLERROR", "[ocpp]") {
  auto call = std::get<Frame>(
      ParseFrame(R"([2,"19223201","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}])"));
  CHECK(call.type == MessageType::kCall);
  CHECK(call.id == "19223201");
  CHECK(call.action == "BootNotification");
  CHECK(call.payload["chargePointVendor"] == "V");
  auto res = std::get<Frame>(ParseFrame(R"([3,"a",{"currentTime":"2024-01-01T00:00:00Z"}])"));
  CHECK(res.type == MessageType::kCallResult);
  auto err = std::get<Frame>(ParseFrame(R"([4,"a","NotImplemented","no",{}])"));
  CHECK(err.error_code == "NotImplemented");

  CHECK(std::get<RpcError>(ParseFrame("not json")).id == "-1");
  CHECK(CodeOf("not json") == "FormationViolation");
  CHECK(CodeOf("{}") == "FormationViolation");
  CHECK(CodeOf("[2]") == "FormationViolation");
  CHECK(CodeOf(R"([2,"x","Heartbeat"])") == "FormationViolation");
  CHECK(std::get<RpcError>(ParseFrame(R"([2,"x","Heartbeat"])")).id == "x");
  CHECK(CodeOf(R"([2,"x","Heartbeat",[]])") == "FormationViolation");
  CHECK(CodeOf(R"([2,"","Heartbeat",{}])") == "FormationViolation");
  CHECK(CodeOf(R"([2,"0123456789012345678901234567890123456","Heartbeat",{}])") == "FormationViolation");
  CHECK(CodeOf(R"([7,"x",{}])") == "ProtocolError");
  CHECK(CodeOf(R"([2,"x","Heartbeat",{}])") == "ok");
  CHECK(CodeOf(R"([2,"x","Teleport",{}])") == "NotImplemented");
  CHECK(CodeOf(R"([2,"x","Reset",{"type":"Hard"}])") == "NotSupported");
  CHECK(SerializeCallError({"x", "GenericError", "d"}) == R"([4,"x","GenericError","d",{}])");
  CHECK(SerializeCallResult("x", json::object()) == R"([3,"x",{}])");
}

TEST_CASE("ocpp validators: each kind of schema violation has its OCPP-J 1.6 code", "[ocpp]") {
  auto code = [](const char* action, const char* payload) {
    auto bad = ValidateCall("1", action, json::parse(payload));
    return bad ? bad->code : std::string("ok");
  };
  CHECK(code("BootNotification", R"({"chargePointVendor":"V","chargePointModel":"M"})") == "ok");
  CHECK(code("BootNotification", R"({"chargePointVendor":"V"})") == "OccurenceConstraintViolation");
  CHECK(code("BootNotification", R"({"chargePointVendor":"123456789012345678901","chargePointModel":"M"})") ==
        "PropertyConstraintViolation");
  // maxLength counts characters, not bytes: 20 Chinese characters are fine.
  CHECK(code("BootNotification",
             R"({"chargePointVendor":"充电充电充电充电充电充电充电充电充电充电","chargePointModel":"M"})") == "ok");
  CHECK(code("BootNotification", R"({"chargePointVendor":1,"chargePointModel":"M"})") == "TypeConstraintViolation");
  CHECK(code("BootNotification", R"({"chargePointVendor":"V","chargePointModel":"M","x":1})") == "FormationViolation");
  CHECK(code("StatusNotification", R"({"connectorId":1,"errorCode":"NoError","status":"Charging"})") == "ok");
  CHECK(code("StatusNotification", R"({"connectorId":1.0,"errorCode":"NoError","status":"Charging"})") == "ok");
  CHECK(code("StatusNotification", R"({"connectorId":1.5,"errorCode":"NoError","status":"Charging"})") ==
        "TypeConstraintViolation");
  CHECK(code("StatusNotification", R"({"connectorId":1,"errorCode":"Oops","status":"Charging"})") ==
        "PropertyConstraintViolation");
  CHECK(
      code("StartTransaction", R"({"connectorId":1,"idTag":"T","meterStart":0,"timestamp":"2024-02-30T00:00:00Z"})") ==
      "PropertyConstraintViolation");
  CHECK(code("StartTransaction",
             R"({"connectorId":1,"idTag":"T","meterStart":0,"timestamp":"2024-02-29T23:59:59.5+08:00"})") == "ok");
  CHECK(
      code(
          "MeterValues",
          R"({"connectorId":1,"meterValue":[{"timestamp":"2024-01-01T00:00:00Z","sampledValue":[{"value":"1","measurand":"Voltage"}]}]})") ==
      "ok");
  CHECK(
      code(
          "MeterValues",
          R"({"connectorId":1,"meterValue":[{"timestamp":"2024-01-01T00:00:00Z","sampledValue":[{"value":"1","measurand":"Volts"}]}]})") ==
      "PropertyConstraintViolation");
  CHECK(code("StopTransaction",
             R"({"transactionId":1,"meterStop":5,"timestamp":"2024-01-01T00:00:00Z","reason":"DeAuthorized"})") ==
        "ok");
  CHECK(code("DataTransfer", R"({"vendorId":"v","data":"anything"})") == "ok");
  CHECK(code("Heartbeat", R"({})") == "ok");
  CHECK(code("Heartbeat", R"({"a":null})") == "FormationViolation");
}

TEST_CASE("ocpp date-time: RFC 3339 to epoch ms and back", "[ocpp]") {
  CHECK(ParseDateTime("1970-01-01T00:00:00Z") == 0);
  CHECK(ParseDateTime("2024-03-04T08:00:00.250Z") == 1709539200250);
  CHECK(ParseDateTime("2024-03-04T16:00:00+08:00") == 1709539200000);
  CHECK_FALSE(ParseDateTime("2024-03-04 08:00:00Z"));
  CHECK_FALSE(ParseDateTime("2024-03-04T08:00:00"));
  CHECK_FALSE(ParseDateTime("2023-02-29T08:00:00Z"));
  CHECK(FormatDateTime(1709539200250) == "2024-03-04T08:00:00.250Z");
}

TEST_CASE("ocpp idTag hash: 32 hex chars, stable per salt, salt kept 0600 in the data dir", "[ocpp]") {
  IdTagHasher a("salt-one-0123456789"), b("salt-two-0123456789");
  const std::string h = a.Hash("CARD0042");
  CHECK(h.size() == 32);
  CHECK(h.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(a.Hash("CARD0042") == h);
  CHECK(b.Hash("CARD0042") != h);
  CHECK(a.Hash("CARD0043") != h);
  auto dir = std::filesystem::temp_directory_path() / ("ocpp-salt-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto first = IdTagHasher::Load("", dir.string());
  REQUIRE(first.ok());
  auto again = IdTagHasher::Load("", dir.string());
  REQUIRE(again.ok());
  CHECK(first->Hash("X") == again->Hash("X"));
  auto perms = std::filesystem::status(dir / "ocpp-id-tag-salt").permissions();
  CHECK((perms & std::filesystem::perms::all) ==
        (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));
  CHECK(IdTagHasher::Load("configured-salt-123", dir.string())->Hash("X") ==
        IdTagHasher("configured-salt-123").Hash("X"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("ocpp session: status, meter values, a transaction and its row", "[ocpp]") {
  const int64_t now = 1709539200000;
  ChargePointModel m("CP-1", "charging-1", "CP-1", 2,
                     [](const std::string& t) { return "hash-of-" + std::string(t.size(), '*'); });
  TransactionBook book(100);
  auto e = m.OnCall("StatusNotification", json{{"connectorId", 1}, {"errorCode", "NoError"}, {"status", "Charging"}},
                    json::object(), now, book);
  REQUIRE(e.readings.size() == 1);
  CHECK(e.readings[0].point == "connector/1/status");
  CHECK(std::get<std::string>(e.readings[0].value) == "Charging");
  CHECK(e.readings[0].sensor_id == "CP-1");
  // Connector 0: Faulted applies to every connector, Available to none.
  CHECK(m.OnCall("StatusNotification", json{{"connectorId", 0}, {"errorCode", "NoError"}, {"status", "Faulted"}},
                 json::object(), now, book)
            .readings.size() == 2);
  CHECK(m.OnCall("StatusNotification", json{{"connectorId", 0}, {"errorCode", "NoError"}, {"status", "Available"}},
                 json::object(), now, book)
            .readings.empty());
  CHECK(m.OnCall("StatusNotification", json{{"connectorId", 3}, {"errorCode", "NoError"}, {"status", "Available"}},
                 json::object(), now, book)
            .readings.empty());

  const int32_t tx = book.Allocate();
  CHECK(tx == 100);
  CHECK(book.Allocate() == 101);
  e = m.OnCall(
      "StartTransaction",
      json{{"connectorId", 2}, {"idTag", "SECRET"}, {"meterStart", 1500}, {"timestamp", "2024-03-04T07:59:00Z"}},
      json{{"transactionId", tx}}, now, book);
  CHECK(e.book_changed);
  CHECK(std::get<int32_t>(Find(e.readings, "connector/2/transaction_id")->value) == tx);
  CHECK(std::get<double>(Find(e.readings, "connector/2/energy_kwh")->value) == 1.5);
  CHECK(Find(e.readings, "connector/2/energy_kwh")->ts_ms == now - 60000);
  CHECK(book.Find(tx) != nullptr);
  CHECK(m.transaction_on(2) == tx);

  json mv = {
      {"connectorId", 2},
      {"transactionId", tx},
      {"meterValue",
       json::array({json{
           {"timestamp", "2024-03-04T08:00:00Z"},
           {"sampledValue", json::array({json{{"value", "2300"}, {"measurand", "Power.Active.Import"}, {"phase", "L1"}},
                                         json{{"value", "2200"}, {"measurand", "Power.Active.Import"}, {"phase", "L2"}},
                                         json{{"value", "2.75"}, {"unit", "kWh"}},
                                         json{{"value", "230"}, {"measurand", "Voltage"}}})}}})}};
  e = m.OnCall("MeterValues", mv, json::object(), now, book);
  REQUIRE(e.readings.size() == 2);
  CHECK(std::get<float>(Find(e.readings, "connector/2/power_kw")->value) == Approx(4.5));
  CHECK(std::get<double>(Find(e.readings, "connector/2/energy_kwh")->value) == 2.75);

  e = m.OnCall("StopTransaction",
               json{{"transactionId", tx}, {"meterStop", 9500}, {"timestamp", "2024-03-04T08:00:00Z"}}, json::object(),
               now, book);
  CHECK(e.book_changed);
  CHECK(book.Find(tx) == nullptr);
  const auto* row = Find(e.readings, "connector/2/transaction");
  REQUIRE(row);
  const auto& ds = std::get<gateway::DataSet>(row->value);
  CHECK(ds.columns == std::vector<std::string>{"transaction_id", "start_ms", "stop_ms", "meter_start_kwh",
                                               "meter_stop_kwh", "energy_kwh", "stop_reason", "id_tag_hash"});
  CHECK(ds.types == std::vector<gateway::DataType>{gateway::DataType::kInt32, gateway::DataType::kInt64,
                                                   gateway::DataType::kInt64, gateway::DataType::kDouble,
                                                   gateway::DataType::kDouble, gateway::DataType::kDouble,
                                                   gateway::DataType::kString, gateway::DataType::kString});
  REQUIRE(ds.rows.size() == 1);
  CHECK(std::get<int32_t>(ds.rows[0][0]) == tx);
  CHECK(std::get<int64_t>(ds.rows[0][1]) == now - 60000);
  CHECK(std::get<int64_t>(ds.rows[0][2]) == now);
  CHECK(std::get<double>(ds.rows[0][5]) == 8.0);
  CHECK(std::get<std::string>(ds.rows[0][6]) == "Local");
  CHECK(std::get<std::string>(ds.rows[0][7]) == "hash-of-******");
  CHECK(std::get<int32_t>(Find(e.readings, "connector/2/transaction_id")->value) == 0);
  CHECK(m.transaction_on(2) == 0);
  // A second stop of the same transaction gives no second row.
  e = m.OnCall("StopTransaction",
               json{{"transactionId", tx}, {"meterStop", 9500}, {"timestamp", "2024-03-04T08:00:00Z"}}, json::object(),
               now, book);
  CHECK(Find(e.readings, "connector/2/transaction") == nullptr);
  // Implausible charge point clocks give way to the arrival time.
  CHECK(PlausibleTime(json("1999-01-01T00:00:00Z"), now) == now);
  CHECK(PlausibleTime(json("2024-03-04T09:00:00Z"), now) == now);
}

TEST_CASE("ocpp transaction book: saved and read back; ids keep growing", "[ocpp]") {
  TransactionBook book(500);
  const int32_t id = book.Allocate();
  book.Open({id, "CP-1", 1, 1000, 2.5, "abc"});
  auto back = TransactionBook::FromJson(book.ToJson());
  REQUIRE(back);
  CHECK(back->next_id() == 501);
  REQUIRE(back->Find(id));
  CHECK(back->Find(id)->meter_start_kwh == 2.5);
  CHECK(back->Find(id)->charge_point == "CP-1");
  CHECK_FALSE(TransactionBook::FromJson("garbage"));
}

TEST_CASE("ocpp config: values, defaults and charge points derived from the sensors", "[config][ocpp]") {
  auto load = gateway::LoadConfig(TestData("ocpp_ok.yaml"));
  INFO((load.errors.empty() ? std::string() : load.errors[0].ToString()));
  REQUIRE(load.ok());
  const auto& o = load.config.drivers.ocpp;
  CHECK(o.enabled);
  CHECK(o.listen == "127.0.0.1");
  CHECK(o.port == 9100);
  CHECK(o.heartbeat_interval_s == 120);
  CHECK_FALSE(o.authorize_any);
  CHECK(o.id_tags == std::vector<std::string>{"CARD0001", "CARD0002"});
  CHECK(o.max_frame_bytes == 65536);
  REQUIRE(o.charge_points.size() == 2);
  CHECK(o.charge_points[0].id == "CP-B");
  CHECK(o.charge_points[0].sensor == "pile-b");
  CHECK(o.charge_points[0].facility == "charging-1");
  CHECK(o.charge_points[0].upstream == "wss://csms.example.com/ocpp");
  CHECK(o.charge_points[1].id == "CP-A");  // from the sensor, no password (loopback)
  CHECK(o.charge_points[1].password.empty());
}

TEST_CASE("ocpp config: every mistake at its line, naming the key", "[config][ocpp]") {
  const std::string file = TestData("ocpp_bad.yaml");
  auto load = gateway::LoadConfig(file);
  CHECK_FALSE(load.ok());
  std::string all;
  for (const auto& e : load.errors) all += e.ToString() + "\n";
  INFO(all);
  const std::pair<std::string, const char*> wants[] = {
      {":13: drivers.ocpp.port: must be between 0 and 65535", ""},
      {":14: drivers.ocpp.cert_file: TLS (security profile 2) needs both", ""},
      {":15: drivers.ocpp.authorize: expected 'any' or a list of idTags", ""},
      {":16: drivers.ocpp.id_tag_salt: too short", ""},
      {":17: drivers.ocpp.upstream: must start with ws:// or wss://", ""},
      {":18: drivers.ocpp.max_frame_bytes: must be between 1024", ""},
      {":20: drivers.ocpp.charge_points[0].id: 'CP/9': printable ASCII without '/'", ""},
      {":20: drivers.ocpp.charge_points[0].password: required when listening on 0.0.0.0", ""},
      {":21: drivers.ocpp.charge_points[1].sensor: no charge_point sensor 'nothing'", ""},
  };
  for (const auto& [want, _] : wants) {
    CHECK(all.find(file + want) != std::string::npos);
  }
}
