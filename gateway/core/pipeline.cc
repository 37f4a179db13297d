#include "core/pipeline.h"

#include "store/alarm_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include <boost/asio/post.hpp>

namespace gateway {

namespace {

// Whether a change of an alarm changes what the daily report counts of it
// (report/alarm_figures.h): a new alarm, a press folded in, its acknowledgement. Its
// escalation and the broker's acknowledgement of a publish do not.
bool CountsChanged(const std::optional<Alarm>& before, const Alarm& now) {
  if (!before) return true;
  const bool ack_before = before->state == AlarmState::kAcknowledged;
  const bool ack_now = now.state == AlarmState::kAcknowledged;
  return before->test != now.test || before->presses != now.presses || ack_before != ack_now ||
         (ack_now && before->acknowledged_ms != now.acknowledged_ms) || before->raised_ms != now.raised_ms;
}

}  // namespace

Pipeline::Pipeline(boost::asio::io_context& io, const Config& config, store::Outbox& outbox,
                   FacilityModel& model, const Clock& clock)
    : io_(io),
      config_(config),
      outbox_(outbox),
      model_(model),
      clock_(clock),
      commit_timer_(io),
      tick_timer_(io),
      retry_timer_(io),
      delete_timer_(io) {}

Pipeline::~Pipeline() { life_.reset(); }

void Pipeline::Submit(std::vector<Reading> batch, Done done) {
  std::weak_ptr<int> alive = life_;
  boost::asio::post(io_, [this, alive, batch = std::move(batch), done = std::move(done)]() mutable {
    if (!alive.lock()) {
      if (done) done(Status::Shutdown("gateway stopping"));
      return;
    }
    Accept(std::move(batch), std::move(done));
  });
}

void Pipeline::Accept(std::vector<Reading> batch, Done done) {
  if (stopped_) {
    if (done) done(Status::Shutdown("gateway stopping"));
    return;
  }
  if (pending_readings_ + batch.size() > static_cast<size_t>(config_.buffer.max_pending_readings)) {
    stats_.refused_busy += batch.size();
    if (done) done(Status::Busy("core is behind; retry later"));
    return;
  }
  // Readings that no facility owns are not buffered: they could never be birthed or
  // reported. They are counted and logged (at most once a minute).
  size_t before = batch.size();
  std::erase_if(batch, [&](const Reading& r) { return !model_.KnowsSensor(r.facility_id, r.sensor_id); });
  if (batch.size() != before) {
    stats_.rejected_unknown += before - batch.size();
    int64_t now = clock_.NowMs();
    if (now - last_unknown_log_ms_ >= 60000) {
      spdlog::warn("pipeline: ignored {} readings for facilities or sensors not in the config "
                   "({} in all)", before - batch.size(), stats_.rejected_unknown);
      last_unknown_log_ms_ = now;
    }
  }
  DropTooOld(batch);
  // The wire's de-duplication key must be unique per reading (core/unique_stamps.h).
  stats_.stamps_moved += stamps_.Apply(batch);
  // A press does not wait for company: an emergency call is committed (and so published)
  // at once.
  const bool press = alarms_ && std::any_of(batch.begin(), batch.end(),
                                            [&](const Reading& r) { return model_.MayRaiseAlarm(r); });
  pending_readings_ += batch.size();
  pending_.push_back(PendingBatch{std::move(batch), std::move(done)});
  if (press || pending_readings_ >= static_cast<size_t>(config_.buffer.commit_max_readings) ||
      (waiting_for_company_ && Waiting() >= kLowRateReadings)) {
    commit_timer_.cancel();
    commit_scheduled_ = false;
    waiting_for_company_ = false;
    CommitNow();
  } else {
    ScheduleCommit();
  }
}

void Pipeline::DropTooOld(std::vector<Reading>& batch) {
  // How far back a reading may come (docs/report-format.md, "Late readings"): the days
  // the facility model and the history keep open for it. HTTP ingest answers 422 for
  // these itself; here they are the other drivers' (a device's own clock).
  const int64_t now = clock_.NowMs();
  const int64_t oldest = now - (int64_t(config_.history.late_days) + 1) * 86'400'000;
  const size_t before = batch.size();
  std::erase_if(batch, [&](const Reading& r) { return r.ts_ms < oldest; });
  if (batch.size() == before) return;
  stats_.rejected_too_old += before - batch.size();
  if (now - last_too_old_log_ms_ >= 60000) {
    spdlog::warn("pipeline: refused {} readings stamped more than history.late_days ({}) days ago ({} in all)",
                 before - batch.size(), config_.history.late_days, stats_.rejected_too_old);
    last_too_old_log_ms_ = now;
  }
}

void Pipeline::ScheduleCommit() {
  if (commit_scheduled_) return;
  commit_scheduled_ = true;
  first_pending_at_ = std::chrono::steady_clock::now();
  commit_timer_.expires_after(std::chrono::milliseconds(config_.buffer.commit_interval_ms));
  commit_timer_.async_wait([this, alive = std::weak_ptr<int>(life_)](boost::system::error_code ec) {
    if (ec || !alive.lock()) return;
    OnCommitTimer();
  });
}

void Pipeline::OnCommitTimer() {
  const auto limit = first_pending_at_ + std::chrono::milliseconds(config_.buffer.low_rate_commit_delay_ms);
  const auto now = std::chrono::steady_clock::now();
  if (!stopped_ && !waiting_for_company_ && Waiting() < kLowRateReadings &&
      outbox_.pending_ack_rows() < kDeleteAtOnceRows && now < limit) {
    // Accept() commits as soon as enough readings have joined.
    waiting_for_company_ = true;
    commit_timer_.expires_at(limit);
    commit_timer_.async_wait([this, alive = std::weak_ptr<int>(life_)](boost::system::error_code ec) {
      if (ec || !alive.lock()) return;
      OnCommitTimer();
    });
    return;
  }
  commit_scheduled_ = false;
  waiting_for_company_ = false;
  CommitNow();
}

void Pipeline::RequestCommit() {
  if (stopped_) return;
  if (outbox_.pending_ack_rows() >= kDeleteAtOnceRows) {
    ScheduleCommit();
  } else {
    ScheduleDeletes();
  }
}

void Pipeline::ScheduleDeletes() {
  if (delete_scheduled_) return;
  delete_scheduled_ = true;
  delete_timer_.expires_after(kDeleteDelay);
  delete_timer_.async_wait([this, alive = std::weak_ptr<int>(life_)](boost::system::error_code ec) {
    if (ec || !alive.lock()) return;
    delete_scheduled_ = false;
    if (!stopped_ && outbox_.HasPendingAcks()) CommitNow();
  });
}

Status Pipeline::Start(int64_t now_ms) {
  auto state = outbox_.GetMeta("model_state");
  if (state.ok()) {
    Status s = model_.LoadState(state.value());
    if (!s.ok()) spdlog::warn("pipeline: facility state not restored: {}", s.ToString());
  }
  committed_state_ = model_.SaveState();
  if (history_) {
    Status hs = history_->Load(outbox_.db());
    if (!hs.ok()) spdlog::warn("pipeline: history state not loaded: {}", hs.ToString());
  }
  if (alarms_) {
    // Closed alarms are kept as long as the history; the book remembers those a press
    // could still be delivered again for (readings as old as history.late_days).
    Status ps = store::PurgeAlarmsBefore(outbox_.db(), now_ms - int64_t(config_.history.retention_days) * 86'400'000);
    if (!ps.ok()) spdlog::warn("pipeline: old alarms not purged: {}", ps.ToString());
    auto stored = store::ReadAlarmsToResume(outbox_.db(), now_ms - (int64_t(config_.history.late_days) + 2) * 86'400'000);
    if (stored.ok()) {
      alarms_->Resume(std::move(stored.value()));
    } else {
      spdlog::error("pipeline: alarms not resumed from the buffer: {}", stored.status().ToString());
    }
  }
  model_.EmitAll(now_ms, pending_derived_);
  // Not fatal when it fails: the state waits in pending_derived_ and is committed again
  // (a gateway that exits here could never drain a buffer on a full or failing disk).
  Status s = CommitNow();
  ScheduleTick();
  return s;
}

void Pipeline::ScheduleTick() {
  tick_timer_.expires_after(std::chrono::seconds(1));
  tick_timer_.async_wait([this, alive = std::weak_ptr<int>(life_)](boost::system::error_code ec) {
    if (ec || !alive.lock() || stopped_) return;
    Tick();
    ScheduleTick();
  });
}

void Pipeline::Tick() {
  if (stopped_) return;
  ++stats_.ticks;
  size_t before = pending_derived_.size();
  const int64_t now = clock_.NowMs();
  model_.Tick(now, pending_derived_);
  QueueDailyReports(now);
  if (alarms_) alarms_->Escalate(now);
  if (alarms_ && alarms_->HasChanges()) {
    CommitNow();
  } else if (pending_derived_.size() != before) {
    ScheduleCommit();
  }
}

void Pipeline::QueueDailyReports(int64_t now_ms) {
  if (!history_ || !daily_ || !config_.history.daily_report) return;
  for (const auto& due : history_->DueReports(now_ms, int64_t(config_.history.daily_report_delay_s) * 1000)) {
    // The day's time is integrated to its end even if no reading has come since.
    history_->AdvanceTo(due.facility, due.end_ms);
    auto rows = history_->ReadDay(outbox_.db(), due.facility, due.day);
    if (!rows.ok()) {
      spdlog::error("pipeline: daily report of {} for {}: {}", due.facility, FormatDayNumber(due.day),
                    rows.status().ToString());
      return;
    }
    // The day's emergency calls, as committed (a change still waiting for its commit
    // revises the day when it is written: the hook in CommitNow).
    std::vector<Alarm> day_alarms;
    if (alarms_) {
      auto raised = store::ReadAlarmsRaised(outbox_.db(), due.facility, due.start_ms, due.end_ms);
      if (!raised.ok()) {
        spdlog::error("pipeline: daily report of {} for {}: {}", due.facility, FormatDayNumber(due.day),
                      raised.status().ToString());
        return;
      }
      day_alarms = std::move(raised.value());
    }
    auto value = daily_(due.facility, due.day, rows.value(), due.revision, day_alarms);
    history_->MarkReported(due.facility, due.day, due.revision);
    if (!value) continue;
    Reading r;
    r.facility_id = due.facility;
    r.point = "reports/daily";
    r.value = std::move(*value);
    // The first report at the midnight that ended the day; a revision when it is made,
    // so that (metric, timestamp) stays one value and a platform keeps the newest.
    if (due.revision == 0) {
      r.ts_ms = due.end_ms;
    } else {
      int64_t& last = last_revision_ts_[due.facility];
      r.ts_ms = last = std::max({now_ms, due.end_ms + 1, last + 1});
    }
    pending_derived_.push_back(std::move(r));
    if (due.revision == 0) {
      spdlog::info("daily report of {} for {} queued", due.facility, FormatDayNumber(due.day));
    } else {
      spdlog::info("daily report of {} for {} queued again (revision {}: late readings or alarms)", due.facility,
                   FormatDayNumber(due.day), due.revision);
    }
  }
}

void Pipeline::CommitAlarms() {
  if (!stopped_) CommitNow();
}

Status Pipeline::CommitNow() {
  const bool alarm_changes = alarms_ && alarms_->HasChanges();
  if (pending_.empty() && pending_derived_.empty() && !outbox_.HasPendingAcks() && !alarm_changes) {
    return Status::Ok();
  }
  std::vector<PendingBatch> batches = std::move(pending_);
  pending_.clear();
  pending_readings_ = 0;

  std::vector<Reading> rows;
  size_t raw_count = 0;
  for (const auto& b : batches) raw_count += b.readings.size();
  rows.reserve(raw_count * 2 + pending_derived_.size());
  std::vector<Reading> raw;
  raw.reserve(raw_count);
  for (auto& b : batches) {
    for (auto& r : b.readings) raw.push_back(std::move(r));
  }
  std::vector<Reading> derived;
  std::vector<AlarmPress> presses;
  model_.Process(raw, derived, alarms_ ? &presses : nullptr);
  if (alarms_) alarms_->Apply(presses);
  // The book's changes (and published versions) go in this transaction; a commit that
  // fails leaves them waiting in the book for the next one.
  std::vector<Alarm> alarm_rows;
  if (alarms_) alarm_rows = alarms_->Unwritten();
  // Rows go in time order as far as the pipeline knows it: the drivers' readings, what
  // they made the model derive (same timestamps), then what the clock's ticks derived
  // (stamped "now", after the readings that were already waiting).
  for (auto& r : raw) rows.push_back(std::move(r));
  size_t derived_count = derived.size() + pending_derived_.size();
  for (auto& r : derived) rows.push_back(std::move(r));
  for (auto& r : pending_derived_) rows.push_back(std::move(r));
  pending_derived_.clear();

  const size_t carried_from = raw_count + derived.size();
  std::string state = model_.SaveState();
  Status s;
  const bool state_changed = state != committed_state_;
  const bool alarm_write = alarms_ && alarms_->HasChanges();
  const auto commit_started = std::chrono::steady_clock::now();
  const uint64_t deletes_before = outbox_.pending_ack_rows();
  const bool wrote_alarms = !alarm_rows.empty() && !(rows.empty() && !state_changed && !alarm_write);
  if (rows.empty() && !state_changed && !alarm_write) {
    // Only deletes: nothing that was accepted depends on this commit.
    s = outbox_.CommitDeletes();
  } else {
    if (history_) history_->Ingest(rows, clock_.NowMs());
    const store::Outbox::TxnHook hook = [this, &alarm_rows](store::SqliteDb& db) {
      if (history_) {
        // An alarm of a day already reported that changes what the report counts
        // (acknowledged after the report, a press folded in after midnight): the day is
        // reported again, as after late readings. Marked before the history state is
        // written, so the mark is in this transaction (a rollback forgets it, and the
        // change, still unwritten in the book, marks it again with the next commit).
        for (const auto& a : alarm_rows) {
          auto before = store::ReadAlarm(db, a.facility_id, a.id);
          if (!before.ok()) return before.status();
          if (CountsChanged(before.value(), a)) history_->ReviseDayOf(a.facility_id, a.raised_ms, clock_.NowMs());
        }
        if (Status hs = history_->WriteInTxn(db); !hs.ok()) return hs;
      }
      return store::WriteAlarms(db, alarm_rows);
    };
    s = outbox_.Commit(rows, state_changed ? &state : nullptr, &hook);
    if (history_) {
      if (s.ok()) {
        history_->Committed();
      } else {
        history_->RolledBack();
      }
    }
  }
  if (s.ok()) {
    // The acknowledgements waiting went with this commit: the next one starts the
    // delete delay afresh.
    delete_timer_.cancel();
    delete_scheduled_ = false;
    committed_state_ = std::move(state);
    stats_.accepted += raw_count;
    stats_.derived += derived_count;
    ++stats_.commits;
    if (wrote_alarms) {
      // How long an emergency call waited for its own commit: the disk's part of the
      // press-to-broker latency (bench/alarm_latency.py).
      const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                              commit_started).count();
      if (alarm_write) {
        spdlog::log(took >= 250 ? spdlog::level::warn : spdlog::level::debug,
                    "pipeline: alarm changes committed in {} ms ({} rows, {} acknowledged deletes)", took,
                    rows.size(), deletes_before);
      }
      alarms_->Committed(clock_.NowMs());
    }
  } else {
    // Nothing of this batch is on disk: the model goes back to what is, the drivers
    // hear that their readings were not accepted (and offer them again), and what the
    // pipeline derived on its own is kept for the next attempt. What the model derived
    // from the drivers' readings is derived again when they come back.
    model_.LoadState(committed_state_);
    // The drivers offer these readings again: they keep their own timestamps.
    stamps_.Forget(std::vector<Reading>(rows.begin(), rows.begin() + long(raw_count)));
    pending_derived_.insert(pending_derived_.begin(), std::make_move_iterator(rows.begin() + carried_from),
                            std::make_move_iterator(rows.end()));
    if (s.code() == Status::Code::kNoSpace) stats_.refused_disk_full += raw_count;
    else stats_.refused_io_error += raw_count;
  }
  OnCommitResult(s, rows.size(), raw_count);
  for (auto& b : batches) {
    if (b.done) b.done(s);
  }
  if (s.ok() && on_committed_) on_committed_();
  return s;
}

