#include "gateway/opening_hours.h"

namespace gateway {

namespace {

bool OnWeekday(uint8_t mask, int weekday) { return ((mask >> weekday) & 1) != 0; }

}  // namespace

bool IsOpenAt(const std::vector<OpeningPeriod>& periods, const LocalDateTime& local) {
  if (periods.empty()) return true;
  const int m = local.minute_of_day;
  const int today = local.weekday;
  const int yesterday = (today + 6) % 7;
  for (const auto& p : periods) {
    if (p.close_minute > p.open_minute) {
      if (OnWeekday(p.weekdays_mask, today) && m >= p.open_minute && m < p.close_minute) {
        return true;
      }
    } else {
      // Past midnight: the evening part belongs to today's bit, the early-morning part
      // to yesterday's, whether or not today's bit is set (a Saturday night shift still
      // ends on Sunday morning).
      if (OnWeekday(p.weekdays_mask, today) && m >= p.open_minute) return true;
      if (OnWeekday(p.weekdays_mask, yesterday) && m < p.close_minute) return true;
    }
  }
  return false;
}

}  // namespace gateway
