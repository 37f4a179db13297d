// Emergency calls: which readings the facility model calls presses (call_button.cc,
// alarm_point.cc), how the AlarmBook folds, escalates and acknowledges them
// (alarm/alarm_book.h), the alarms' rows in the buffer (store/alarm_store.h), and the
// uplink's alarm lane: its metrics, its window and the acknowledging DCMD
// (uplink/alarm_lane.h). Expected values follow docs/wire-format.md, "Alarms".
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>

#include "alarm/alarm_book.h"
#include "codec/sparkplug_codec.h"
#include "core/facility_model.h"
#include "gateway/config.h"
#include "store/alarm_store.h"
#include "store/migrations.h"
#include "store/sqlite_db.h"
#include "uplink/alarm_lane.h"

using namespace gateway;
namespace fs = std::filesystem;

namespace {

constexpr int64_t kSec = 1000;
constexpr int64_t kT0 = 1710477000000;  // 2024-03-15 12:30 CST, a Friday

Config CallConfig() {
  Config c;
  c.timezone = "Asia/Shanghai";
  FacilityConfig f;
  f.id = "station-1";
  f.type = FacilityType::kElderlyStation;
  f.capacity = 30;
  SensorConfig b;
  b.id = "cord-1";
  b.kind = SensorKind::kCallButton;
  b.driver = "test";
  b.location = "room 3";
  // Fridays 12:00-12:15 local: the weekly test of the cords.
  OpeningPeriod test;
  test.weekdays_mask = 1 << 4;
  test.open_minute = 12 * 60;
  test.close_minute = 12 * 60 + 15;
  b.test_hours = {test};
  f.sensors.push_back(b);
  SensorConfig radar;
  radar.id = "radar-1";
  radar.kind = SensorKind::kOccupancy;
  radar.driver = "test";
  f.sensors.push_back(radar);
  c.facilities.push_back(f);
  return c;
}

Reading Raw(const std::string& sensor, const std::string& point, Value v, int64_t ts, bool replayed = false) {
  Reading r;
  r.facility_id = "station-1";
  r.sensor_id = sensor;
  r.point = point;
  r.value = std::move(v);
  r.ts_ms = ts;
  r.replayed = replayed;
  return r;
}

std::vector<AlarmPress> Presses(FacilityModel& m, std::vector<Reading> raw) {
  std::vector<Reading> out;
  std::vector<AlarmPress> presses;
  m.Process(raw, out, &presses);
  return presses;
}

AlarmPress Press(int64_t ts, bool test = false, const std::string& sensor = "cord-1") {
  return AlarmPress{"station-1", sensor, "room 3", "call", test, false, ts};
}

struct Recorder : AlarmListener {
  std::vector<Alarm> seen;
  void OnAlarmChanged(const Alarm& a) override { seen.push_back(a); }
};

AlarmsConfig Windows(double repeat_s = 60, double escalate_s = 60) {
  AlarmsConfig a;
  a.repeat_window_s = repeat_s;
  a.escalate_after_s = escalate_s;
  return a;
}

}  // namespace

