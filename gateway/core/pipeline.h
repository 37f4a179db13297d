// Pipeline: the ReadingSink the drivers feed; turns their readings into group commits.
//
// Owned by the App; lives on the core's event-loop thread. Submit() may be called from
// any thread and only posts. On the loop, raw readings wait in memory until the next
// group commit (commit_interval_ms after the first one, or at once when
// commit_max_readings wait); the FacilityModel derives facility metrics from them, and
// raw readings, derived metrics and the model's state go to the outbox in one
// transaction. Only then are the drivers' callbacks told "ok": a reading is accepted
// when it is on disk. When the backlog in memory passes max_pending_readings,
// Submit answers kBusy and stores nothing, so a driver slows down instead of the
// gateway running out of memory.
//
// A commit that fails (disk full, I/O error) loses nothing: the drivers hear the
// status and offer their readings again, and what the pipeline derived itself
// (start-up state, ticks) and the acknowledged deletes are kept and committed again,
// with backoff. Failures are logged once and then summarised every 10 s.
//
// Flash (an SD card wears with every page written): the broker's acknowledgements do
// not get a commit of their own while readings keep coming; their deletes ride the
// next commit of readings, or wait at most kDeleteDelay (a drain's, by the thousand,
// go at the commit interval), and a commit that only
// deletes is not fsynced (a delete lost in a power cut is a duplicate, never a loss).
// The model's state is written only when it changed. At a low rate (fewer than
// kLowRateReadings waiting when commit_interval_ms is up) readings wait for company, up
// to low_rate_commit_delay_ms from the first: a commit of 2 readings touches the same
// pages as one of 16, and at 1,000 readings/s nothing changes (the commit is full at
// once). That delay is the bound on how late a live figure (occupancy) may be.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "alarm/alarm_book.h"
#include "core/facility_model.h"
#include "core/unique_stamps.h"
#include "gateway/clock.h"
#include "gateway/config.h"
#include "gateway/reading_sink.h"
#include "store/history.h"
#include "store/outbox.h"

namespace gateway {

struct PipelineStats {
  uint64_t accepted = 0;        // raw readings committed
  uint64_t derived = 0;         // facility metrics committed
  uint64_t refused_busy = 0;    // readings refused by back-pressure
  uint64_t refused_disk_full = 0;  // readings refused: the buffer's disk has no room for them
  uint64_t refused_io_error = 0;   // readings refused: the buffer's medium failed (retried by the drivers)
  uint64_t rejected_unknown = 0;  // readings for facilities or sensors not in the config
  uint64_t rejected_too_old = 0;  // readings stamped before history.late_days
  // Per facility: readings that came after their day was reported (still counted).
  std::map<std::string, uint64_t> late_readings;
  uint64_t commit_failures = 0;
  uint64_t commits = 0;
  uint64_t stamps_moved = 0;      // readings whose timestamp moved 1 ms or more (core/unique_stamps.h)
  size_t pending = 0;
  size_t pending_derived = 0;     // facility metrics and reports from ticks, waiting for a commit
  uint64_t ticks = 0;             // ticks run (Tick)
  // Why commits fail now (the last failure), empty while they succeed: what /readyz and
  // the status page say.
  std::string failing;
};

class Pipeline final : public ReadingSink {
 public:
  Pipeline(boost::asio::io_context& io, const Config& config, store::Outbox& outbox,
           FacilityModel& model, const Clock& clock);
  ~Pipeline() override;

  // Any thread.
  void Submit(std::vector<Reading> batch, Done done = {}) override;

  // Loop thread: emits the full set of facility metrics, stamped now_ms, and starts the
  // model's tick.
  Status Start(int64_t now_ms);
  // Loop thread: one tick at the clock's time (opening hours, silence, midnights, daily
  // reports, escalation); what the 1 s timer runs. Tests drive it directly, so that they
  // wait on its commit (stats().pending_derived back to 0) instead of on wall time.
  void Tick();
  // Roughly the outbox rows of one 1 KiB page: below this a commit costs about the same
  // pages whatever it carries.
  static constexpr size_t kLowRateReadings = 16;

  // Loop thread: acknowledged deletes want a commit even without readings (within
  // kDeleteDelay, unless readings bring one sooner).
  void RequestCommit();
  // Loop thread: refuse new readings, commit what waits. Returns the commit's status.
  Status Stop();

