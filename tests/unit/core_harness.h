// The core without drivers or MQTT, for tests that run it whole: the real Pipeline,
// FacilityModel, History and SQLite Outbox on a FakeClock, with the daily report as the
// App wires it (and, on request, the AlarmBook). Single-threaded: the test thread runs the io_context.
#pragma once

#include <catch2/catch.hpp>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <optional>

#include "core/facility_model.h"
#include "core/pipeline.h"
#include "report/figures.h"
#include "store/history.h"
#include "store/outbox.h"

namespace gateway::testing {

class FakeClock final : public Clock {
 public:
  int64_t NowMs() const override { return now.load(); }
  std::atomic<int64_t> now{0};
};

struct CoreHarness {
  Config& config;
  FakeClock& clock;
  boost::asio::io_context io;
  std::unique_ptr<store::Outbox> outbox;
  std::unique_ptr<FacilityModel> model;
  std::unique_ptr<store::History> history;
  std::unique_ptr<AlarmBook> alarms;  // with_alarms only: the emergency calls, as the App wires them
  std::unique_ptr<Pipeline> pipeline;

  CoreHarness(Config& c, FakeClock& k, bool with_alarms = false) : config(c), clock(k) {
    outbox = std::move(store::Outbox::Open(config.data_dir, config.buffer, clock).value());
    model = std::move(FacilityModel::Create(config).value());
    history = std::move(store::History::Create(config).value());
    pipeline = std::make_unique<Pipeline>(io, config, *outbox, *model, clock);
    pipeline->set_history(history.get(), [this](const std::string& f, int64_t day,
                                                const std::vector<store::HourRow>& rows, int revision,
                                                const std::vector<Alarm>& alarms) -> std::optional<Value> {
      auto d = report::DailyReportOf(config, f, day, rows, revision, alarms);
      if (!d) return std::nullopt;
      return Value(std::move(*d));
    });
    if (with_alarms) {
      alarms = std::make_unique<AlarmBook>(config.alarms, (int64_t(config.history.late_days) + 2) * 86'400'000);
      pipeline->set_alarms(alarms.get());
    }
    REQUIRE(pipeline->Start(clock.NowMs()).ok());
  }
  ~CoreHarness() {
    pipeline->Stop();
    pipeline.reset();
    outbox.reset();
  }

  template <typename Pred>
  void RunUntil(Pred done, int max_ms) {
    for (int i = 0; i < max_ms / 10 && !done(); ++i) io.run_one_for(std::chrono::milliseconds(10));
  }

  // Submits a batch and runs the loop until it is committed.
  void Submit(std::vector<Reading> batch) {
    std::optional<Status> done;
    pipeline->Submit(std::move(batch), [&](const Status& s) { done = s; });
    RunUntil([&] { return done.has_value(); }, 20000);
    REQUIRE(done.has_value());
    REQUIRE(done->ok());
  }
};

}  // namespace gateway::testing