TEST_CASE("call buttons: an action is a press, a held state presses once, test actions and hours are tests") {
  auto m = FacilityModel::Create(CallConfig()).value();
  const int64_t t = kT0 + 3600 * kSec;  // 13:30 local: outside the test hours

  auto p = Presses(*m, {Raw("cord-1", "action", std::string("emergency"), t)});
  REQUIRE(p.size() == 1);
  CHECK(p[0].sensor_id == "cord-1");
  CHECK(p[0].location == "room 3");
  CHECK(p[0].kind == "call");
  CHECK_FALSE(p[0].test);
  CHECK(p[0].ts_ms == t);

  // A remote's other keys are not calls; its own test key is a test press.
  CHECK(Presses(*m, {Raw("cord-1", "action", std::string("arm_all_zones"), t + kSec)}).empty());
  p = Presses(*m, {Raw("cord-1", "action", std::string("test"), t + 2 * kSec)});
  REQUIRE(p.size() == 1);
  CHECK(p[0].test);

  // A polled input held for three polls is one press; released and pulled again, another.
  p = Presses(*m, {Raw("cord-1", "pressed", false, t + 10 * kSec), Raw("cord-1", "pressed", true, t + 11 * kSec),
                   Raw("cord-1", "pressed", true, t + 12 * kSec), Raw("cord-1", "pressed", true, t + 13 * kSec)});
  CHECK(p.size() == 1);
  CHECK_FALSE(m->MayRaiseAlarm(Raw("cord-1", "pressed", true, t + 14 * kSec)));  // still held
  CHECK(m->MayRaiseAlarm(Raw("cord-1", "action", std::string("sos"), t + 14 * kSec)));
  p = Presses(*m, {Raw("cord-1", "pressed", false, t + 20 * kSec), Raw("cord-1", "pressed", true, t + 21 * kSec)});
  CHECK(p.size() == 1);

  // Within Friday 12:00-12:15 local (04:00-04:15 UTC) every press is a test.
  const int64_t in_test_hours = kT0 - 20 * 60 * kSec;  // 12:10 local
  p = Presses(*m, {Raw("cord-1", "action", std::string("emergency"), in_test_hours)});
  REQUIRE(p.size() == 1);
  CHECK(p[0].test);

  // A retained message replayed by the broker is a phantom.
  p = Presses(*m, {Raw("cord-1", "action", std::string("emergency"), t + 30 * kSec, true)});
  REQUIRE(p.size() == 1);
  CHECK(p[0].phantom);
}

TEST_CASE("alarm points: alarm/{name} on any sensor raises on its rising edge") {
  auto m = FacilityModel::Create(CallConfig()).value();
  auto p = Presses(*m, {Raw("radar-1", "alarm/fall", false, kT0), Raw("radar-1", "alarm/fall", true, kT0 + kSec),
                        Raw("radar-1", "alarm/fall", true, kT0 + 2 * kSec)});
  REQUIRE(p.size() == 1);
  CHECK(p[0].kind == "fall");
  CHECK(p[0].sensor_id == "radar-1");
  // The state is saved with the model: after a restart a held alarm is not a new press.
  auto m2 = FacilityModel::Create(CallConfig()).value();
  REQUIRE(m2->LoadState(m->SaveState()).ok());
  CHECK(Presses(*m2, {Raw("radar-1", "alarm/fall", true, kT0 + 3 * kSec)}).empty());
}

TEST_CASE("alarm book: repeats fold within the window, a press after the acknowledgement is a new call") {
  AlarmBook book(Windows(60, 60), 86400 * kSec);
  Recorder rec;
  book.AddListener(&rec);
  book.Apply({Press(kT0), Press(kT0 + 2 * kSec), Press(kT0 + 2 * kSec)});  // the last: delivered twice
  REQUIRE(book.HasChanges());
  CHECK(rec.seen.empty());  // nothing is told before the commit
  auto rows = book.Unwritten();
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].id == "cord-1-" + std::to_string(kT0));
  CHECK(rows[0].presses == 2);
  CHECK(book.stats().folded == 1);
  CHECK(book.stats().redelivered == 1);
  book.Committed(kT0 + 3 * kSec);
  REQUIRE(rec.seen.size() == 1);
  CHECK(rec.seen[0].state == AlarmState::kRaised);

  // While it is open, a press 5 minutes later still folds into it (the same call).
  book.Apply({Press(kT0 + 300 * kSec)});
  CHECK(book.Unwritten().at(0).presses == 3);
  book.Committed(kT0 + 300 * kSec);

  Alarm a;
  REQUIRE(book.Acknowledge("station-1", rows[0].id, "duty", kT0 + 310 * kSec, &a) ==
          AlarmBook::AckResult::kAcknowledged);
  CHECK(a.acknowledged_ms == kT0 + 310 * kSec);
  CHECK(a.acknowledged_by == "duty");
  CHECK(book.Acknowledge("station-1", rows[0].id, "duty", kT0 + 311 * kSec, &a) == AlarmBook::AckResult::kAlready);
  CHECK(book.Acknowledge("station-1", "nope", "", kT0, nullptr) == AlarmBook::AckResult::kUnknown);
  book.Committed(kT0 + 311 * kSec);
  CHECK(book.Open().empty());

  // A press after the acknowledgement is a new call, though within 60 s of the last press.
  book.Apply({Press(kT0 + 320 * kSec)});
  auto next = book.Unwritten();
  REQUIRE(next.size() == 1);
  CHECK(next[0].id == "cord-1-" + std::to_string(kT0 + 320 * kSec));
  CHECK(next[0].presses == 1);
}

