#include "simulator/simulator_driver.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <cmath>
#include <cstdio>
#include <utility>

#include "gateway/local_time.h"
#include "simulator/facility_patterns.h"

namespace simulator {

using gateway::Reading;
using gateway::Result;
using gateway::Status;

// ---------------------------------------------------------------------------------------
// SimulatedClock

SimulatedClock::SimulatedClock(int64_t start_ms, double speed)
    : start_ms_(start_ms), speed_(speed), real_start_(std::chrono::steady_clock::now()) {}

int64_t SimulatedClock::NowMs() const {
  double real_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - real_start_).count();
  return start_ms_ + static_cast<int64_t>(std::floor(real_ms * speed_));
}

namespace {

// Samples a run may replay silently to resume on its original grid (see Impl::Impl).
// Beyond this (~140 days of one-minute samples, several seconds of replay at start-up)
// it starts a fresh grid instead.
constexpr uint64_t kMaxReplaySamples = 200'000;

// How long to wait before offering a refused batch again.
constexpr auto kBusyRetry = std::chrono::milliseconds(50);
constexpr auto kErrorRetry = std::chrono::milliseconds(1000);

int64_t IntervalMs(const gateway::Config& config) {
  double ms = config.simulator.interval_s * 1000.0;
  if (!(ms >= 1.0)) return 1;
  return static_cast<int64_t>(std::llround(ms));
}

const std::string& ZoneName(const gateway::Config& config) {
  if (!config.facilities.empty() && !config.facilities.front().timezone.empty()) {
    return config.facilities.front().timezone;
  }
  return config.timezone;
}

// "YYYY-MM-DDTHH:MM" (also with a space instead of T, and with ":SS") in the given zone.
Result<int64_t> ParseLocalStart(const std::string& text, const gateway::TimeZone& tz) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  char sep = 0;
  int used = 0;
  int n = std::sscanf(text.c_str(), "%4d-%2d-%2d%c%2d:%2d%n", &y, &mo, &d, &sep, &h, &mi, &used);
  if (n < 6 || (sep != 'T' && sep != ' ')) {
    return Status::InvalidArgument("simulator.start: '" + text + "' is not YYYY-MM-DDTHH:MM");
  }
  if (text[size_t(used)] != '\0') {
    int used2 = 0;
    if (std::sscanf(text.c_str() + used, ":%2d%n", &s, &used2) != 1 || text[size_t(used + used2)] != '\0') {
      return Status::InvalidArgument("simulator.start: '" + text + "' is not YYYY-MM-DDTHH:MM");
    }
  }
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (mo < 1 || mo > 12 || d < 1 || d > kDays[mo - 1] || (mo == 2 && d == 29 && !leap) || h < 0 || h > 23 ||
      mi < 0 || mi > 59 || s < 0 || s > 59) {
    return Status::InvalidArgument("simulator.start: '" + text + "' is out of range");
  }
  return tz.FromLocal(y, mo, d, h * 60 + mi) + int64_t(s) * 1000;
}

Result<int64_t> ConfiguredStart(const gateway::Config& config) {
  auto tz = gateway::TimeZone::Load(ZoneName(config));
  if (!tz.ok()) return tz.status();
  return ParseLocalStart(config.simulator.start, tz.value());
}

