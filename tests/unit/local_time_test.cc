#include <catch2/catch.hpp>

#include "gateway/local_time.h"

using namespace gateway;

// Instants below were worked out by hand (and checked against Python's zoneinfo):
// Asia/Shanghai is UTC+8 all year; Europe/Berlin springs forward on 2024-03-31 at
// 02:00 CET (01:00 UTC) and falls back on 2024-10-27 at 03:00 CEST (01:00 UTC).

namespace {

TimeZone Zone(const char* name) {
  auto tz = TimeZone::Load(name);
  REQUIRE(tz.ok());
  return tz.value();
}

constexpr int64_t kHour = 3'600'000;
constexpr int64_t kDay = 24 * kHour;

}  // namespace

TEST_CASE("TimeZone::Load rejects an unknown zone", "[local_time]") {
  auto tz = TimeZone::Load("Mars/Olympus_Mons");
  REQUIRE_FALSE(tz.ok());
  CHECK(tz.status().code() == Status::Code::kInvalidArgument);
  CHECK(Zone("Asia/Shanghai").name() == "Asia/Shanghai");
}

TEST_CASE("Asia/Shanghai: UTC 16:00 is local midnight", "[local_time]") {
  TimeZone sh = Zone("Asia/Shanghai");
  const int64_t midnight = 1710518400000;  // 2024-03-15T16:00Z = 2024-03-16 00:00 CST

  LocalDateTime l = sh.ToLocal(midnight);
  CHECK(l.year == 2024);
  CHECK(l.month == 3);
  CHECK(l.day == 16);
  CHECK(l.weekday == 5);  // Saturday
  CHECK(l.minute_of_day == 0);
  CHECK(l.ms_of_day == 0);
  CHECK(l.day_number == 19798);

  LocalDateTime before = sh.ToLocal(midnight - 1);
  CHECK(before.day == 15);
  CHECK(before.weekday == 4);  // Friday
  CHECK(before.minute_of_day == 1439);
  CHECK(before.ms_of_day == 86'399'999);
  CHECK(before.day_number == 19797);

  LocalDateTime lunch = sh.ToLocal(1710477000000);  // 04:30Z = 12:30 local
  CHECK(lunch.minute_of_day == 12 * 60 + 30);
  CHECK(lunch.day == 15);

  CHECK(sh.FromLocal(2024, 3, 16, 0) == midnight);
  CHECK(sh.FromLocal(2024, 3, 15, 12 * 60 + 30) == 1710477000000);
}

TEST_CASE("Asia/Shanghai: day start and next midnight", "[local_time]") {
  TimeZone sh = Zone("Asia/Shanghai");
  const int64_t midnight = 1710518400000;
  CHECK(sh.DayStartMs(1710477000000) == midnight - kDay);
  CHECK(sh.NextMidnightMs(1710477000000) == midnight);
  // At midnight exactly: the day starts there, and the next midnight is strictly after.
  CHECK(sh.DayStartMs(midnight) == midnight);
  CHECK(sh.NextMidnightMs(midnight) == midnight + kDay);
  CHECK(sh.DayStartMs(midnight - 1) == midnight - kDay);
  CHECK(sh.NextMidnightMs(midnight - 1) == midnight);
}

TEST_CASE("Europe/Berlin: spring-forward gap", "[local_time]") {
  TimeZone be = Zone("Europe/Berlin");
  const int64_t jump = 1711846800000;  // 2024-03-31T01:00Z: 02:00 CET becomes 03:00 CEST

  // 02:30 does not exist: the later instant, which is the jump itself.
  CHECK(be.FromLocal(2024, 3, 31, 2 * 60 + 30) == jump);
  CHECK(be.FromLocal(2024, 3, 31, 3 * 60) == jump);
  CHECK(be.FromLocal(2024, 3, 31, 1 * 60) == jump - kHour);  // 01:00 CET = 00:00Z

  CHECK(be.ToLocal(jump).minute_of_day == 3 * 60);
  CHECK(be.ToLocal(jump - 1).minute_of_day == 2 * 60 - 1);
  CHECK(be.ToLocal(jump).weekday == 6);  // Sunday

  // The day is 23 hours long.
  const int64_t noon_utc = 1711879200000;  // 10:00Z = 12:00 CEST
  CHECK(be.DayStartMs(noon_utc) == 1711839600000);     // 2024-03-30T23:00Z
  CHECK(be.NextMidnightMs(noon_utc) == 1711922400000); // 2024-03-31T22:00Z
  CHECK(be.NextMidnightMs(noon_utc) - be.DayStartMs(noon_utc) == 23 * kHour);
  CHECK(be.ToLocal(noon_utc).day_number == 19813);
}

TEST_CASE("Europe/Berlin: fall-back overlap", "[local_time]") {
  TimeZone be = Zone("Europe/Berlin");
  const int64_t first_0230 = 1729989000000;   // 00:30Z = 02:30 CEST
  const int64_t second_0230 = 1729992600000;  // 01:30Z = 02:30 CET

  // 02:30 happens twice; FromLocal takes the earlier one.
  CHECK(be.FromLocal(2024, 10, 27, 2 * 60 + 30) == first_0230);
  CHECK(be.ToLocal(first_0230).minute_of_day == 2 * 60 + 30);
  CHECK(be.ToLocal(second_0230).minute_of_day == 2 * 60 + 30);
  CHECK(be.ToLocal(second_0230).day_number == be.ToLocal(first_0230).day_number);

  // The day is 25 hours long.
  const int64_t noon_utc = 1730023200000;  // 11:00 CET
  CHECK(be.DayStartMs(noon_utc) == 1729980000000);     // 2024-10-26T22:00Z
  CHECK(be.NextMidnightMs(noon_utc) == 1730070000000); // 2024-10-27T23:00Z
  CHECK(be.NextMidnightMs(noon_utc) - be.DayStartMs(noon_utc) == 25 * kHour);
  CHECK(be.DayStartMs(second_0230) == 1729980000000);
}

TEST_CASE("FormatDayNumber", "[local_time]") {
  CHECK(FormatDayNumber(0) == "1970-01-01");
  CHECK(FormatDayNumber(-1) == "1969-12-31");
  CHECK(FormatDayNumber(19782) == "2024-02-29");
  CHECK(FormatDayNumber(19798) == "2024-03-16");
  CHECK(FormatDayNumber(20023) == "2024-10-27");
}
