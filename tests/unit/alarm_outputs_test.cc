// The escalation outputs' pure parts: the webhook's URL and body, the coil's wanted state
// (with a fake writer in place of the Modbus driver), the FC05 frame and the checks of its
// reply, and the status page's alarm list and metrics. The outputs against real peers:
// tests/integration/test_alarm_outputs.py.
#include <catch2/catch.hpp>
#include <modbus.h>

#include <nlohmann/json.hpp>

#include "alarm/coil_output.h"
#include "alarm/webhook_output.h"
#include "modbus/tcp_frame.h"
#include "web/alarm_view.h"

using gateway::Alarm;
using gateway::AlarmState;

namespace {

Alarm MakeAlarm(const std::string& id, AlarmState state, bool test = false) {
  Alarm a;
  a.id = id;
  a.facility_id = "station-1";
  a.sensor_id = id.substr(0, id.find('-', 5));
  a.location = "Room 3";
  a.kind = "call";
  a.test = test;
  a.state = state;
  a.raised_ms = 1700000000000;
  if (state != AlarmState::kRaised) a.escalated_ms = 1700000060000;
  return a;
}

}  // namespace

TEST_CASE("alarm webhook: URLs", "[alarm]") {
  using gateway::alarm::ParseWebhookUrl;
  auto u = ParseWebhookUrl("http://192.168.1.20:8099/duty/alarm?key=k1");
  REQUIRE(u.ok());
  CHECK_FALSE(u.value().tls);
  CHECK(u.value().host == "192.168.1.20");
  CHECK(u.value().port == "8099");
  CHECK(u.value().target == "/duty/alarm?key=k1");
  CHECK(u.value().ForLog() == "http://192.168.1.20:8099/duty/alarm");  // no query in logs
  u = ParseWebhookUrl("HTTPS://phone.lan");
  REQUIRE(u.ok());
  CHECK(u.value().tls);
  CHECK(u.value().port == "443");
  CHECK(u.value().target == "/");
  u = ParseWebhookUrl("http://[fd00::5]:81/x#frag");
  REQUIRE(u.ok());
  CHECK(u.value().host == "fd00::5");
  CHECK(u.value().port == "81");
  CHECK(u.value().target == "/x");
  u = ParseWebhookUrl("http://h?x=1");
  REQUIRE(u.ok());
  CHECK(u.value().target == "/?x=1");
  for (const char* bad : {"ftp://h/", "h:80/", "http://", "http://:80/", "http://u:p@h/", "http://h:0/",
                          "http://h:65536/", "http://h:8o/", "http://[fd00::5/", "http://h/a b"}) {
    CAPTURE(bad);
    CHECK_FALSE(ParseWebhookUrl(bad).ok());
  }
}

TEST_CASE("alarm webhook: the body of an event", "[alarm]") {
  Alarm a = MakeAlarm("cord-1-1700000000000", AlarmState::kAcknowledged);
  a.presses = 4;
  a.acknowledged_ms = 1700000090000;
  a.acknowledged_by = "王芳";
  auto j = nlohmann::json::parse(gateway::alarm::WebhookBody("acknowledged", a, "华漕驿站"));
  CHECK(j["event"] == "acknowledged");
  CHECK(j["alarm"]["id"] == "cord-1-1700000000000");
  CHECK(j["alarm"]["facility_name"] == "华漕驿站");
  CHECK(j["alarm"]["presses"] == 4);
  CHECK(j["alarm"]["escalated_ms"] == 1700000060000);
  CHECK(j["alarm"]["acknowledged_by"] == "王芳");
  CHECK(j["alarm"].size() == 12);
  // No facility name: the key is left out; bad UTF-8 from a DCMD is replaced, not thrown.
  a.acknowledged_by = "\xff\xfe";
  j = nlohmann::json::parse(gateway::alarm::WebhookBody("acknowledged", a, ""));
  CHECK_FALSE(j["alarm"].contains("facility_name"));
  CHECK(j["alarm"].size() == 11);
}