void Add(GeneratedTotals& t, const FacilityEvents& e) {
  t.entries += e.entries;
  t.exits += e.exits;
  t.meals += e.meals;
  t.checkins += e.checkins;
  t.charging_sessions += e.charging_sessions;
  t.equipment_sessions += e.equipment_sessions;
  t.readings += e.readings;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Impl: everything runs on the event-loop thread. One batch is in flight at a time, so
// a refused batch can be offered again before any later sample: the order of samples in
// the buffer is the order of the grid.

struct SimulatorDriver::Impl {
  Impl(boost::asio::io_context& io_in, const gateway::Config& config_in, const SimulatedClock& clock_in)
      : io(io_in), config(config_in), clock(clock_in), timer(io_in) {
    interval_ms = IntervalMs(config);
    options.seed = config.simulator.seed;
    options.interval_ms = interval_ms;
    options.dropout_probability = config.simulator.dropout_probability;
    auto s = Simulation::Create(config, options);
    if (!s.ok()) {
      init_status = s.status();
      return;
    }
    sim = std::move(s.value());

    // The grid normally starts at the clock's start. When the clock was started later
    // than the configured start (a restart that resumes the run), the grid stays anchored
    // at the configured start and the samples before the clock's start are replayed
    // without being sent, so counters and sessions continue exactly as in one long run.
    anchor_ms = clock.start_ms();
    if (!config.simulator.start.empty()) {
      auto configured = ConfiguredStart(config);
      if (configured.ok() && configured.value() < clock.start_ms()) {
        int64_t gap = clock.start_ms() - configured.value();
        uint64_t k0 = uint64_t((gap + interval_ms - 1) / interval_ms);
        if (k0 <= kMaxReplaySamples) {
          anchor_ms = configured.value();
          first_k = k0;
        } else {
          spdlog::warn("simulator: {} samples since simulator.start are too many to replay; "
                       "starting a fresh grid at the clock's start", k0);
        }
      }
    }
    next_k = first_k;
  }

  int64_t SampleTime(uint64_t k) const { return anchor_ms + int64_t(k) * interval_ms; }

  double Speed() const { return clock.speed() > 0 ? clock.speed() : 1.0; }

  void Pump() {
    if (stopped || in_flight) return;
    const uint64_t max = config.simulator.max_samples;
    while (max == 0 || produced < max) {
      int64_t t = SampleTime(next_k);
      int64_t now = clock.NowMs();
      if (t > now) {
        // Real time at which the simulated clock reaches t; rounding up so that the
        // timer never fires before the sample is due.
        double wait_us = std::ceil(double(t - now) * 1000.0 / Speed());
        timer.expires_after(std::chrono::microseconds(int64_t(wait_us)));
        timer.async_wait([this, alive = std::weak_ptr<int>(life)](boost::system::error_code ec) {
          if (!alive.lock() || ec) return;
          Pump();
        });
        return;
      }
      Produce(t);
      if (!batch.empty()) {
        Send();
        return;  // the next sample waits for this one's answer
      }
    }
    if (!finished_logged) {
      finished_logged = true;
      spdlog::info("simulator: produced the {} samples asked for (simulator.max_samples)", produced);
    }
  }

  void Produce(int64_t t) {
    batch.clear();
    results.clear();
    sim->Step(t, batch, &results);
    for (const auto& r : results) {
      // Counted when generated, so a batch later refused for good (shutdown) still
      // counts: these are what the simulated sensors saw, not what the gateway stored.
      Add(totals[sim->facility_id(r.facility_index)][gateway::FormatDayNumber(r.local_day)], r.events);
    }
    ++next_k;
    ++produced;
  }

  void Send() {
    in_flight = true;
    std::vector<Reading> copy = batch;  // kept in `batch` until accepted, to offer again
    sink->Submit(std::move(copy), [this, io_ptr = &io, alive = std::weak_ptr<int>(life)](const Status& s) {
      // The sink may answer from inside Submit or from another thread: continue on the
      // loop, and only if the driver still exists.
      boost::asio::post(*io_ptr, [this, alive, s] {
        if (!alive.lock()) return;
        OnSubmitted(s);
      });
    });
  }

  void OnSubmitted(const Status& s) {
    in_flight = false;
    if (stopped) return;
    if (s.ok()) {
      batch.clear();
      retries_in_row = 0;
      Pump();
      return;
    }
    if (s.code() == Status::Code::kShutdown) {
      spdlog::info("simulator: the core is shutting down; no more samples");
      stopped = true;
      timer.cancel();
      return;
    }
    // kBusy (back-pressure) or a failed commit: nothing was stored. Offer the same batch
    // again before any later sample, so no sample is skipped, invented or reordered.
    ++resubmits;
    ++retries_in_row;
    bool busy = s.code() == Status::Code::kBusy;
    if (!busy && (retries_in_row == 1 || retries_in_row % 60 == 0)) {
      spdlog::warn("simulator: batch of {} readings not accepted ({}); retrying", batch.size(), s.ToString());
    }
    timer.expires_after(busy ? kBusyRetry : kErrorRetry);
    timer.async_wait([this, alive = std::weak_ptr<int>(life)](boost::system::error_code ec) {
      if (!alive.lock() || ec || stopped) return;
      Send();
    });
  }

  std::vector<Reading> SampleForTest(uint64_t k) {
    if (!init_status.ok()) return {};
    if (!test_sim || k < test_next_k) {
      auto s = Simulation::Create(config, options);
      if (!s.ok()) return {};
      test_sim = std::move(s.value());
      test_next_k = 0;
    }
    std::vector<Reading> out;
    while (test_next_k <= k) {
      out.clear();
      test_sim->Step(SampleTime(test_next_k), out);
      ++test_next_k;
    }
    return out;
  }

  boost::asio::io_context& io;
  const gateway::Config config;  // a copy: the driver may outlive the caller's struct
  const SimulatedClock& clock;
  boost::asio::steady_timer timer;
  SimulationOptions options;
  int64_t interval_ms = 60000;
  int64_t anchor_ms = 0;
  uint64_t first_k = 0;   // first grid index this run sends
  uint64_t next_k = 0;    // grid index of the next sample to produce
  uint64_t produced = 0;  // samples produced by this run
  Status init_status;
  std::unique_ptr<Simulation> sim;
  std::unique_ptr<Simulation> test_sim;  // separate, so tests never disturb a live run
  uint64_t test_next_k = 0;

  gateway::ReadingSink* sink = nullptr;
  bool started = false;
  bool stopped = false;
  bool in_flight = false;
  bool finished_logged = false;
  std::vector<Reading> batch;  // the sample in flight
  std::vector<FacilityStepResult> results;
  uint64_t resubmits = 0;
  uint64_t retries_in_row = 0;
  std::map<std::string, std::map<std::string, GeneratedTotals>> totals;

  // Callbacks hold a weak_ptr to this: once the driver is gone they do nothing.
  std::shared_ptr<int> life = std::make_shared<int>(0);
};

// ---------------------------------------------------------------------------------------
// SimulatorDriver

SimulatorDriver::SimulatorDriver(boost::asio::io_context& io, const gateway::Config& config,
                                 const SimulatedClock& clock)
    : impl_(std::make_unique<Impl>(io, config, clock)) {}

SimulatorDriver::~SimulatorDriver() {
  if (impl_) Stop();
}

Result<std::unique_ptr<SimulatedClock>> SimulatorDriver::MakeClock(const gateway::Config& config) {
  const auto& sc = config.simulator;
  if (!(sc.speed > 0) || !std::isfinite(sc.speed)) {
    return Status::InvalidArgument("simulator.speed: must be a number > 0");
  }
  if (!(sc.interval_s > 0) || !std::isfinite(sc.interval_s)) {
    return Status::InvalidArgument("simulator.interval_s: must be a number > 0");
  }
  int64_t start_ms = 0;
  if (sc.start.empty()) {
    // Now, rounded down to a whole interval so that grids of separate runs line up.
    int64_t now = gateway::SystemClock::Instance().NowMs();
    int64_t interval = IntervalMs(config);
    start_ms = now - (now % interval);
  } else {
    auto s = ConfiguredStart(config);
    if (!s.ok()) return s.status();
    start_ms = s.value();
  }
  return std::make_unique<SimulatedClock>(start_ms, sc.speed);
}

Status SimulatorDriver::Start(gateway::ReadingSink& sink) {
  Impl& d = *impl_;
  if (!d.init_status.ok()) return d.init_status;
  if (d.started) return Status::InvalidArgument("simulator: already started");
  d.started = true;
  d.sink = &sink;
  if (d.first_k > 0) {
    // Resuming: rebuild the state of the samples before the clock's start.
    std::vector<Reading> scratch;
    for (uint64_t k = 0; k < d.first_k; ++k) {
      scratch.clear();
      d.sim->Step(d.SampleTime(k), scratch);
    }
  }
  spdlog::info("simulator: {} facilities, a sample every {} ms of simulated time at {}x, "
               "first sample #{} at {} ms",
               d.sim->facility_count(), d.interval_ms, d.Speed(), d.first_k, d.SampleTime(d.first_k));
  d.Pump();
  return Status::Ok();
}

void SimulatorDriver::Stop() {
  Impl& d = *impl_;
  d.stopped = true;
  d.timer.cancel();
}

const std::map<std::string, std::map<std::string, GeneratedTotals>>& SimulatorDriver::totals() const {
  return impl_->totals;
}

std::vector<gateway::Reading> SimulatorDriver::SampleForTest(uint64_t k) { return impl_->SampleForTest(k); }

}  // namespace simulator