TEST_CASE("alarm book: a real press never folds into a test alarm; tests never escalate") {
  AlarmBook book(Windows(60, 60), 86400 * kSec);
  book.Apply({Press(kT0, true), Press(kT0 + kSec, false)});
  book.Committed(kT0 + kSec);
  auto open = book.Open();
  REQUIRE(open.size() == 2);
  CHECK(open[0].test);
  CHECK_FALSE(open[1].test);
  book.Escalate(kT0 + 60 * kSec);  // the real one was raised 59 s before
  CHECK_FALSE(book.HasChanges());
  book.Escalate(kT0 + 61 * kSec);
  auto rows = book.Unwritten();
  REQUIRE(rows.size() == 1);
  CHECK_FALSE(rows[0].test);
  CHECK(rows[0].state == AlarmState::kEscalated);
  CHECK(rows[0].escalated_ms == kT0 + 61 * kSec);
  CHECK(book.stats().tests == 1);
  CHECK(book.stats().raised == 1);
  CHECK(book.stats().escalated == 1);
}

TEST_CASE("alarm book: phantoms are counted and raise nothing") {
  AlarmBook book(Windows(), 86400 * kSec);
  AlarmPress p = Press(kT0);
  p.phantom = true;
  book.Apply({p});
  CHECK_FALSE(book.HasChanges());
  CHECK(book.stats().phantoms == 1);
  CHECK(book.Open().empty());
}