  void set_on_committed(std::function<void()> f) { on_committed_ = std::move(f); }

  // Optional, before Start(): the utilisation history, updated in every commit's
  // transaction, and the daily report: after each facility's local midnight (plus
  // history.daily_report_delay_s) `daily` turns the day's rollups into the value of
  // the metric reports/daily, stamped at that midnight and committed with the history
  // state that marks the day reported (so it is sent exactly once, however late).
  // A day that late readings (or a change of one of its alarms: acknowledged, a press
  // folded in) changed after its report is reported again with the next revision,
  // stamped when it is made (a new value, never a second one at the midnight).
  // `alarms`: the emergency calls raised that day (none without set_alarms).
  using DailyReportFn = std::function<std::optional<Value>(const std::string& facility, int64_t day,
                                                           const std::vector<store::HourRow>& rows, int revision,
                                                           const std::vector<Alarm>& alarms)>;
  void set_history(store::History* history, DailyReportFn daily = {}) {
    history_ = history;
    daily_ = std::move(daily);
  }
  PipelineStats stats() const;

  // Optional, before Start(): the emergency calls. Presses the model recognises go to
  // the book; a batch that may carry one is committed at once (no group-commit wait),
  // and the book's changes are written in the same transaction as the readings that
  // caused them. Escalation is checked every tick.
  void set_alarms(AlarmBook* alarms) { alarms_ = alarms; }
  // Loop thread: commit the book's changes now (an acknowledgement).
  void CommitAlarms();

 private:
  struct PendingBatch {
    std::vector<Reading> readings;
    Done done;
  };
  void Accept(std::vector<Reading> batch, Done done);
  void ScheduleCommit();
  void OnCommitTimer();
  size_t Waiting() const { return pending_readings_ + pending_derived_.size(); }
  void ScheduleDeletes();
  Status CommitNow();
  void OnCommitResult(const Status& s, size_t readings, size_t raw);
  void ScheduleRetry();
  void ScheduleTick();
  void QueueDailyReports(int64_t now_ms);
  void DropTooOld(std::vector<Reading>& batch);

  boost::asio::io_context& io_;
  const Config& config_;
  store::Outbox& outbox_;
  FacilityModel& model_;
  const Clock& clock_;
  boost::asio::steady_timer commit_timer_;
  boost::asio::steady_timer tick_timer_;
  boost::asio::steady_timer retry_timer_;
  boost::asio::steady_timer delete_timer_;
  bool delete_scheduled_ = false;
  // Longer than the period of a device reporting every second (a door counter), so
  // that its acknowledged rows are deleted in its next commit instead of one of their
  // own; short enough that a restart re-sends little.
  static constexpr std::chrono::milliseconds kDeleteDelay{2000};
  // A drain is acknowledged by the thousand: its deletes go at the commit interval, so
  // that it frees its space as it goes, as they are large enough to fill their pages.
  static constexpr uint64_t kDeleteAtOnceRows = 1000;
  std::chrono::steady_clock::time_point first_pending_at_{};
  bool waiting_for_company_ = false;
  bool retry_scheduled_ = false;
  std::chrono::milliseconds retry_delay_{250};
  uint64_t failures_since_log_ = 0;
  bool disk_full_ = false;
  int64_t failure_logged_ms_ = 0;
  std::shared_ptr<int> life_ = std::make_shared<int>(0);
  bool commit_scheduled_ = false;
  bool stopped_ = false;
  std::vector<PendingBatch> pending_;
  std::vector<Reading> pending_derived_;  // from ticks
  size_t pending_readings_ = 0;
  std::string committed_state_;  // the model state as last committed, to roll back to
  PipelineStats stats_;
  UniqueStamps stamps_;
  int64_t last_unknown_log_ms_ = 0;
  int64_t last_too_old_log_ms_ = 0;
  // Per facility, the timestamp of the last revised reports/daily: two revisions made
  // in one tick still get two instants.
  std::map<std::string, int64_t> last_revision_ts_;
  std::function<void()> on_committed_;
  store::History* history_ = nullptr;
  DailyReportFn daily_;
  AlarmBook* alarms_ = nullptr;
};

}  // namespace gateway
