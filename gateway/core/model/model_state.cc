#include "core/model/model_state.h"

#include <date/date.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <type_traits>

#include "core/model/sensor_kind.h"
#include "gateway/opening_hours.h"

namespace gateway::model {

std::optional<int64_t> AsInteger(const Value& v) {
  return std::visit(
      [](const auto& x) -> std::optional<int64_t> {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, int32_t> || std::is_same_v<T, int64_t> || std::is_same_v<T, uint32_t>) {
          return int64_t(x);
        } else if constexpr (std::is_same_v<T, uint64_t>) {
          if (x > uint64_t(std::numeric_limits<int64_t>::max())) return std::nullopt;
          return int64_t(x);
        } else {
          return std::nullopt;
        }
      },
      v);
}

std::optional<uint64_t> AsCounter(const Value& v) {
  if (const auto* u = std::get_if<uint64_t>(&v)) return *u;
  auto i = AsInteger(v);
  if (!i || *i < 0) return std::nullopt;
  return uint64_t(*i);
}

std::optional<bool> AsBool(const Value& v) {
  if (const auto* b = std::get_if<bool>(&v)) return *b;
  auto i = AsInteger(v);
  if (!i) return std::nullopt;
  return *i != 0;
}

std::optional<double> AsNumber(const Value& v) {
  if (const auto* f = std::get_if<float>(&v)) return double(*f);
  if (const auto* d = std::get_if<double>(&v)) return *d;
  if (const auto* u = std::get_if<uint64_t>(&v)) return double(*u);
  auto i = AsInteger(v);
  if (!i) return std::nullopt;
  return double(*i);
}

void SensorState::ResetRunning() {
  last_heard_ms = kNever;
  online = false;
  counters.clear();
  occupancy = {};
  flag = {};
  presses.clear();
  alarm_points.clear();
  for (auto& c : connectors) c = {};
}

void FacilityState::DeclareDaily(std::string metric, bool wide) {
  for (const auto& d : daily) {
    if (d.name == metric) return;
  }
  daily.push_back(DailyMetric{std::move(metric), wide});
}

void FacilityState::ResetRunning() {
  event_day = kNever;
  days.clear();
  door_occupancy = 0;
  door_reset_ms = kNever;
  announced_day = kNever;
  open.reset();
  day_start_ms = day_end_ms = 0;
  for (auto& s : sensors) s.ResetRunning();
}

void FacilityState::SetEventDay(int64_t day_number, int64_t some_ms_of_day) {
  event_day = day_number;
  day_start_ms = tz.DayStartMs(some_ms_of_day);
  day_end_ms = tz.NextMidnightMs(some_ms_of_day);
}

int64_t FacilityState::DayOf(int64_t utc_ms) const {
  if (event_day != kNever && utc_ms >= day_start_ms && utc_ms < day_end_ms) return event_day;
  return tz.ToLocal(utc_ms).day_number;
}

int64_t FacilityState::DayStartOf(int64_t day_number) const {
  date::year_month_day ymd{date::sys_days{date::days{day_number}}};
  return tz.FromLocal(int(ymd.year()), int(unsigned(ymd.month())), int(unsigned(ymd.day())), 0);
}

bool FacilityState::ClosedAtStartOf(int64_t midnight) const {
  return !IsOpenAt(opening_hours, tz.ToLocal(midnight));
}

void FacilityState::ObserveTime(int64_t ts, Emitter& em) {
  if (event_day == kNever) {
    SetEventDay(tz.ToLocal(ts).day_number, ts);
    return;
  }
  if (ts < day_end_ms) return;
  SetEventDay(tz.ToLocal(ts).day_number, ts);
  const int64_t midnight = day_start_ms;
  EmitDayStart(midnight, em);
  // People counters drift (a missed exit stays for ever); an empty building at midnight
  // is the moment to start again from a known 0. Readings stamped before this midnight
  // no longer move the running sum (door_counter.cc).
  if (occupancy_source == SensorKind::kDoorCounter && ClosedAtStartOf(midnight)) {
    door_occupancy = 0;
    door_reset_ms = midnight;
    EmitOccupancy(em, midnight);
  }
  PruneDays(event_day);
}

void FacilityState::AddToDay(const std::string& metric, int64_t ts, uint64_t delta, Emitter& em) {
  const int64_t day = DayOf(ts);
  if (event_day != kNever && day < event_day - keep_days) {
    spdlog::debug("facility {}: {} of {} is older than the {} days kept; not counted", id, metric,
                  FormatDayNumber(day), keep_days);
    return;
  }
  uint64_t& count = days[day][metric];
  count += delta;
  for (const auto& d : daily) {
    if (d.name == metric) em.EmitDaily(id, d, count, ts);
  }
}

uint64_t FacilityState::DayCount(int64_t day, const std::string& metric) const {
  auto it = days.find(day);
  if (it == days.end()) return 0;
  auto m = it->second.find(metric);
  return m == it->second.end() ? 0 : m->second;
}

void FacilityState::PruneDays(int64_t newest_day) {
  if (newest_day == kNever) return;
  while (!days.empty() && days.begin()->first < newest_day - keep_days) days.erase(days.begin());
}

uint32_t FacilityState::CurrentOccupancy() const {
  if (!occupancy_source) return 0;
  uint64_t n = RulesFor(*occupancy_source).FacilityOccupancy(*this);
  return uint32_t(std::min<uint64_t>(n, std::numeric_limits<uint32_t>::max()));
}

void FacilityState::EmitOccupancy(Emitter& em, int64_t ts) const {
  uint32_t current = CurrentOccupancy();
  em.Emit(id, "occupancy/current", current, ts);
  em.Emit(id, "occupancy/ratio", Ratio(current), ts);
}

void FacilityState::EmitDayStart(int64_t midnight, Emitter& em) const {
  for (const auto& d : daily) em.EmitDaily(id, d, 0, midnight);
  if (!feedback.buttons.empty()) EmitFeedbackFigures(*this, DayOf(midnight), midnight, em);
}

void Emitter::Emit(const std::string& facility_id, const std::string& point, Value value, int64_t ts) {
  std::string key;
  key.reserve(facility_id.size() + point.size() + 24);
  key.append(facility_id).push_back('\x1f');
  key.append(point).push_back('\x1f');
  key.append(std::to_string(ts));
  auto [it, inserted] = index_.try_emplace(std::move(key), out_.size());
  if (!inserted) {
    out_[it->second].value = std::move(value);
    return;
  }
  Reading r;
  r.facility_id = facility_id;
  r.point = point;
  r.value = std::move(value);
  r.ts_ms = ts;
  out_.push_back(std::move(r));
}

void Emitter::EmitDaily(const std::string& facility_id, const DailyMetric& m, uint64_t count, int64_t ts) {
  if (m.wide) {
    Emit(facility_id, m.name, count, ts);
  } else {
    Emit(facility_id, m.name, uint32_t(std::min<uint64_t>(count, std::numeric_limits<uint32_t>::max())), ts);
  }
}

}  // namespace gateway::model
