// TimeZone: conversions between UTC epoch milliseconds (the wire) and a facility's
// local calendar (opening hours, "since local midnight", report days).
//
// Backed by the system tz database (/usr/share/zoneinfo) through Howard Hinnant's
// date library, so DST zones work as well as Asia/Shanghai. A TimeZone is an
// immutable handle; any thread may use it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "gateway/status.h"

namespace date {
class time_zone;
}

namespace gateway {

// Pieces of the fixed-width date-time texts in configs and protocols (the config's
// "YYYY-MM-DDTHH:MM", OCPP's RFC 3339): inline, as the fuzz targets compile the parsers
// without the rest of this component.
// n digits at s[pos..pos+n) into *out; false if short or not all digits.
inline bool ParseFixedDigits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

// A day that exists in the proleptic Gregorian calendar.
inline bool ValidCalendarDate(int year, int month, int day) {
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month >= 1 && month <= 12 && day >= 1 && day <= kDays[month - 1] && !(month == 2 && day == 29 && !leap);
}

struct LocalDateTime {
  int year = 1970;
  int month = 1;         // 1..12
  int day = 1;           // 1..31
  int weekday = 3;       // 0 = Monday ... 6 = Sunday
  int minute_of_day = 0; // 0..1439
  int64_t ms_of_day = 0; // 0..86'399'999
  int64_t day_number = 0;  // days since 1970-01-01 in the local calendar
};

class TimeZone {
 public:
  // name: IANA zone such as "Asia/Shanghai" or "Europe/Berlin".
  static Result<TimeZone> Load(const std::string& name);

  const std::string& name() const { return name_; }
  LocalDateTime ToLocal(int64_t utc_ms) const;
  // UTC ms of the local midnight that starts the local day containing utc_ms.
  int64_t DayStartMs(int64_t utc_ms) const;
  // UTC ms of the next local midnight strictly after utc_ms.
  int64_t NextMidnightMs(int64_t utc_ms) const;
  // UTC ms for a local date and minute of day; in a DST gap the later instant, in an
  // overlap the earlier one.
  int64_t FromLocal(int year, int month, int day, int minute_of_day) const;

 private:
  TimeZone(const date::time_zone* tz, std::string name) : tz_(tz), name_(std::move(name)) {}
  const date::time_zone* tz_ = nullptr;
  std::string name_;
};

// "YYYY-MM-DD" for a local day number (days since 1970-01-01).
std::string FormatDayNumber(int64_t day_number);

}  // namespace gateway
