// Figures: the utilisation figures of the evaluation reports, computed from the hourly
// rollups of store/history.h (never from raw readings, which are gone once forwarded).
//
// Every figure is a ratio or a sum of the rollups' additive sums, so a figure for a
// range of days is computed from the range's sums, not averaged from daily figures
// (a mean of means would weigh a short day like a long one). Definitions, as the README
// ("Utilisation reports") gives them for evaluators:
//   opening hours        open_ms / 1 h (by the configured opening hours)
//   visits               entries counted by the door counters (visits/entries)
//   peak occupancy       the highest occupancy/current while open, and when
//   mean occupancy       occ_ms / complete_ms: time-weighted over the open time for which
//                        every sensor reported (step function, see store/history.h)
//   utilisation          mean occupancy / capacity
//   hours crowded        complete open time with occupancy >= 90 % of capacity, in hours
//   hours full           complete open time with occupancy >= capacity, in hours
//   data completeness    complete_ms / open_ms
//   charging             sessions started; energy delivered (kWh); mean session length of
//                        the sessions that have ended; connector utilisation =
//                        charging time / connector time with a known status; availability
//                        = time not Faulted or Unavailable / connector time with a known status
//   satisfaction         feedback terminals: responses, share per button, index (mean score
//                        scaled to 0-100; include/gateway/satisfaction.h), shown only when the
//                        period has feedback_min_responses answers or more; answer rate =
//                        responses / visits
//   emergency calls      the alarms raised in the period (store/alarm_store.h, by the local
//                        day and hour of raised time): calls, test presses apart, presses
//                        folded, acknowledged, open, time to acknowledge median and worst
//                        (report/alarm_figures.h, shared with the town host)
//   fitness              per equipment: sessions and active minutes; morning (05-12 h) and
//                        evening (17-22 h) peak: the local hour with the most equipment in
//                        use on average (sum of in-use time / hour), and that average
// A figure whose denominator is 0 is absent (std::nullopt), never 0: "no data" and
// "nobody came" are different findings.
//
// Pure functions; any thread.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gateway/config.h"
#include "gateway/local_time.h"
#include "gateway/reading.h"
#include "gateway/satisfaction.h"
#include "report/alarm_figures.h"
#include "store/charging_sessions.h"
#include "store/history.h"

namespace gateway::report {

struct PeakHour {
  int hour = -1;          // local hour 0..23
  double in_use = 0;      // mean pieces of equipment in use during that hour
};

// Figures of one facility over one day or a range of days.
struct Figures {
  int64_t day_from = 0;
  int64_t day_to = 0;
  uint32_t capacity = 0;
  bool has_data = false;           // any rollup row at all
  store::HourRow sum;              // facility sums over the period
  std::array<store::HourRow, 24> by_hour{};  // facility sums per local hour of day
  std::vector<store::HourRow> sensors;       // sums per sensor, in config order
  int64_t peak_day = 0;            // local day of the peak (ranges)
  AlarmFigures alarms;             // the emergency calls raised in the period

  double OpeningHours() const { return double(sum.open_ms) / 3.6e6; }
  std::optional<double> MeanOccupancy() const;
  std::optional<double> Utilisation() const;
  double HoursCrowded() const { return double(sum.crowded_ms) / 3.6e6; }
  double HoursFull() const { return double(sum.full_ms) / 3.6e6; }
  std::optional<double> Completeness() const;
  std::optional<double> HourlyMean(int hour) const;  // mean occupancy in that local hour
  std::optional<double> MeanSessionMinutes() const;
  std::optional<double> ConnectorUtilisation() const;
  std::optional<double> Availability() const;
  int64_t EquipmentSessions() const;
  double EquipmentActiveMinutes() const;
  PeakHour MorningPeak() const { return PeakIn(5, 12); }
  PeakHour EveningPeak() const { return PeakIn(17, 22); }

 private:
  PeakHour PeakIn(int from_hour, int to_hour) const;
};

// The residents' satisfaction of a period (feedback presses per configured button in
// the period's sums), or nullopt for a facility without feedback terminals.
std::optional<Satisfaction> SatisfactionOf(const FacilityConfig& facility, const Figures& f);
// Responses / visits (the share of visitors who answered); absent without visits.
std::optional<double> AnswerRate(const Figures& f, const Satisfaction& s);

// The finished OCPP transactions of a charging station (store/charging_sessions.h)
// that started in the range, summed by stop reason. Only OCPP charge points report
// transactions; the session counts of Figures come from connector states and cover
// every charge point.
struct TransactionSummary {
  struct ByReason {
    std::string reason;
    int64_t count = 0;
    double energy_kwh = 0;
  };
  int64_t count = 0;
  double energy_kwh = 0;
  int64_t duration_ms = 0;       // summed stop - start
  std::vector<ByReason> by_reason;  // most frequent first
  std::optional<double> MeanMinutes() const;
};
TransactionSummary SummariseTransactions(const std::vector<store::ChargingSession>& sessions);

struct FacilityFigures {
  const FacilityConfig* config = nullptr;
  std::string timezone;
  std::vector<Figures> days;  // one per local day of the range
  Figures total;              // the whole range
  std::vector<store::ChargingSession> transactions;  // charging stations: started in the range
};

struct ReportData {
  int64_t day_from = 0;
  int64_t day_to = 0;
  std::vector<FacilityFigures> facilities;
};

// Sums a facility's rows (any days) into figures for day_from..day_to.
Figures Summarise(const FacilityConfig& facility, const std::vector<store::HourRow>& rows, int64_t day_from,
                  int64_t day_to);

// A day without any rollup row (before the facility's first reading, a gateway that
// was off all day): its configured opening time, so that range totals count it and its
// completeness is 0, not unknown.
void AddConfiguredOpening(const FacilityConfig& facility, const TimeZone& tz, int64_t day, Figures& f);

// Builds the report data for the facilities (ids; all when empty). Errors: unknown
// facility ids, an empty or reversed range, no data at all in the range.
Result<ReportData> BuildReport(const Config& config, store::SqliteDb& db, int64_t day_from, int64_t day_to,
                               const std::vector<std::string>& facilities);

// The value of reports/daily: a DataSet of 25 rows (the day, then each local hour),
// columns as docs/wire-format.md lists them. Unknown figures are -1.
// `revision`: 0 for the day's first report, n for the n-th made again after late
// readings or changed alarms. `alarms`: the day's emergency calls (SummariseDayAlarms).
DataSet DailyDataSet(const FacilityConfig& facility, int64_t day, const std::vector<store::HourRow>& rows,
                     int revision = 0, const DayAlarms& alarms = {});

// The value of reports/daily for facility `facility` of the config (its zone places the
// alarms' hours); nullopt for a facility the config does not have. What the gateway's
// pipeline calls (core/app.cc).
std::optional<DataSet> DailyReportOf(const Config& config, const std::string& facility, int64_t day,
                                     const std::vector<store::HourRow>& rows, int revision,
                                     const std::vector<Alarm>& alarms);

// Whether the reports show a facility's emergency-call figures: it has a call button,
// or alarms were raised in the period (an alarm point of another sensor kind).
bool ShowsAlarms(const FacilityConfig& facility, const Figures& total);

// "YYYY-MM-DD" -> local day number; InvalidArgument naming the text otherwise.
Result<int64_t> ParseDate(const std::string& text);

// "HH:MM" local time of a UTC instant in the facility's zone.
std::string LocalClock(const TimeZone& tz, int64_t utc_ms);

}  // namespace gateway::report
