#include <catch2/catch.hpp>

#include "gateway/opening_hours.h"

using namespace gateway;

namespace {

constexpr uint8_t kMon = 1 << 0, kTue = 1 << 1, kFri = 1 << 4, kSat = 1 << 5, kSun = 1 << 6;
constexpr uint8_t kWeekdays = 0x1f;

LocalDateTime At(int weekday, int hour, int minute) {
  LocalDateTime l;
  l.weekday = weekday;
  l.minute_of_day = hour * 60 + minute;
  l.ms_of_day = int64_t(l.minute_of_day) * 60000;
  return l;
}

OpeningPeriod Period(uint8_t mask, int open_h, int open_m, int close_h, int close_m) {
  OpeningPeriod p;
  p.weekdays_mask = mask;
  p.open_minute = open_h * 60 + open_m;
  p.close_minute = close_h * 60 + close_m;
  return p;
}

}  // namespace

TEST_CASE("no periods means always open", "[opening_hours]") {
  CHECK(IsOpenAt({}, At(0, 0, 0)));
  CHECK(IsOpenAt({}, At(6, 23, 59)));
}

TEST_CASE("two periods a day: a canteen's lunch and supper", "[opening_hours]") {
  // Weekdays 10:30-13:30 and 16:30-19:00.
  std::vector<OpeningPeriod> p = {Period(kWeekdays, 10, 30, 13, 30), Period(kWeekdays, 16, 30, 19, 0)};
  CHECK_FALSE(IsOpenAt(p, At(0, 10, 29)));
  CHECK(IsOpenAt(p, At(0, 10, 30)));  // open is inclusive
  CHECK(IsOpenAt(p, At(0, 13, 29)));
  CHECK_FALSE(IsOpenAt(p, At(0, 13, 30)));  // close is exclusive
  CHECK_FALSE(IsOpenAt(p, At(2, 15, 0)));   // between the two
  CHECK(IsOpenAt(p, At(4, 16, 30)));
  CHECK(IsOpenAt(p, At(4, 18, 59)));
  CHECK_FALSE(IsOpenAt(p, At(4, 19, 0)));
  CHECK_FALSE(IsOpenAt(p, At(5, 12, 0)));  // Saturday: not in the mask
  CHECK_FALSE(IsOpenAt(p, At(6, 17, 0)));
}

TEST_CASE("weekday bits: bit 0 is Monday", "[opening_hours]") {
  std::vector<OpeningPeriod> p = {Period(kMon, 8, 0, 9, 0)};
  CHECK(IsOpenAt(p, At(0, 8, 30)));
  CHECK_FALSE(IsOpenAt(p, At(1, 8, 30)));
  CHECK_FALSE(IsOpenAt(p, At(6, 8, 30)));
  std::vector<OpeningPeriod> sun = {Period(kSun, 8, 0, 9, 0)};
  CHECK(IsOpenAt(sun, At(6, 8, 30)));
  CHECK_FALSE(IsOpenAt(sun, At(0, 8, 30)));
}

TEST_CASE("close 24:00 runs to the end of the day", "[opening_hours]") {
  std::vector<OpeningPeriod> p = {Period(kTue, 6, 0, 24, 0)};
  CHECK(IsOpenAt(p, At(1, 23, 59)));
  CHECK_FALSE(IsOpenAt(p, At(2, 0, 0)));
  CHECK_FALSE(IsOpenAt(p, At(1, 5, 59)));
}

TEST_CASE("a period past midnight belongs to the day it opens", "[opening_hours]") {
  // Friday and Saturday 18:00 until 02:00 the next morning. Sunday's bit is not set,
  // yet Sunday 01:00 is open (Saturday's night); Saturday 01:00 is open (Friday's).
  std::vector<OpeningPeriod> p = {Period(kFri | kSat, 18, 0, 2, 0)};
  CHECK_FALSE(IsOpenAt(p, At(4, 17, 59)));
  CHECK(IsOpenAt(p, At(4, 18, 0)));
  CHECK(IsOpenAt(p, At(4, 23, 59)));
  CHECK(IsOpenAt(p, At(5, 0, 0)));
  CHECK(IsOpenAt(p, At(5, 1, 59)));
  CHECK_FALSE(IsOpenAt(p, At(5, 2, 0)));
  CHECK_FALSE(IsOpenAt(p, At(5, 12, 0)));
  CHECK(IsOpenAt(p, At(5, 20, 0)));
  CHECK(IsOpenAt(p, At(6, 1, 0)));       // Sunday morning: Saturday's night
  CHECK_FALSE(IsOpenAt(p, At(6, 2, 0)));
  CHECK_FALSE(IsOpenAt(p, At(6, 20, 0)));  // Sunday evening: not in the mask
  CHECK_FALSE(IsOpenAt(p, At(4, 1, 0)));   // Friday morning: Thursday is not set
}

TEST_CASE("close equal to open is a full 24 hours from open", "[opening_hours]") {
  std::vector<OpeningPeriod> p = {Period(kMon, 8, 0, 8, 0)};
  CHECK(IsOpenAt(p, At(0, 8, 0)));
  CHECK(IsOpenAt(p, At(1, 7, 59)));
  CHECK_FALSE(IsOpenAt(p, At(1, 8, 0)));
  CHECK_FALSE(IsOpenAt(p, At(0, 7, 59)));
}