void Pipeline::OnCommitResult(const Status& s, size_t readings, size_t raw) {
  // Wall time, not the readings' clock (which a simulation runs fast): this paces log lines.
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now().time_since_epoch()).count();
  // A full disk refuses only new readings: derived metrics and deletes still commit,
  // and their success says nothing about whether the next reading will be taken.
  if (s.ok() && disk_full_ && raw == 0) return;
  if (s.ok()) {
    disk_full_ = false;
    if (!stats_.failing.empty()) {
      spdlog::info("pipeline: commits succeed again ({} failed before)", failures_since_log_ + 1);
    }
    stats_.failing.clear();
    failures_since_log_ = 0;
    retry_delay_ = std::chrono::milliseconds(250);
    return;
  }
  ++stats_.commit_failures;
  // One line when commits start failing, then one every 10 s: a refused driver retries
  // every few hundred milliseconds, and a line per batch would flood the journal on the
  // very card that is full or failing.
  if (stats_.failing.empty() || now - failure_logged_ms_ >= 10000) {
    if (stats_.failing.empty()) {
      spdlog::error("pipeline: commit of {} readings failed: {}", readings, s.ToString());
    } else {
      spdlog::error("pipeline: commits still failing ({} failed in the last {} s): {}", failures_since_log_ + 1,
                    (now - failure_logged_ms_ + 500) / 1000, s.ToString());
    }
    failure_logged_ms_ = now;
    failures_since_log_ = 0;
  } else {
    ++failures_since_log_;
  }
  disk_full_ = s.code() == Status::Code::kNoSpace;
  stats_.failing = disk_full_ ? "the buffer's disk is full: new readings are refused"
                              : "the buffer cannot commit: " + s.message();
  if (!pending_derived_.empty() || outbox_.HasPendingAcks() || (alarms_ && alarms_->HasChanges())) ScheduleRetry();
}

void Pipeline::ScheduleRetry() {
  if (retry_scheduled_ || stopped_) return;
  retry_scheduled_ = true;
  retry_timer_.expires_after(retry_delay_);
  retry_delay_ = std::min<std::chrono::milliseconds>(retry_delay_ * 2, std::chrono::seconds(5));
  retry_timer_.async_wait([this, alive = std::weak_ptr<int>(life_)](boost::system::error_code ec) {
    if (ec || !alive.lock()) return;
    retry_scheduled_ = false;
    if (!stopped_) CommitNow();
  });
}

Status Pipeline::Stop() {
  stopped_ = true;
  commit_timer_.cancel();
  tick_timer_.cancel();
  retry_timer_.cancel();
  delete_timer_.cancel();
  return CommitNow();
}

PipelineStats Pipeline::stats() const {
  PipelineStats s = stats_;
  s.pending = pending_readings_;
  s.pending_derived = pending_derived_.size();
  if (history_) {
    for (const auto& f : config_.facilities) s.late_readings[f.id] = history_->late_readings(f.id);
  }
  return s;
}

}  // namespace gateway
