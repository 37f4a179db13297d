#include "gateway/local_time.h"

#include <date/date.h>
#include <date/tz.h>

#include <chrono>
#include <cstdio>

namespace gateway {

namespace {
using Ms = std::chrono::milliseconds;
using SysMs = date::sys_time<Ms>;
}  // namespace

Result<TimeZone> TimeZone::Load(const std::string& name) {
  try {
    const date::time_zone* tz = date::locate_zone(name);
    return TimeZone(tz, name);
  } catch (const std::exception& e) {
    return Status::InvalidArgument("unknown time zone '" + name + "'");
  }
}

LocalDateTime TimeZone::ToLocal(int64_t utc_ms) const {
  auto zt = date::make_zoned(tz_, SysMs(Ms(utc_ms)));
  auto local = zt.get_local_time();
  auto day = date::floor<date::days>(local);
  date::year_month_day ymd(day);
  date::weekday wd(day);
  LocalDateTime out;
  out.year = int(ymd.year());
  out.month = int(unsigned(ymd.month()));
  out.day = int(unsigned(ymd.day()));
  out.weekday = int((wd.c_encoding() + 6) % 7);  // c_encoding: 0 = Sunday
  out.ms_of_day = (local - day).count();
  out.minute_of_day = int(out.ms_of_day / 60000);
  out.day_number = day.time_since_epoch().count();
  return out;
}

int64_t TimeZone::DayStartMs(int64_t utc_ms) const {
  LocalDateTime l = ToLocal(utc_ms);
  return FromLocal(l.year, l.month, l.day, 0);
}

int64_t TimeZone::NextMidnightMs(int64_t utc_ms) const {
  LocalDateTime l = ToLocal(utc_ms);
  date::year_month_day next{date::local_days{date::days{l.day_number + 1}}};
  return FromLocal(int(next.year()), int(unsigned(next.month())), int(unsigned(next.day())), 0);
}

int64_t TimeZone::FromLocal(int year, int month, int day, int minute_of_day) const {
  date::local_days ld{date::year{year} / date::month{unsigned(month)} / date::day{unsigned(day)}};
  auto lt = date::local_time<Ms>(ld) + std::chrono::minutes(minute_of_day);
  auto info = tz_->get_info(date::floor<std::chrono::seconds>(lt));
  SysMs sys;
  switch (info.result) {
    case date::local_info::unique:
      sys = SysMs(lt.time_since_epoch() - std::chrono::duration_cast<Ms>(info.first.offset));
      break;
    case date::local_info::nonexistent:
      // In the gap: the instant the clocks jumped, i.e. the start of the second period.
      sys = SysMs(std::chrono::duration_cast<Ms>(info.second.begin.time_since_epoch()));
      break;
    case date::local_info::ambiguous:
    default:
      sys = SysMs(lt.time_since_epoch() - std::chrono::duration_cast<Ms>(info.first.offset));
      break;
  }
  return sys.time_since_epoch().count();
}

std::string FormatDayNumber(int64_t day_number) {
  date::year_month_day ymd{date::sys_days{date::days{day_number}}};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", int(ymd.year()), unsigned(ymd.month()),
                unsigned(ymd.day()));
  return buf;
}

}  // namespace gateway