TEST_CASE("alarm coil: ON while any real alarm is escalated, OFF when none is", "[alarm]") {
  gateway::AlarmEscalationConfig cfg;
  cfg.coil_device = "io-1";
  cfg.coil_address = 7;
  std::vector<std::tuple<std::string, uint32_t, bool>> writes;
  gateway::alarm::CoilOutput coil(cfg, [&](const std::string& d, uint32_t a, bool on) {
    writes.emplace_back(d, a, on);
    return gateway::Status::Ok();
  });
  // Start-up: one escalated alarm from the buffer: ON at once.
  REQUIRE(coil.Start({MakeAlarm("cord-1-1", AlarmState::kEscalated), MakeAlarm("cord-2-2", AlarmState::kRaised)}).ok());
  REQUIRE(writes.size() == 1);
  CHECK(writes[0] == std::make_tuple(std::string("io-1"), 7u, true));
  coil.OnAlarmChanged(MakeAlarm("cord-2-2", AlarmState::kEscalated));  // still ON: no write
  coil.OnAlarmChanged(MakeAlarm("cord-9-9", AlarmState::kEscalated, /*test=*/true));
  CHECK(writes.size() == 1);
  coil.OnAlarmChanged(MakeAlarm("cord-1-1", AlarmState::kAcknowledged));
  CHECK(writes.size() == 1);
  CHECK(coil.on());
  coil.OnAlarmChanged(MakeAlarm("cord-2-2", AlarmState::kAcknowledged));
  REQUIRE(writes.size() == 2);
  CHECK_FALSE(std::get<2>(writes[1]));
  CHECK_FALSE(coil.on());
  CHECK(coil.switches() == 1);
  coil.OnAlarmChanged(MakeAlarm("cord-2-2", AlarmState::kAcknowledged));  // a repeated acknowledgement
  CHECK(writes.size() == 2);

  // Nothing escalated at start-up: OFF is written anyway (a coil left ON by a crash).
  writes.clear();
  gateway::alarm::CoilOutput fresh(cfg, [&](const std::string& d, uint32_t a, bool on) {
    writes.emplace_back(d, a, on);
    return gateway::Status::Ok();
  });
  REQUIRE(fresh.Start({}).ok());
  REQUIRE(writes.size() == 1);
  CHECK_FALSE(std::get<2>(writes[0]));
  // A device the driver does not know: Start says so.
  gateway::alarm::CoilOutput unknown(cfg, [](const std::string&, uint32_t, bool) {
    return gateway::Status::NotFound("no Modbus device 'io-1'");
  });
  CHECK_FALSE(unknown.Start({}).ok());
  // No coil configured: nothing is written, ever.
  gateway::AlarmEscalationConfig none;
  gateway::alarm::CoilOutput off(none, [&](const std::string& d, uint32_t a, bool on) {
    writes.emplace_back(d, a, on);
    return gateway::Status::Ok();
  });
  writes.clear();
  REQUIRE(off.Start({MakeAlarm("cord-1-1", AlarmState::kEscalated)}).ok());
  off.OnAlarmChanged(MakeAlarm("cord-3-3", AlarmState::kEscalated));
  CHECK(writes.empty());
}

