#include "report/figures.h"

#include "gateway/opening_hours.h"

#include <date/date.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "store/alarm_store.h"

namespace gateway::report {

namespace {
// The UTC instant a local day starts.
int64_t LocalMidnightMs(const TimeZone& tz, int64_t day) {
  date::year_month_day ymd{date::sys_days{date::days{day}}};
  return tz.FromLocal(int(ymd.year()), int(unsigned(ymd.month())), int(unsigned(ymd.day())), 0);
}
}  // namespace

std::optional<double> Figures::MeanOccupancy() const {
  if (sum.complete_ms <= 0) return std::nullopt;
  return double(sum.occ_ms) / double(sum.complete_ms);
}

std::optional<double> Figures::Utilisation() const {
  auto mean = MeanOccupancy();
  if (!mean || capacity == 0) return std::nullopt;
  return *mean / double(capacity);
}

std::optional<double> Figures::Completeness() const {
  if (sum.open_ms <= 0) return std::nullopt;
  return double(sum.complete_ms) / double(sum.open_ms);
}

std::optional<double> Figures::HourlyMean(int hour) const {
  const auto& h = by_hour[size_t(hour)];
  if (h.complete_ms <= 0) return std::nullopt;
  return double(h.occ_ms) / double(h.complete_ms);
}

std::optional<double> Figures::MeanSessionMinutes() const {
  if (sum.sessions_ended <= 0) return std::nullopt;
  return double(sum.session_ms) / double(sum.sessions_ended) / 60000.0;
}

std::optional<double> Figures::ConnectorUtilisation() const {
  if (sum.connector_ms <= 0) return std::nullopt;
  return double(sum.charging_ms) / double(sum.connector_ms);
}

std::optional<double> Figures::Availability() const {
  if (sum.connector_ms <= 0) return std::nullopt;
  return double(sum.available_ms) / double(sum.connector_ms);
}

int64_t Figures::EquipmentSessions() const {
  int64_t n = 0;
  for (const auto& s : sensors) n += s.sessions;
  return n;
}

double Figures::EquipmentActiveMinutes() const {
  int64_t ms = 0;
  for (const auto& s : sensors) ms += s.in_use_ms;
  return double(ms) / 60000.0;
}

PeakHour Figures::PeakIn(int from_hour, int to_hour) const {
  PeakHour best;
  const int64_t days = day_to - day_from + 1;
  for (int h = from_hour; h < to_hour; ++h) {
    // in_use_ms of the hour, summed over equipment, per day of the period.
    int64_t in_use = by_hour[size_t(h)].in_use_ms;
    if (in_use <= 0) continue;
    double mean = double(in_use) / 3.6e6 / double(days);
    if (best.hour < 0 || mean > best.in_use) best = PeakHour{h, mean};
  }
  return best;
}

Figures Summarise(const FacilityConfig& facility, const std::vector<store::HourRow>& rows, int64_t day_from,
                  int64_t day_to) {
  Figures f;
  f.day_from = day_from;
  f.day_to = day_to;
  f.capacity = store::EffectiveCapacity(facility);
  for (int h = 0; h < 24; ++h) f.by_hour[size_t(h)].hour = h;
  std::map<std::string, size_t> sensor_index;
  for (const auto& s : facility.sensors) {
    sensor_index[s.id] = f.sensors.size();
    store::HourRow r;
    r.facility = facility.id;
    r.sensor = s.id;
    f.sensors.push_back(r);
  }
  f.sum.facility = facility.id;
  for (const auto& r : rows) {
    if (r.facility != facility.id || r.day < day_from || r.day > day_to) continue;
    f.has_data = true;
    if (r.sensor.empty()) {
      f.sum.Merge(r);
      if (r.hour >= 0 && r.hour < 24) f.by_hour[size_t(r.hour)].Merge(r);
    } else if (auto it = sensor_index.find(r.sensor); it != sensor_index.end()) {
      f.sensors[it->second].Merge(r);
      // Equipment in use per hour of day, for the morning and evening peaks.
      if (r.hour >= 0 && r.hour < 24) f.by_hour[size_t(r.hour)].in_use_ms += r.in_use_ms;
    }
  }
  return f;
}

void AddConfiguredOpening(const FacilityConfig& facility, const TimeZone& tz, int64_t day, Figures& f) {
  date::year_month_day ymd{date::sys_days{date::days{day}}};
  const int64_t start = tz.FromLocal(int(ymd.year()), int(unsigned(ymd.month())), int(unsigned(ymd.day())), 0);
  const int64_t end = tz.NextMidnightMs(start);
  constexpr int64_t kMinuteMs = 60'000;
  // Minute by minute, as the history integrates: opening hours have minute precision.
  for (int64_t t = start; t < end; t += kMinuteMs) {
    const LocalDateTime local = tz.ToLocal(t);
    if (!IsOpenAt(facility.opening_hours, local)) continue;
    const int64_t len = std::min(kMinuteMs, end - t);
    f.sum.open_ms += len;
    f.by_hour[size_t(local.minute_of_day / 60)].open_ms += len;
  }
}

Result<int64_t> ParseDate(const std::string& text) {
  int y = 0, m = 0, d = 0;
  char tail = 0;
  if (text.size() != 10 || std::sscanf(text.c_str(), "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || text[4] != '-' ||
      text[7] != '-') {
    return Status::InvalidArgument("'" + text + "' is not a date YYYY-MM-DD");
  }
  date::year_month_day ymd{date::year{y}, date::month{unsigned(m)}, date::day{unsigned(d)}};
  if (!ymd.ok()) return Status::InvalidArgument("'" + text + "' is not a calendar date");
  return int64_t(date::sys_days{ymd}.time_since_epoch().count());
}

std::string LocalClock(const TimeZone& tz, int64_t utc_ms) {
  LocalDateTime l = tz.ToLocal(utc_ms);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02d:%02d", l.minute_of_day / 60, l.minute_of_day % 60);
  return buf;
}

Result<ReportData> BuildReport(const Config& config, store::SqliteDb& db, int64_t day_from, int64_t day_to,
                               const std::vector<std::string>& facilities) {
  if (day_to < day_from) {
    return Status::InvalidArgument("--to " + FormatDayNumber(day_to) + " is before --from " +
                                   FormatDayNumber(day_from));
  }
  if (day_to - day_from > 3660) return Status::InvalidArgument("a report covers at most 3661 days");
  std::vector<const FacilityConfig*> chosen;
  if (facilities.empty()) {
    for (const auto& f : config.facilities) chosen.push_back(&f);
  } else {
    std::set<std::string> seen;
    for (const auto& id : facilities) {
      const FacilityConfig* found = nullptr;
      for (const auto& f : config.facilities) {
        if (f.id == id) found = &f;
      }
      if (!found) {
        std::string known;
        for (const auto& f : config.facilities) known += (known.empty() ? "" : ", ") + f.id;
        return Status::NotFound("unknown facility '" + id + "' (the config has: " + known + ")");
      }
      if (seen.insert(id).second) chosen.push_back(found);
    }
  }
  if (chosen.empty()) return Status::InvalidArgument("the config has no facilities");
  ReportData data;
  data.day_from = day_from;
  data.day_to = day_to;
  bool any = false;
  for (const FacilityConfig* fc : chosen) {
    auto rows = store::ReadHourRows(db, {fc->id}, day_from, day_to);
    if (!rows.ok()) return rows.status();
    FacilityFigures ff;
    ff.config = fc;
    ff.timezone = fc->timezone.empty() ? config.timezone : fc->timezone;
    // Rows come ordered by sensor, then day: split per day once (moved, not copied),
    // and the range's figures are the sum of the days', so that a year's rows are
    // held for one facility at a time.
    std::map<int64_t, std::vector<store::HourRow>> by_day;
    for (auto& r : rows.value()) by_day[r.day].push_back(std::move(r));
    rows.value().clear();
    rows.value().shrink_to_fit();
    static const std::vector<store::HourRow> kNone;
    auto tz = TimeZone::Load(ff.timezone);
    if (!tz.ok()) return tz.status();
    ff.total = Summarise(*fc, kNone, day_from, day_to);
    for (int64_t d = day_from; d <= day_to; ++d) {
      auto it = by_day.find(d);
      ff.days.push_back(Summarise(*fc, it == by_day.end() ? kNone : it->second, d, d));
      if (it != by_day.end()) {
        by_day.erase(it);
      } else {
        // Nothing heard that day (before the first reading, the gateway off): the
        // facility was open all the same, with nothing complete.
        AddConfiguredOpening(*fc, tz.value(), d, ff.days.back());
      }
      const Figures& day = ff.days.back();
      ff.total.has_data = ff.total.has_data || day.has_data;
      ff.total.sum.Merge(day.sum);
      for (size_t h = 0; h < 24; ++h) ff.total.by_hour[h].Merge(day.by_hour[h]);
      for (size_t i = 0; i < ff.total.sensors.size(); ++i) ff.total.sensors[i].Merge(day.sensors[i]);
    }
    // Emergency calls: each in the local day of its raised time (event time), also when
    // it was acknowledged after midnight.
    {
      const int64_t from_ms = LocalMidnightMs(tz.value(), day_from);
      const int64_t to_ms = LocalMidnightMs(tz.value(), day_to + 1);
      auto alarms = store::ReadAlarmsRaised(db, fc->id, from_ms, to_ms);
      if (!alarms.ok()) return alarms.status();
      for (const auto& a : alarms.value()) {
        const int64_t d = tz.value().ToLocal(a.raised_ms).day_number;
        if (d < day_from || d > day_to) continue;
        ff.days[size_t(d - day_from)].alarms.Add(a);
        ff.total.alarms.Add(a);
      }
    }
    if (std::any_of(fc->sensors.begin(), fc->sensors.end(),
                    [](const SensorConfig& sc) { return sc.kind == SensorKind::kChargePoint; })) {
      auto tx = store::ReadSessions(db, fc->id, day_from, day_to);
      if (!tx.ok()) return tx.status();
      ff.transactions = std::move(tx.value());
    }
    any = any || ff.total.has_data;
    data.facilities.push_back(std::move(ff));
  }
  if (!any) {
    return Status::NotFound("no utilisation history between " + FormatDayNumber(day_from) + " and " +
                            FormatDayNumber(day_to) +
                            " for the chosen facilities (history starts with the first reading the "
                            "gateway accepts and is kept for history.retention_days)");
  }
  return data;
}

std::optional<double> TransactionSummary::MeanMinutes() const {
  if (count == 0) return std::nullopt;
  return double(duration_ms) / double(count) / 60000.0;
}

TransactionSummary SummariseTransactions(const std::vector<store::ChargingSession>& sessions) {
  TransactionSummary t;
  std::map<std::string, TransactionSummary::ByReason> reasons;
  for (const auto& s : sessions) {
    ++t.count;
    t.energy_kwh += s.energy_kwh;
    t.duration_ms += std::max<int64_t>(0, s.stop_ms - s.start_ms);
    auto& r = reasons[s.stop_reason];
    r.reason = s.stop_reason;
    ++r.count;
    r.energy_kwh += s.energy_kwh;
  }
  for (auto& [k, r] : reasons) t.by_reason.push_back(std::move(r));
  std::stable_sort(t.by_reason.begin(), t.by_reason.end(),
                   [](const auto& a, const auto& b) { return a.count > b.count; });
  return t;
}

namespace {
double Or(std::optional<double> v) { return v ? *v : -1.0; }
}  // namespace

std::optional<Satisfaction> SatisfactionOf(const FacilityConfig& facility, const Figures& f) {
  const auto* buttons = FeedbackButtonsOf(facility);
  if (!buttons) return std::nullopt;
  std::vector<uint64_t> counts;
  for (const auto& b : *buttons) {
    auto it = f.sum.feedback.find(b.name);
    counts.push_back(it == f.sum.feedback.end() ? 0 : uint64_t(std::max<int64_t>(0, it->second)));
  }
  return ComputeSatisfaction(*buttons, counts, facility.feedback_min_responses);
}

std::optional<double> AnswerRate(const Figures& f, const Satisfaction& s) {
  if (f.sum.entries <= 0) return std::nullopt;
  return double(s.responses) / double(f.sum.entries);
}

std::optional<DataSet> DailyReportOf(const Config& config, const std::string& facility, int64_t day,
                                     const std::vector<store::HourRow>& rows, int revision,
                                     const std::vector<Alarm>& alarms) {
  for (const auto& f : config.facilities) {
    if (f.id != facility) continue;
    DayAlarms day_alarms;
    if (!alarms.empty()) {
      // The zone was loaded when the config was checked; UTC only if it cannot be now.
      auto tz = TimeZone::Load(f.timezone.empty() ? config.timezone : f.timezone);
      day_alarms = SummariseDayAlarms(alarms, tz.ok() ? tz.value() : TimeZone::Load("UTC").value());
    }
    return DailyDataSet(f, day, rows, revision, day_alarms);
  }
  return std::nullopt;
}

bool ShowsAlarms(const FacilityConfig& facility, const Figures& total) {
  return total.alarms.Any() ||
         std::any_of(facility.sensors.begin(), facility.sensors.end(),
                     [](const SensorConfig& sc) { return sc.kind == SensorKind::kCallButton; });
}

DataSet DailyDataSet(const FacilityConfig& facility, int64_t day, const std::vector<store::HourRow>& rows,
                     int revision, const DayAlarms& alarms) {
  DataSet d;
  auto col = [&](const char* name, DataType t) {
    d.columns.push_back(name);
    d.types.push_back(t);
  };
  col("date", DataType::kString);
  col("period", DataType::kString);
  col("capacity", DataType::kUInt32);
  col("opening_hours", DataType::kDouble);
  col("visits", DataType::kUInt64);
  col("peak_occupancy", DataType::kInt64);
  col("peak_time", DataType::kUInt64);
  col("mean_occupancy", DataType::kDouble);
  col("utilisation", DataType::kDouble);
  col("hours_crowded", DataType::kDouble);
  col("hours_full", DataType::kDouble);
  col("completeness", DataType::kDouble);
  col("meals", DataType::kUInt64);
  col("checkins", DataType::kUInt64);
  col("charging_sessions", DataType::kUInt64);
  col("mean_session_min", DataType::kDouble);
  col("energy_kwh", DataType::kDouble);
  col("connector_utilisation", DataType::kDouble);
  col("availability", DataType::kDouble);
  col("equipment_sessions", DataType::kUInt64);
  col("equipment_active_min", DataType::kDouble);
  col("revision", DataType::kUInt64);
  col("late_readings", DataType::kUInt64);
  col("feedback_responses", DataType::kUInt64);
  col("satisfaction_index", DataType::kDouble);
  col("answer_rate", DataType::kDouble);
  const auto* buttons = FeedbackButtonsOf(facility);
  if (buttons) {
    for (const auto& b : *buttons) {
      d.columns.push_back("feedback_" + b.name);
      d.types.push_back(DataType::kUInt64);
    }
  }
  // Emergency calls, appended after every column above (the wire contract): in every
  // facility's report, 0 and -1 where no alarm was raised (report/alarm_figures.h).
  col("alarms", DataType::kUInt64);
  col("alarm_test_presses", DataType::kUInt64);
  col("alarm_presses_folded", DataType::kUInt64);
  col("alarms_acknowledged", DataType::kUInt64);
  col("alarm_ack_median_s", DataType::kDouble);
  col("alarm_ack_worst_s", DataType::kDouble);
  col("alarms_open", DataType::kUInt64);
  const std::string date = FormatDayNumber(day);
  auto add = [&](const std::string& period, const Figures& f, const AlarmFigures& a) {
    const auto sat = SatisfactionOf(facility, f);
    d.rows.push_back(std::vector<Scalar>{
        date, period, f.capacity, f.OpeningHours(), uint64_t(f.sum.entries), int64_t(f.sum.peak),
        uint64_t(f.sum.peak >= 0 ? f.sum.peak_ts : 0), Or(f.MeanOccupancy()), Or(f.Utilisation()),
        f.HoursCrowded(), f.HoursFull(), Or(f.Completeness()), uint64_t(f.sum.meals), uint64_t(f.sum.checkins),
        uint64_t(f.sum.sessions), Or(f.MeanSessionMinutes()), f.sum.energy_kwh, Or(f.ConnectorUtilisation()),
        Or(f.Availability()), uint64_t(f.EquipmentSessions()), f.EquipmentActiveMinutes(), uint64_t(revision),
        uint64_t(f.sum.late_readings)});
    // Appended one by one: a longer initializer list makes GCC 12 warn falsely
    // (-Wmaybe-uninitialized in the variant's string).
    auto& row = d.rows.back();
    row.emplace_back(uint64_t(sat ? sat->responses : 0));
    row.emplace_back(Or(sat ? sat->ShownIndex() : std::nullopt));
    row.emplace_back(Or(sat ? AnswerRate(f, *sat) : std::nullopt));
    if (buttons) {
      for (const auto& b : *buttons) {
        auto it = f.sum.feedback.find(b.name);
        row.emplace_back(uint64_t(it == f.sum.feedback.end() ? 0 : it->second));
      }
    }
    row.emplace_back(uint64_t(a.alarms));
    row.emplace_back(uint64_t(a.test_presses));
    row.emplace_back(uint64_t(a.presses_folded));
    row.emplace_back(uint64_t(a.acknowledged));
    row.emplace_back(Or(a.MedianAckSeconds()));
    row.emplace_back(Or(a.WorstAckSeconds()));
    row.emplace_back(uint64_t(a.open));
  };
  add("day", Summarise(facility, rows, day, day), alarms.day);
  for (int h = 0; h < 24; ++h) {
    std::vector<store::HourRow> hour_rows;
    for (const auto& r : rows) {
      if (r.hour == h) hour_rows.push_back(r);
    }
    char label[16];
    std::snprintf(label, sizeof label, "%02d", h);
    add(label, Summarise(facility, hour_rows, day, day), alarms.by_hour[size_t(h)]);
  }
  return d;
}

}  // namespace gateway::report
