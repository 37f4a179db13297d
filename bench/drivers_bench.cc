// bench_drivers: throughput of the southbound drivers on this machine, each with the
// gateway's own Outbox, FacilityModel and Pipeline on one io_context (synchronous=FULL:
// every accepted reading is on disk), no uplink.
//
//   bench_drivers http [seconds] [clients] [readings per request]
//       HTTP ingest: `clients` threads, each on its own keep-alive connection, POST
//       batches back to back; counts readings answered 202 (committed). Default 10 s,
//       50 clients, 20 readings.
//   bench_drivers modbus [seconds] [devices] [poll interval ms]
//       Modbus TCP: `devices` devices (each its own connection and worker thread) to a
//       libmodbus server in this process, each polled every interval (4 registers: two
//       uint32 counters); counts polls whose readings were committed. Default 10 s, 100
//       devices, 10 ms.
#include <modbus.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.h"
#include "core/facility_model.h"
#include "core/pipeline.h"
#include "http_ingest/http_ingest.h"
#include "modbus/modbus_driver.h"
#include "store/outbox.h"

using namespace gateway;
namespace fs = std::filesystem;
using Clk = std::chrono::steady_clock;

using bench::CanConnect;
using bench::FreePort;
using bench::PeakRssKb;

namespace {

Config BaseConfig(const std::string& dir, const std::string& driver, int sensors, SensorKind kind) {
  Config c;
  c.file = "(bench)";
  c.group_id = "bench";
  c.edge_node_id = "gw";
  c.data_dir = dir;
  c.buffer.max_disk_bytes = 4ull << 30;
  FacilityConfig fc;
  fc.id = "f0";
  fc.name = "f0";
  fc.capacity = 1000;
  for (int s = 0; s < sensors; ++s) {
    SensorConfig sc;
    sc.id = "s" + std::to_string(s);
    sc.kind = kind;
    sc.driver = driver;
    fc.sensors.push_back(sc);
  }
  c.facilities.push_back(fc);
  return c;
}

struct Core {
  boost::asio::io_context io;
  std::unique_ptr<store::Outbox> outbox;
  std::unique_ptr<FacilityModel> model;
  std::unique_ptr<Pipeline> pipeline;
  Core(const Config& c) {
    outbox = std::move(store::Outbox::Open(c.data_dir, c.buffer, SystemClock::Instance()).value());
    model = std::move(FacilityModel::Create(c).value());
    pipeline = std::make_unique<Pipeline>(io, c, *outbox, *model, SystemClock::Instance());
    pipeline->Start(SystemClock::Instance().NowMs());
  }
};

int Http(const std::string& work, double seconds, int clients, int per_request) {
  Config c = BaseConfig(work + "/data", "http", clients, SensorKind::kOccupancy);
  c.drivers.http.enabled = true;
  c.drivers.http.port = 0;  // ephemeral
  c.drivers.http.token = "bench-token";
  c.drivers.http.max_connections = uint32_t(clients + 8);
  Core core(c);
  http_ingest::HttpIngestDriver driver(core.io, c, SystemClock::Instance());
  if (!driver.Start(*core.pipeline).ok()) return 1;
  const uint16_t port = driver.port();
  std::thread loop([&] { core.io.run(); });

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> readings{0}, requests{0}, refused{0}, errors{0};
  std::vector<std::vector<double>> lat(static_cast<size_t>(clients));
  std::vector<std::thread> threads;
  const auto t0 = Clk::now();
  for (int i = 0; i < clients; ++i) {
    threads.emplace_back([&, i] {
      namespace http = boost::beast::http;
      boost::asio::io_context cio;
      boost::asio::ip::tcp::socket sock(cio);
      boost::system::error_code ec;
      sock.connect({boost::asio::ip::make_address("127.0.0.1"), port}, ec);
      if (ec) {
        ++errors;
        return;
      }
      boost::beast::flat_buffer buf;
      uint64_t n = 0;
      const int64_t base = SystemClock::Instance().NowMs();
      while (!stop) {
        std::string body = "{\"facility\":\"f0\",\"sensor\":\"s" + std::to_string(i) + "\",\"readings\":[";
        for (int k = 0; k < per_request; ++k, ++n) {
          body += (k ? "," : "") + std::string("{\"point\":\"occupancy\",\"value\":") + std::to_string(n % 50) +
                  ",\"ts\":" + std::to_string(base + int64_t(n)) + "}";
        }
        body += "]}";
        http::request<http::string_body> req{http::verb::post, "/api/v1/readings", 11};
        req.set(http::field::host, "127.0.0.1");
        req.set(http::field::content_type, "application/json");
        req.set(http::field::authorization, "Bearer bench-token");
        req.keep_alive(true);
        req.body() = std::move(body);
        req.prepare_payload();
        const auto s = Clk::now();
        http::write(sock, req, ec);
        http::response<http::string_body> res;
        if (!ec) http::read(sock, buf, res, ec);
        if (ec) {
          ++errors;
          return;
        }
        lat[size_t(i)].push_back(std::chrono::duration<double, std::milli>(Clk::now() - s).count());
        ++requests;
        if (res.result_int() == 202) readings += uint64_t(per_request);
        else ++refused;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  const double dt = std::chrono::duration<double>(Clk::now() - t0).count();
  boost::asio::post(core.io, [&] {
    driver.Stop();
    core.pipeline->Stop();
    core.io.stop();
  });
  loop.join();
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) { return all.empty() ? 0.0 : all[size_t(p * double(all.size() - 1))]; };
  std::printf("http ingest: %d clients, %d readings/request, %.1f s: %.0f readings/s committed (202), %.0f "
              "requests/s, %llu refused, %llu errors; request latency p50 %.1f ms, p99 %.1f ms; peak RSS %ld MiB\n",
              clients, per_request, dt, double(readings) / dt, double(requests) / dt,
              (unsigned long long)refused.load(), (unsigned long long)errors.load(), pct(0.5), pct(0.99),
              PeakRssKb() / 1024);
  return errors == 0 ? 0 : 1;
}

// A Modbus TCP server for many connections: libmodbus's request parsing and replies, a
// select() loop of our own. Its two counters per unit move on every reply.
struct ModbusServer {
  int port = FreePort();
  std::atomic<bool> stop{false};
  std::thread thread;
  std::atomic<uint64_t> replies{0};
  ModbusServer() {
    thread = std::thread([this] { Run(); });
  }
  ~ModbusServer() {
    stop = true;
    thread.join();
  }
  void Run() {
    modbus_t* ctx = modbus_new_tcp("127.0.0.1", port);
    modbus_mapping_t* map = modbus_mapping_new(0, 0, 16, 16);
    int listener = modbus_tcp_listen(ctx, 256);
    std::vector<int> fds;
    uint8_t query[MODBUS_TCP_MAX_ADU_LENGTH];
    while (!stop) {
      fd_set set;
      FD_ZERO(&set);
      FD_SET(listener, &set);
      int maxfd = listener;
      for (int fd : fds) {
        FD_SET(fd, &set);
        maxfd = std::max(maxfd, fd);
      }
      timeval tv{0, 100000};
      if (select(maxfd + 1, &set, nullptr, nullptr, &tv) <= 0) continue;
      if (FD_ISSET(listener, &set)) {
        int fd = accept(listener, nullptr, nullptr);
        if (fd >= 0) fds.push_back(fd);
      }
      for (size_t i = 0; i < fds.size();) {
        if (!FD_ISSET(fds[i], &set)) {
          ++i;
          continue;
        }
        modbus_set_socket(ctx, fds[i]);
        int rc = modbus_receive(ctx, query);
        if (rc > 0) {
          map->tab_registers[1] = uint16_t(map->tab_registers[1] + 1);
          map->tab_registers[3] = uint16_t(map->tab_registers[3] + 1);
          modbus_reply(ctx, query, rc, map);
          ++replies;
          ++i;
        } else if (rc == -1) {
          close(fds[i]);
          fds.erase(fds.begin() + long(i));
        } else {
          ++i;
        }
      }
    }
    for (int fd : fds) close(fd);
    close(listener);
    modbus_mapping_free(map);
    modbus_free(ctx);
  }
};

int Modbus(const std::string& work, double seconds, int devices, int interval_ms) {
  ModbusServer server;
  Config c = BaseConfig(work + "/data", "modbus", devices, SensorKind::kDoorCounter);
  for (int d = 0; d < devices; ++d) {
    ModbusDeviceConfig dc;
    dc.id = "dev" + std::to_string(d);
    dc.facility = "f0";
    dc.sensor = "s" + std::to_string(d);
    dc.host = "127.0.0.1";
    dc.port = uint32_t(server.port);
    dc.poll_interval_ms = interval_ms;
    ModbusRegisterConfig e;
    e.point = "entries_total";
    e.type = ModbusRegisterConfig::Type::kUInt32;
    e.address = 0;
    dc.registers.push_back(e);
    e.point = "exits_total";
    e.address = 2;
    dc.registers.push_back(e);
    c.drivers.modbus.devices.push_back(dc);
  }
  Core core(c);
  modbus::ModbusDriver driver(c, SystemClock::Instance());
  std::thread loop([&] {
    auto guard = boost::asio::make_work_guard(core.io);
    core.io.run();
  });
  boost::asio::post(core.io, [&] { driver.Start(*core.pipeline); });
  // Warm-up: every device connected and polled once.
  for (int i = 0; i < 500 && driver.stats().polls < uint64_t(devices); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const uint64_t p0 = driver.stats().polls, r0 = driver.stats().readings, f0 = driver.stats().failed_polls;
  const auto t0 = Clk::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  const uint64_t p1 = driver.stats().polls, r1 = driver.stats().readings, f1 = driver.stats().failed_polls;
  const double dt = std::chrono::duration<double>(Clk::now() - t0).count();
  boost::asio::post(core.io, [&] {
    driver.Stop();
    core.pipeline->Stop();
    core.io.stop();
  });
  loop.join();
  std::printf("modbus tcp: %d devices, poll every %d ms (at most %.0f polls/s), %.1f s: %.0f polls/s committed, "
              "%.0f readings/s, %llu failed polls; peak RSS %ld MiB\n",
              devices, interval_ms, devices * 1000.0 / interval_ms, dt, double(p1 - p0) / dt, double(r1 - r0) / dt,
              (unsigned long long)(f1 - f0), PeakRssKb() / 1024);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  std::string mode = argc > 1 ? argv[1] : "";
  const std::string work = (fs::temp_directory_path() / ("bench_drivers." + std::to_string(getpid()))).string();
  fs::create_directories(work + "/data");
  int rc = 2;
  if (mode == "http") {
    rc = Http(work, argc > 2 ? std::atof(argv[2]) : 10, argc > 3 ? std::atoi(argv[3]) : 50,
              argc > 4 ? std::atoi(argv[4]) : 20);
  } else if (mode == "modbus") {
    rc = Modbus(work, argc > 2 ? std::atof(argv[2]) : 10, argc > 3 ? std::atoi(argv[3]) : 100,
                argc > 4 ? std::atoi(argv[4]) : 10);
  } else {
    std::fprintf(stderr, "usage: bench_drivers http [seconds] [clients] [readings/request]\n"
                         "       bench_drivers modbus [seconds] [devices] [poll interval ms]\n");
  }
  std::error_code ec;
  fs::remove_all(work, ec);
  return rc;
}