TEST_CASE("modbus: the FC05 coil write and the checks of its reply", "[alarm][modbus]") {
  auto on = modbus::BuildTcpWriteCoilRequest(0x0102, 9, 0x0013, true);
  CHECK(std::vector<uint8_t>(on.begin(), on.end()) ==
        std::vector<uint8_t>{0x01, 0x02, 0, 0, 0, 6, 9, 0x05, 0x00, 0x13, 0xFF, 0x00});
  auto off = modbus::BuildTcpWriteCoilRequest(7, 1, 0, false);
  CHECK(off[10] == 0x00);
  CHECK(off[11] == 0x00);
  // The echo is the success.
  CHECK(modbus::CheckTcpWriteCoilReply(on, on.data(), on.size()) == 0);
  auto rsp = on;
  rsp[10] = 0x00;  // the device reports the coil OFF: not what was asked
  CHECK(modbus::CheckTcpWriteCoilReply(on, rsp.data(), rsp.size()) == EMBBADDATA);
  rsp = on;
  rsp[1] = 0x03;  // another transaction
  CHECK(modbus::CheckTcpWriteCoilReply(on, rsp.data(), rsp.size()) == EMBBADDATA);
  rsp = on;
  rsp[6] = 4;  // another unit
  CHECK(modbus::CheckTcpWriteCoilReply(on, rsp.data(), rsp.size()) == EMBBADSLAVE);
  const uint8_t exc[] = {0x01, 0x02, 0, 0, 0, 3, 9, 0x85, 0x02};  // illegal data address
  CHECK(modbus::CheckTcpWriteCoilReply(on, exc, sizeof exc) == EMBXILADD);
  const uint8_t bad_exc[] = {0x01, 0x02, 0, 0, 0, 3, 9, 0x85, 0x00};
  CHECK(modbus::CheckTcpWriteCoilReply(on, bad_exc, sizeof bad_exc) == EMBBADEXC);
  CHECK(modbus::CheckTcpWriteCoilReply(on, on.data(), 8) == EMBBADDATA);  // short
  const uint8_t wrong_len[] = {0x01, 0x02, 0, 0, 0, 9, 9, 0x05, 0x00, 0x13, 0xFF, 0x00};
  CHECK(modbus::CheckTcpWriteCoilReply(on, wrong_len, sizeof wrong_len) == EMBBADDATA);
}

TEST_CASE("status page: the alarms banner's order and the alarm metrics", "[alarm][web]") {
  gateway::Config config;
  gateway::FacilityConfig f;
  f.id = "station-1";
  f.name = "Huacao";
  config.facilities.push_back(f);
  Alarm old_raised = MakeAlarm("cord-1-1", AlarmState::kRaised);
  old_raised.raised_ms = 1000;
  Alarm new_raised = MakeAlarm("cord-2-2", AlarmState::kRaised);
  new_raised.raised_ms = 5000;
  Alarm esc = MakeAlarm("cord-3-3", AlarmState::kEscalated);
  esc.raised_ms = 500;
  Alarm test = MakeAlarm("cord-4-4", AlarmState::kRaised, true);
  test.raised_ms = 9000;
  Alarm done = MakeAlarm("cord-5-5", AlarmState::kAcknowledged);
  auto j = gateway::web::AlarmsJson({test, old_raised, done, new_raised, esc}, config, 65500);
  REQUIRE(j.size() == 4);  // the acknowledged one is not open
  CHECK(j[0]["id"] == "cord-3-3");
  CHECK(j[1]["id"] == "cord-2-2");
  CHECK(j[2]["id"] == "cord-1-1");
  CHECK(j[3]["id"] == "cord-4-4");
  CHECK(j[0]["state"] == "escalated");
  CHECK(j[0]["open_s"] == 65);  // (65500 - 500) / 1000
  CHECK(j[3]["test"] == true);
  CHECK(j[1]["facility_name"] == "Huacao");

  gateway::web::AlarmOutputCounters c;
  c.coil_enabled = true;
  c.coil_on = true;
  c.coil_writes = 3;
  const std::string t = gateway::web::AlarmMetricsText({test, old_raised, new_raised, esc, done}, c);
  CHECK(t.find("gateway_alarms_open{facility=\"station-1\",state=\"raised\",test=\"false\"} 2\n") != std::string::npos);
  CHECK(t.find("gateway_alarms_open{facility=\"station-1\",state=\"escalated\",test=\"false\"} 1\n") !=
        std::string::npos);
  CHECK(t.find("gateway_alarms_open{facility=\"station-1\",state=\"raised\",test=\"true\"} 1\n") != std::string::npos);
  CHECK(t.find("gateway_alarm_coil_on 1\n") != std::string::npos);
  CHECK(t.find("gateway_alarm_coil_writes_total 3\n") != std::string::npos);
  CHECK(t.find("webhook") == std::string::npos);  // not configured: not listed
}
