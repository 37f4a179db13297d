// bench_pipeline: end-to-end figures of the core on this machine, against a real
// mosquitto that the benchmark starts on a free loopback port.
//
//   bench_pipeline throughput [seconds]   sustained readings/s, producer -> PUBACK
//   bench_pipeline drain [readings]       time to drain a backlog (default 1,000,000)
//   bench_pipeline latency [seconds]      reading -> PUBACK latency at 1,000 readings/s
//
// Each mode is its own process so that its peak RSS (printed) is its own. The
// components are the gateway's own (Outbox, FacilityModel, Pipeline, MqttUplink) on one
// io_context, with synchronous=FULL: every accepted reading is on disk.
#include <netinet/in.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.h"
#include "core/facility_model.h"
#include "core/pipeline.h"
#include "store/outbox.h"
#include "uplink/mqtt_uplink.h"

using namespace gateway;
namespace fs = std::filesystem;
using Clk = std::chrono::steady_clock;

using bench::CanConnect;
using bench::FreePort;
using bench::PeakRssKb;

namespace {

constexpr int kFacilities = 10;
constexpr int kSensorsPerFacility = 50;  // door counters: 2 points each -> 1,000 readings a sample

// A private mosquitto, as the tests run it (max_queued_messages 0: never drops).
struct Broker {
  pid_t pid = -1;
  int port = 0;
  std::string dir;
  explicit Broker(const std::string& work) : dir(work) {
    port = FreePort();
    std::ofstream(dir + "/mosquitto.conf") << "listener " << port << " 127.0.0.1\nallow_anonymous true\n"
                                           << "persistence false\nmax_queued_messages 0\n"
                                           << "log_dest none\n";
    pid = fork();
    if (pid == 0) {
      execlp("mosquitto", "mosquitto", "-c", (dir + "/mosquitto.conf").c_str(), nullptr);
      _exit(127);
    }
    for (int i = 0; i < 200 && !CanConnect(port); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ~Broker() {
    kill(pid, SIGTERM);
    waitpid(pid, nullptr, 0);
  }
};

Config BenchConfig(const std::string& dir, int port) {
  Config c;
  c.file = "(bench)";
  c.group_id = "bench";
  c.edge_node_id = "gw";
  c.data_dir = dir;
  c.buffer.max_disk_bytes = 4ull << 30;
  // Everything else at the shipped defaults (config.h), so the figures are what a
  // deployment gets.
  c.uplink.brokers = {"tcp://127.0.0.1:" + std::to_string(port)};
  c.uplink.client_id = "bench-gw";
  c.uplink.node_metrics_interval_s = 3600;
  for (int f = 0; f < kFacilities; ++f) {
    FacilityConfig fc;
    fc.id = "f" + std::to_string(f);
    fc.type = FacilityType::kCanteen;
    fc.name = fc.id;
    fc.capacity = 500;
    for (int s = 0; s < kSensorsPerFacility; ++s) {
      SensorConfig sc;
      sc.id = "door-" + std::to_string(s);
      sc.kind = SensorKind::kDoorCounter;
      fc.sensors.push_back(sc);
    }
    c.facilities.push_back(fc);
  }
  return c;
}

// One poll of every sensor at one instant: 1,000 readings.
std::vector<Reading> Sample(uint64_t k, int64_t ts) {
  std::vector<Reading> out;
  out.reserve(kFacilities * kSensorsPerFacility * 2);
  for (int f = 0; f < kFacilities; ++f) {
    for (int s = 0; s < kSensorsPerFacility; ++s) {
      // Appended, not `"f" + std::to_string(f)`: GCC 12 at -O3 reports a false -Wrestrict
      // overlap in that operator (see gateway/core/console_view.cc).
      std::string fid = "f", sid = "door-";
      fid += std::to_string(f);
      sid += std::to_string(s);
      out.push_back(Reading{fid, sid, "entries_total", Value(uint64_t(1000 + 2 * k)), ts, Quality::kGood});
      out.push_back(Reading{fid, sid, "exits_total", Value(uint64_t(1000 + 2 * k - (k % 2))), ts, Quality::kGood});
    }
  }
  return out;
}

long CurrentRssKb() {
  std::ifstream in("/proc/self/statm");
  long pages = 0, resident = 0;
  in >> pages >> resident;
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

struct Rig {
  boost::asio::io_context io;
  Config config;
  std::unique_ptr<store::Outbox> outbox;
  std::unique_ptr<FacilityModel> model;
  std::unique_ptr<store::History> history;
  std::unique_ptr<Pipeline> pipeline;
  std::unique_ptr<uplink::MqttUplink> uplink;

  Rig(const std::string& dir, int port) : config(BenchConfig(dir, port)) {
    outbox = std::move(store::Outbox::Open(dir, config.buffer, SystemClock::Instance()).value());
    model = std::move(FacilityModel::Create(config).value());
    pipeline = std::make_unique<Pipeline>(io, config, *outbox, *model, SystemClock::Instance());
    // BENCH_HISTORY=1: with the utilisation history folded into every commit, as the
    // App runs it (issue 5).
    if (const char* h = std::getenv("BENCH_HISTORY"); h && std::string(h) == "1") {
      history = std::move(store::History::Create(config).value());
      pipeline->set_history(history.get());
    }
    uplink = std::make_unique<uplink::MqttUplink>(io, config, *outbox, SystemClock::Instance(), "bench");
    pipeline->set_on_committed([this] { uplink->Notify(); });
    uplink->set_on_acked([this] { pipeline->RequestCommit(); });
  }
  void Start() {
    pipeline->Start(SystemClock::Instance().NowMs());
    uplink->Start();
  }
  void Stop() {
    boost::asio::post(io, [this] {
      pipeline->Stop();
      uplink->Stop([this] { io.stop(); });
    });
  }
};

int Throughput(const std::string& work, double seconds) {
  Broker broker(work);
  Rig rig(work + "/data", broker.port);
  std::atomic<uint64_t> acked{0}, accepted{0}, busy{0};
  std::atomic<uint64_t> depth{0};
  rig.uplink->set_ack_observer([&](const std::vector<int64_t>& ts) { acked += ts.size(); });
  // The buffer depth is the io thread's; a timer on that thread publishes it so the
  // producer can hold the backlog bounded: what is measured is a rate the uplink
  // sustains, not a buffer filling up.
  boost::asio::steady_timer depth_timer(rig.io);
  std::function<void()> sample_depth = [&] {
    depth = rig.outbox->depth();
    depth_timer.expires_after(std::chrono::milliseconds(10));
    depth_timer.async_wait([&](boost::system::error_code ec) {
      if (!ec) sample_depth();
    });
  };
  rig.Start();
  boost::asio::post(rig.io, sample_depth);
  std::atomic<bool> stop{false};
  std::atomic<int> outstanding{0};
  constexpr uint64_t kMaxBacklog = 100000;
  std::thread producer([&] {
    uint64_t k = 0;
    while (!stop) {
      if (outstanding >= 16 || depth > kMaxBacklog) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        continue;
      }
      ++outstanding;
      int64_t ts = SystemClock::Instance().NowMs();
      auto batch = Sample(k++, ts);
      size_t n = batch.size();
      rig.pipeline->Submit(std::move(batch), [&, n](const Status& s) {
        if (s.ok()) accepted += n;
        if (s.code() == Status::Code::kBusy) ++busy;
        --outstanding;
      });
    }
  });
  std::thread runner([&] { rig.io.run(); });
  // Warm up, then measure over the window.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  uint64_t a0 = acked, acc0 = accepted;
  auto t0 = Clk::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  double dt = std::chrono::duration<double>(Clk::now() - t0).count();
  uint64_t a1 = acked, acc1 = accepted;
  stop = true;
  producer.join();
  boost::asio::post(rig.io, [&] { depth_timer.cancel(); });
  rig.Stop();
  runner.join();
  // Acknowledged rows include the facility metrics derived from the raw readings
  // (3 per facility per sample); accepted counts raw readings committed.
  std::printf("throughput: %.0f readings/s accepted (durable, synchronous=%s) with the backlog held under "
              "%lu; %.0f rows/s acknowledged by the broker; over %.1f s; %lu batches refused busy; "
              "peak RSS %ld kB\n",
              (acc1 - acc0) / dt, rig.config.buffer.synchronous.c_str(), kMaxBacklog, (a1 - a0) / dt, dt,
              busy.load(), PeakRssKb());
  return 0;
}

int Drain(const std::string& work, uint64_t readings) {
  std::string dir = work + "/data";
  {
    // Fill the buffer as an outage would: accepted, never sent.
    Config c = BenchConfig(dir, 1);
    auto outbox = std::move(store::Outbox::Open(dir, c.buffer, SystemClock::Instance()).value());
    auto t0 = Clk::now();
    int64_t ts = SystemClock::Instance().NowMs() - 3600 * 1000;
    for (uint64_t k = 0; outbox->depth() < readings; ++k) {
      auto batch = Sample(k, ts + int64_t(k));
      size_t n = std::min<uint64_t>(batch.size(), readings - outbox->depth());
      batch.resize(n);
      outbox->Commit(batch, nullptr);
    }
    double dt = std::chrono::duration<double>(Clk::now() - t0).count();
    std::printf("backlog: %lu readings written in %.2f s (%.0f rows/s at 1,000 rows per commit), "
                "file %.1f MB\n",
                outbox->depth(), dt, outbox->depth() / dt, fs::file_size(dir + "/buffer.db") / 1e6);
  }
  long rss_before = CurrentRssKb();
  Broker broker(work);
  Rig rig(dir, broker.port);
  std::atomic<long> peak_sampled{0};
  auto t0 = Clk::now();
  double done_s = -1;
  boost::asio::steady_timer poll(rig.io);
  std::function<void()> check = [&] {
    peak_sampled = std::max(peak_sampled.load(), CurrentRssKb());
    if (rig.outbox->depth() == 0 && done_s < 0) {
      done_s = std::chrono::duration<double>(Clk::now() - t0).count();
      rig.pipeline->Stop();
      rig.uplink->Stop([&] { rig.io.stop(); });
      return;
    }
    poll.expires_after(std::chrono::milliseconds(20));
    poll.async_wait([&](boost::system::error_code ec) {
      if (!ec) check();
    });
  };
  rig.Start();
  check();
  rig.io.run();
  std::printf("drain: %lu readings delivered and deleted in %.2f s (%.0f readings/s); RSS before %ld kB, "
              "sampled peak during drain %ld kB, process peak RSS %ld kB\n",
              readings, done_s, readings / done_s, rss_before, peak_sampled.load(), PeakRssKb());
  return 0;
}

int Latency(const std::string& work, double seconds) {
  Broker broker(work);
  Rig rig(work + "/data", broker.port);
  std::mutex mu;
  std::vector<int64_t> lat;
  rig.uplink->set_ack_observer([&](const std::vector<int64_t>& ts) {
    int64_t now = SystemClock::Instance().NowMs();
    std::lock_guard<std::mutex> lock(mu);
    for (int64_t t : ts) lat.push_back(now - t);
  });
  // Where a slow reading spent its time: publish -> PUBACK (the broker's round trip and
  // Paho's threads), and the gaps between the core's commits (a commit or the loop held
  // up). Both are read on the loop's or Paho's thread, hence the mutex.
  std::vector<double> puback_ms;
  std::vector<int64_t> commit_gap_ms;
  rig.uplink->set_publish_latency_observer([&](double s) {
    std::lock_guard<std::mutex> lock(mu);
    puback_ms.push_back(s * 1000.0);
  });
  // Gaps are counted only while the load runs: after it, the next commit is a tick away.
  std::atomic<bool> producing{true};
  int64_t last_commit = -1;
  rig.pipeline->set_on_committed([&] {
    const int64_t now =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clk::now().time_since_epoch()).count();
    if (last_commit >= 0 && producing.load()) {
      std::lock_guard<std::mutex> lock(mu);
      commit_gap_ms.push_back(now - last_commit);
    }
    last_commit = now;
    rig.uplink->Notify();
  });
  rig.Start();
  std::thread runner([&] { rig.io.run(); });
  // 1,000 readings/s: 10 readings every 10 ms, stamped when produced. Only raw
  // readings are timed (derived rows carry the same timestamps).
  auto next = Clk::now();
  auto end = next + std::chrono::duration_cast<Clk::duration>(std::chrono::duration<double>(seconds));
  uint64_t k = 0;
  while (Clk::now() < end) {
    next += std::chrono::milliseconds(10);
    std::this_thread::sleep_until(next);
    int64_t ts = SystemClock::Instance().NowMs();
    std::vector<Reading> batch;
    for (int i = 0; i < 10; ++i) {
      int f = int(k % kFacilities);
      batch.push_back(Reading{"f" + std::to_string(f), "door-" + std::to_string(i), "entries_total",
                              Value(uint64_t(1000 + k)), ts, Quality::kGood});
    }
    ++k;
    rig.pipeline->Submit(std::move(batch));
  }
  producing = false;
  std::this_thread::sleep_for(std::chrono::seconds(1));
  rig.Stop();
  runner.join();
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double p) { return lat.empty() ? -1 : lat[size_t(p * double(lat.size() - 1))]; };
  std::printf("latency at 1,000 readings/s over %.0f s: %zu rows acknowledged; p50 %ld ms, p90 %ld ms, "
              "p99 %ld ms, max %ld ms; peak RSS %ld kB\n",
              seconds, lat.size(), pct(0.5), pct(0.9), pct(0.99), lat.empty() ? -1 : lat.back(), PeakRssKb());
  std::sort(puback_ms.begin(), puback_ms.end());
  std::sort(commit_gap_ms.begin(), commit_gap_ms.end());
  auto at = [](const auto& v, double p) { return v.empty() ? -1.0 : double(v[size_t(p * double(v.size() - 1))]); };
  const size_t long_gaps = size_t(std::count_if(commit_gap_ms.begin(), commit_gap_ms.end(), [](int64_t g) {
    return g > 100;
  }));
  std::printf("  publish -> PUBACK: %zu DDATA; p50 %.1f ms, p99 %.1f ms, max %.1f ms\n"
              "  gaps between commits while the load runs: %zu; p50 %.0f ms, p99 %.0f ms, max %.0f ms; %zu over 100 ms\n",
              puback_ms.size(), at(puback_ms, 0.5), at(puback_ms, 0.99), puback_ms.empty() ? -1.0 : puback_ms.back(),
              commit_gap_ms.size(), at(commit_gap_ms, 0.5), at(commit_gap_ms, 0.99),
              commit_gap_ms.empty() ? -1.0 : double(commit_gap_ms.back()), long_gaps);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  std::string mode = argc > 1 ? argv[1] : "";
  std::string work = fs::temp_directory_path() / ("bench-gw-" + std::to_string(getpid()));
  fs::create_directories(work);
  int rc = 2;
  if (mode == "throughput") {
    rc = Throughput(work, argc > 2 ? std::stod(argv[2]) : 20);
  } else if (mode == "drain") {
    rc = Drain(work, argc > 2 ? std::stoull(argv[2]) : 1000000);
  } else if (mode == "latency") {
    rc = Latency(work, argc > 2 ? std::stod(argv[2]) : 30);
  } else {
    std::fprintf(stderr, "usage: bench_pipeline throughput|drain|latency [seconds|readings]\n");
  }
  fs::remove_all(work);
  return rc;
}