TEST_CASE("alarm store: rows survive a reopen; the book resumes open and unpublished alarms") {
  const fs::path dir = fs::temp_directory_path() / ("alarm_store_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string path = (dir / "buffer.db").string();
  {
    store::SqliteDb db;
    REQUIRE(db.Open(path).ok());
    REQUIRE(store::MigrateTo(db, store::LatestSchemaVersion()).ok());
    AlarmBook book(Windows(), 86400 * kSec);
    book.Apply({Press(kT0), Press(kT0 + 100 * kSec, false, "cord-2")});
    REQUIRE(store::WriteAlarms(db, book.Unwritten()).ok());
    book.Committed(kT0);
    Alarm a;
    book.Acknowledge("station-1", "cord-2-" + std::to_string(kT0 + 100 * kSec), "x", kT0 + 200 * kSec, &a);
    book.MarkPublished("station-1", a.id, a.version);
    REQUIRE(store::WriteAlarms(db, book.Unwritten()).ok());
  }
  store::SqliteDb db;
  REQUIRE(db.Open(path).ok());
  auto stored = store::ReadAlarmsToResume(db, kT0 + 86400 * kSec);  // older ones only when open/unpublished/latest
  REQUIRE(stored.ok());
  REQUIRE(stored->size() == 2);  // cord-1's is open; cord-2's is its sensor's latest
  AlarmBook book(Windows(), 86400 * kSec);
  book.Resume(stored.value());
  REQUIRE(book.Open().size() == 1);
  CHECK(book.Open()[0].sensor_id == "cord-1");
  const auto unpublished = book.Unpublished();
  REQUIRE(unpublished.size() == 1);  // cord-1's raise was never acknowledged by a broker
  CHECK(unpublished[0].sensor_id == "cord-1");
  // A press of cord-2 delivered again after the restart is recognised.
  book.Apply({Press(kT0 + 100 * kSec, false, "cord-2")});
  CHECK_FALSE(book.HasChanges());
  auto raised = store::ReadAlarmsRaised(db, "station-1", kT0, kT0 + 101 * kSec);
  REQUIRE(raised.ok());
  CHECK(raised->size() == 2);
  fs::remove_all(dir);
}

TEST_CASE("alarm lane: metrics of a change, its window, and a connection reset") {
  Config c = CallConfig();
  uplink::AlarmLane lane(c);
  Alarm a;
  a.id = "cord-1-1";
  a.facility_id = "station-1";
  a.sensor_id = "cord-1";
  a.location = "room 3";
  a.kind = "call";
  a.raised_ms = a.last_press_ms = kT0;
  a.version = 1;
  lane.Enqueue(a, false);
  lane.Enqueue(a, true);  // a re-announcement of a queued change adds nothing
  REQUIRE(lane.CanSend());
  auto item = lane.TakeNext();
  CHECK_FALSE(lane.HasQueued());
  auto m = lane.ChangeMetrics(item, 1, kT0 + 5 * kSec, false);
  REQUIRE(m.size() == 4);
  CHECK(m[0].name == "alarms/cord-1/active");
  CHECK(std::get<bool>(m[0].value));
  CHECK(m[0].timestamp_ms == uint64_t(kT0));  // stamped at the press
  CHECK(m[2].name == "alarms/open");
  CHECK(std::get<uint32_t>(m[2].value) == 1);
  const auto& ds = std::get<DataSet>(m[3].value);
  REQUIRE(ds.rows.size() == 1);
  CHECK(ds.columns.size() == 11);
  CHECK(std::get<std::string>(ds.rows[0][5]) == "raised");
  CHECK_FALSE(m[0].is_historical);

  lane.Sent(uplink::AlarmLane::kAliasBase, item);
  lane.ResetInFlight();
  REQUIRE(lane.HasQueued());  // what was in flight is sent again
  item = lane.TakeNext();
  lane.Sent(7, item);
  CHECK_FALSE(lane.Settled(7, false));  // not acknowledged: queued again
  REQUIRE(lane.HasQueued());
  item = lane.TakeNext();
  lane.Sent(8, item);
  auto done = lane.Settled(8, true);
  REQUIRE(done);
  CHECK(done->alarm.version == 1);

  // With aliases: names only in births; the birth names the call button's metrics.
  auto birth = lane.BirthMetrics("station-1", {}, {}, kT0, true);
  REQUIRE(birth.size() == 4);
  CHECK(birth[0].name == "alarms/cord-1/active");
  REQUIRE(birth[0].alias);
  CHECK(*birth[0].alias >= uplink::AlarmLane::kAliasBase);
  CHECK(lane.Birthed("station-1", "cord-1"));
  CHECK_FALSE(lane.Birthed("station-1", "radar-1"));
  auto data = lane.ChangeMetrics(uplink::AlarmLane::Item{a, true}, 1, kT0 + 30 * kSec, true);
  CHECK(data[0].name.empty());
  CHECK(data[0].alias == birth[0].alias);
  CHECK(data[0].timestamp_ms == uint64_t(kT0 + 30 * kSec));  // a re-announcement is stamped now
}

TEST_CASE("alarm DCMD: parsed by name, bounded, validated") {
  auto encode = [](std::vector<codec::Metric> metrics) {
    codec::Payload p;
    p.timestamp_ms = uint64_t(kT0);
    p.metrics = std::move(metrics);
    return codec::Encode(p);
  };
  auto ok = uplink::ParseAlarmAcknowledge(encode({{"alarms/acknowledge", Value(std::string("cord-1-5"))},
                                                  {"alarms/acknowledged_by", Value(std::string("王阿姨"))}}));
  REQUIRE(ok.ok());
  CHECK(ok->id == "cord-1-5");
  CHECK(ok->by == "王阿姨");
  CHECK_FALSE(uplink::ParseAlarmAcknowledge(encode({{"alarms/acknowledged_by", Value(std::string("x"))}})).ok());
  CHECK_FALSE(uplink::ParseAlarmAcknowledge(encode({{"alarms/acknowledge", Value(true)}})).ok());
  CHECK_FALSE(uplink::ParseAlarmAcknowledge(encode({{"alarms/acknowledge", Value(std::string(201, 'a'))}})).ok());
  CHECK_FALSE(uplink::ParseAlarmAcknowledge(
                  encode({{"alarms/acknowledge", Value(std::string("a"))},
                          {"alarms/acknowledged_by", Value(std::string(65, 'b'))}}))
                  .ok());
  CHECK_FALSE(uplink::ParseAlarmAcknowledge(encode({{"alarms/acknowledge", Value(std::string("\xff\xfe"))}})).ok());
  CHECK_FALSE(uplink::ParseAlarmAcknowledge(std::string(5000, 'x')).ok());
  CHECK_FALSE(uplink::ParseAlarmAcknowledge("garbage").ok());
}
