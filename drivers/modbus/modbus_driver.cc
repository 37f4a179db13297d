// Modbus driver (see the header). Past 500 lines because a device's worker does all of its
// I/O here, polls and coil writes alike, so that one connection has one request in flight
// and one place decides when the device is dead; the frames are in tcp_frame.cc, the
// decoding in register_map.cc.
#include "modbus/modbus_driver.h"

#include <modbus.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "modbus/register_map.h"
#include "modbus/tcp_frame.h"

namespace modbus {

using gateway::Reading;
using gateway::Status;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

constexpr auto kBusyPause = milliseconds(100);
constexpr auto kRetryPause = milliseconds(50);

bool IsException(int err) { return err >= EMBXILFUN && err <= EMBXGTAR; }
bool IsMalformed(int err) { return err >= EMBBADCRC && err <= EMBBADSLAVE; }
// A reply that carries another unit id (TCP: MBAP byte 6, checked in tcp_frame.cc; RTU:
// the slave address, checked by libmodbus).
bool IsWrongUnit(int err) { return err == EMBBADSLAVE; }

// What the workers and the commit callbacks share. Held by shared_ptr so that a commit
// callback that runs after Stop() (the pipeline answers kShutdown later) finds it alive.
struct Shared {
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
};

struct Device {
  const gateway::ModbusDeviceConfig* cfg = nullptr;
  std::vector<ReadBlock> blocks;
  std::vector<std::string> sensors;  // distinct sensors it feeds, for `online`
  modbus_t* ctx = nullptr;           // TCP: own connection; RTU: the bus's (not owned)
  bool connected = false;
  std::optional<bool> online;        // unknown until the first poll
  Clock::time_point next_poll{};
  int64_t backoff_ms = 0;
  uint64_t failures = 0;              // consecutive failed polls
  uint16_t transaction = 0;           // TCP: the last MBAP transaction id sent
  uint8_t refused_unit = 0;           // TCP: the unit id of the last reply refused for it
};

}  // namespace

struct ModbusDriver::Impl {
  Impl(const gateway::Config& c, const gateway::Clock& k) : config(c), clock(k) {}

  // One worker: a TCP device, or all devices on one serial port.
  struct Line {
    std::string name;
    bool rtu = false;
    modbus_t* bus = nullptr;  // RTU only
    bool bus_open = false;
    std::vector<Device> devices;
    std::thread thread;
    std::mutex fd_mu;   // guards `fd` against Stop() shutting it down
    int fd = -1;
  };

  const gateway::Config& config;
  const gateway::Clock& clock;
  gateway::ReadingSink* sink = nullptr;
  std::shared_ptr<Shared> shared = std::make_shared<Shared>();
  std::vector<std::unique_ptr<Line>> lines;
  ModbusStats stats;
  std::mutex error_mu;
  std::string last_error;  // for Stats(); guarded by error_mu
  // Coil writes wanted (WriteCoil): device id -> coil address -> state; guarded by
  // shared->mu. coils_due: devices with writes queued since their worker last looked.
  std::map<std::string, std::map<uint32_t, bool>> coils_wanted;
  std::set<std::string> coils_due;

  void NoteError(const std::string& text) {
    std::lock_guard<std::mutex> lk(error_mu);
    last_error = text;
  }

  bool Stopping() {
    std::lock_guard<std::mutex> lk(shared->mu);
    return shared->stop;
  }
  // Sleeps until `t` or Stop(); false when stopping.
  bool SleepUntil(Clock::time_point t) {
    std::unique_lock<std::mutex> lk(shared->mu);
    shared->cv.wait_until(lk, t, [&] { return shared->stop; });
    return !shared->stop;
  }

  // The poll loop's sleep: until `t`, Stop(), or a coil write queued for this line.
  bool SleepForPoll(Line& line, Clock::time_point t) {
    std::unique_lock<std::mutex> lk(shared->mu);
    shared->cv.wait_until(lk, t, [&] {
      if (shared->stop) return true;
      for (const auto& d : line.devices) {
        if (coils_due.count(d.cfg->id)) return true;
      }
      return false;
    });
    return !shared->stop;
  }

  void SetFd(Line& line, int fd) {
    std::lock_guard<std::mutex> lk(line.fd_mu);
    line.fd = fd;
  }

  bool Connect(Line& line, Device& d) {
    if (line.rtu) {
      if (!line.bus_open) {
        if (modbus_connect(line.bus) != 0) {
          if (d.failures == 0) spdlog::warn("modbus {}: cannot open serial port {}: {}", d.cfg->id, d.cfg->serial_port,
                       modbus_strerror(errno));
          return false;
        }
        line.bus_open = true;
      }
      modbus_set_slave(line.bus, d.cfg->unit_id);
      d.ctx = line.bus;
      return true;
    }
    if (d.connected) return true;
    if (modbus_connect(d.ctx) != 0) {
      if (d.failures == 0) {
        spdlog::warn("modbus {}: cannot connect to {}:{}: {}", d.cfg->id, d.cfg->host, d.cfg->port,
                     modbus_strerror(errno));
      }
      return false;
    }
    d.connected = true;
    SetFd(line, modbus_get_socket(d.ctx));
    return true;
  }

  void Disconnect(Line& line, Device& d) {
    if (line.rtu) {
      modbus_flush(line.bus);
      return;
    }
    if (!d.connected) return;
    SetFd(line, -1);
    modbus_close(d.ctx);
    d.connected = false;
  }

  // RTU: libmodbus's read functions, which check the slave address of the reply.
  // Returns the number of values read, or -1 with errno set.
  static int RequestRtu(Device& d, const modbus::ReadBlock& b, std::vector<uint16_t>& words,
                        std::vector<uint8_t>& bits) {
    using Tb = gateway::ModbusRegisterConfig::Table;
    switch (b.table) {
      case Tb::kHolding:
        words.resize(b.count);
        return modbus_read_registers(d.ctx, int(b.address), int(b.count), words.data());
      case Tb::kInput:
        words.resize(b.count);
        return modbus_read_input_registers(d.ctx, int(b.address), int(b.count), words.data());
      case Tb::kCoil:
        bits.resize(b.count);
        return modbus_read_bits(d.ctx, int(b.address), int(b.count), bits.data());
      case Tb::kDiscreteInput:
        bits.resize(b.count);
        return modbus_read_input_bits(d.ctx, int(b.address), int(b.count), bits.data());
    }
    errno = EINVAL;
    return -1;
  }

  // TCP: libmodbus does not check the unit id of a TCP reply, so the request is framed
  // and the reply checked in tcp_frame.cc (see there why). The request is written on
  // libmodbus's socket in one send() (12 bytes, one request in flight per connection);
  // modbus_receive_confirmation reads exactly one reply within the response timeout.
  // Every failure closes the connection (ReadBlock), so a late reply to a timed-out
  // request can never be taken for the next one's, whatever its transaction id.
  // Returns the number of values read, or -1 with errno set; the unit id of a refused
  // reply is left in d.refused_unit for the log.
  static int RequestTcp(Device& d, const modbus::ReadBlock& b, std::vector<uint16_t>& words,
                        std::vector<uint8_t>& bits) {
    using Tb = gateway::ModbusRegisterConfig::Table;
    uint8_t function = MODBUS_FC_READ_HOLDING_REGISTERS;
    switch (b.table) {
      case Tb::kHolding: function = MODBUS_FC_READ_HOLDING_REGISTERS; break;
      case Tb::kInput: function = MODBUS_FC_READ_INPUT_REGISTERS; break;
      case Tb::kCoil: function = MODBUS_FC_READ_COILS; break;
      case Tb::kDiscreteInput: function = MODBUS_FC_READ_DISCRETE_INPUTS; break;
    }
    const auto req = BuildTcpReadRequest(++d.transaction, uint8_t(d.cfg->unit_id), function, uint16_t(b.address),
                                         uint16_t(b.count));
    const ssize_t sent = ::send(modbus_get_socket(d.ctx), req.data(), req.size(), MSG_NOSIGNAL);
    if (sent != ssize_t(req.size())) {
      if (sent >= 0) errno = EMBBADDATA;  // a short write: the stream is out of step
      return -1;
    }
    uint8_t rsp[MODBUS_TCP_MAX_ADU_LENGTH];
    const int n = modbus_receive_confirmation(d.ctx, rsp);
    if (n < 0) return -1;
    const bool registers = function == MODBUS_FC_READ_HOLDING_REGISTERS || function == MODBUS_FC_READ_INPUT_REGISTERS;
    if (registers) {
      words.resize(b.count);
    } else {
      bits.resize(b.count);
    }
    const int err = CheckTcpReadReply(req, rsp, size_t(n), words.data(), bits.data());
    if (err != 0) {
      if (IsWrongUnit(err)) d.refused_unit = rsp[6];
      errno = err;
      return -1;
    }
    return int(b.count);
  }

  // One request with retries. Returns 0 on success, the last errno otherwise.
  int ReadBlock(Line& line, Device& d, const modbus::ReadBlock& b, std::vector<uint16_t>& words,
                std::vector<uint8_t>& bits) {
    int err = 0;
    for (int attempt = 0; attempt <= d.cfg->retries; ++attempt) {
      if (attempt > 0 && !SleepUntil(Clock::now() + kRetryPause * attempt)) return ECANCELED;
      if (!Connect(line, d)) {
        err = errno ? errno : ECONNREFUSED;
        ++stats.request_errors;
        continue;
      }
      int n = line.rtu ? RequestRtu(d, b, words, bits) : RequestTcp(d, b, words, bits);
      if (n == int(b.count)) return 0;
      err = n < 0 ? errno : EMBBADDATA;
      ++stats.request_errors;
      if (IsException(err)) {
        // The device answered: the map is wrong for it, retrying will not help.
        ++stats.exceptions;
        return err;
      }
      if (IsWrongUnit(err)) {
        // Refused: it is another device's answer (or a gateway's mix-up), so nothing of
        // it is published. Retried on a fresh connection like a malformed reply; a
        // device that only ever gets answers from another unit goes offline.
        ++stats.wrong_unit;
        const std::string who = line.rtu ? "another unit" : "unit " + std::to_string(d.refused_unit);
        spdlog::warn("modbus {}: reply to a read of {} at {} came from {}, not unit {}: refused", d.cfg->id, b.count,
                     b.address, who, d.cfg->unit_id);
        NoteError(d.cfg->id + ": reply from " + who + ", not unit " + std::to_string(d.cfg->unit_id));
      } else if (IsMalformed(err)) {
        ++stats.bad_replies;
        spdlog::warn("modbus {}: malformed reply to a read of {} at {}: {}", d.cfg->id, b.count, b.address,
                     modbus_strerror(err));
        NoteError(d.cfg->id + ": malformed reply: " + modbus_strerror(err));
      }
      // Timeouts, resets and garbage leave the stream in an unknown state: start clean.
      Disconnect(line, d);
      if (Stopping()) return ECANCELED;
    }
    return err;
  }

  // Submits and waits for the commit. Returns false when stopping.
  bool Commit(std::vector<Reading> batch) {
    for (;;) {
      auto result = std::make_shared<std::optional<Status>>();
      auto sh = shared;
      sink->Submit(batch, [sh, result](const Status& s) {
        std::lock_guard<std::mutex> lk(sh->mu);
        *result = s;
        sh->cv.notify_all();
      });
      Status s;
      {
        std::unique_lock<std::mutex> lk(shared->mu);
        shared->cv.wait(lk, [&] { return shared->stop || result->has_value(); });
        if (!result->has_value()) return false;
        s = **result;
      }
      if (s.ok()) {
        stats.readings += batch.size();
        return true;
      }
      if (s.code() != Status::Code::kBusy) return false;  // shutdown
      ++stats.busy_retries;
      if (!SleepUntil(Clock::now() + kBusyPause)) return false;
    }
  }

  void SetOnline(Device& d, bool online, int64_t ts, std::vector<Reading>& out) {
    if (d.online && *d.online == online) return;
    d.online = online;
    for (const auto& s : d.sensors) {
      Reading r;
      r.facility_id = d.cfg->facility;
      r.sensor_id = s;
      r.point = "online";
      r.value = online;
      r.ts_ms = ts;
      out.push_back(std::move(r));
    }
  }

  void Poll(Line& line, Device& d) {
    const int64_t ts = clock.NowMs();
    std::vector<Reading> batch;
    std::vector<uint16_t> words;
    std::vector<uint8_t> bits;
    bool any_answer = false;
    int last_err = 0;
    std::vector<Reading> values;
    for (const auto& b : d.blocks) {
      int err = ReadBlock(line, d, b, words, bits);
      if (err == ECANCELED) return;
      if (err != 0) {
        last_err = err;
        if (IsException(err)) {
          any_answer = true;
          spdlog::warn("modbus {}: exception reply to a read of {} at {}: {} (check the register map)",
                       d.cfg->id, b.count, b.address, modbus_strerror(err));
          NoteError(d.cfg->id + ": exception reply: " + modbus_strerror(err));
          continue;
        }
        // Not answering after the retries: the other blocks would only wait out their
        // timeouts too, holding up the other devices on this bus.
        break;
      }
      any_answer = true;
      for (size_t idx : b.entries) {
        const auto& e = d.cfg->registers[idx];
        const uint32_t off = e.address - b.address;
        const bool registers = b.table == gateway::ModbusRegisterConfig::Table::kHolding ||
                               b.table == gateway::ModbusRegisterConfig::Table::kInput;
        gateway::Result<gateway::Value> v = registers ? DecodeRegisters(words.data() + off, words.size() - off, e)
                                                      : DecodeBit(bits[off], e);
        if (!v.ok()) {
          ++stats.bad_values;
          NoteError(d.cfg->id + ": " + e.point + ": " + v.status().message());
          spdlog::warn("modbus {}: {}/{} at {}: {}", d.cfg->id, e.sensor.empty() ? d.cfg->sensor : e.sensor, e.point,
                       e.address, v.status().message());
          continue;
        }
        Reading r;
        r.facility_id = d.cfg->facility;
        r.sensor_id = e.sensor.empty() ? d.cfg->sensor : e.sensor;
        r.point = e.point;
        r.value = std::move(v.value());
        r.ts_ms = ts;
        values.push_back(std::move(r));
      }
    }
    const auto interval = milliseconds(d.cfg->poll_interval_ms);
    if (!any_answer) {
      ++stats.failed_polls;
      ++d.failures;
      d.backoff_ms = std::min<int64_t>(d.backoff_ms == 0 ? d.cfg->poll_interval_ms : d.backoff_ms * 2,
                                       std::max(d.cfg->backoff_max_ms, d.cfg->poll_interval_ms));
      if (d.failures == 1) {
        spdlog::warn("modbus {}: no answer after {} attempts ({}); sensors offline, retrying with backoff up to "
                     "{} ms",
                     d.cfg->id, d.cfg->retries + 1, modbus_strerror(last_err), d.cfg->backoff_max_ms);
      }
      NoteError(d.cfg->id + ": no answer (" + modbus_strerror(last_err) + ")");
      SetOnline(d, false, ts, batch);
      // A serial adapter that was unplugged (or a pty that went away) only comes back
      // when the port is opened again.
      if (line.rtu && line.bus_open) {
        modbus_close(line.bus);
        line.bus_open = false;
      }
      d.next_poll = Clock::now() + milliseconds(d.backoff_ms);
      if (!batch.empty()) Commit(std::move(batch));
      return;
    }
    if (d.failures > 0) spdlog::info("modbus {}: answering again after {} failed polls", d.cfg->id, d.failures);
    d.failures = 0;
    d.backoff_ms = 0;
    ++stats.polls;
    SetOnline(d, true, ts, batch);
    for (auto& r : values) batch.push_back(std::move(r));
    // The next poll keeps to the grid; a poll that overran skips the slots it missed.
    d.next_poll += interval;
    if (d.next_poll < Clock::now()) d.next_poll = Clock::now() + interval;
    if (!batch.empty()) Commit(std::move(batch));
  }

  // One FC05 request. Returns 0 or an errno value (as the reads do).
  int WriteCoilOnce(Line& line, Device& d, uint32_t address, bool on) {
    if (!Connect(line, d)) return errno ? errno : ECONNREFUSED;
    int err = 0;
    if (line.rtu) {
      if (modbus_write_bit(d.ctx, int(address), on ? 1 : 0) != 1) err = errno ? errno : EMBBADDATA;
    } else {
      // Framed here for the unit id check, as the reads are (tcp_frame.h).
      const auto req = BuildTcpWriteCoilRequest(++d.transaction, uint8_t(d.cfg->unit_id), uint16_t(address), on);
      const ssize_t sent = ::send(modbus_get_socket(d.ctx), req.data(), req.size(), MSG_NOSIGNAL);
      if (sent != ssize_t(req.size())) {
        err = sent >= 0 ? EMBBADDATA : errno;
      } else {
        uint8_t rsp[MODBUS_TCP_MAX_ADU_LENGTH];
        const int n = modbus_receive_confirmation(d.ctx, rsp);
        err = n < 0 ? errno : CheckTcpWriteCoilReply(req, rsp, size_t(n));
      }
    }
    if (err != 0 && !IsException(err)) Disconnect(line, d);
    return err;
  }

  // The device's queued coil writes; `due_only`: only if queued since the last look.
  void WriteCoils(Line& line, Device& d, bool due_only) {
    const std::string& id = d.cfg->id;
    std::map<uint32_t, bool> todo;
    {
      std::lock_guard<std::mutex> lk(shared->mu);
      if (!coils_due.erase(id) && due_only) return;
      auto it = coils_wanted.find(id);
      if (it == coils_wanted.end()) return;
      todo = it->second;
    }
    for (const auto& [address, on] : todo) {
      const int err = WriteCoilOnce(line, d, address, on);
      if (err != 0) {
        ++stats.coil_write_errors;
        if (IsException(err)) ++stats.exceptions;
        spdlog::warn("modbus {}: writing coil {} {} failed: {}; retried before the next poll", id, address,
                     on ? "ON" : "OFF", modbus_strerror(err));
        NoteError(id + ": coil write: " + modbus_strerror(err));
        return;  // the rest waits too: the device is not answering now
      }
      ++stats.coil_writes;
      spdlog::info("modbus {}: coil {} is {}", id, address, on ? "ON" : "OFF");
      std::lock_guard<std::mutex> lk(shared->mu);
      auto it = coils_wanted.find(id);
      if (it == coils_wanted.end()) continue;
      auto c = it->second.find(address);
      // Another state may have been asked for meanwhile: that one is still to write.
      if (c != it->second.end() && c->second == on) it->second.erase(c);
      if (it->second.empty()) coils_wanted.erase(it);
    }
  }

  void Run(Line& line) {
    while (!Stopping()) {
      auto it = std::min_element(line.devices.begin(), line.devices.end(),
                                 [](const Device& a, const Device& b) { return a.next_poll < b.next_poll; });
      if (!SleepForPoll(line, it->next_poll)) break;
      // Newly queued coil writes first: an alarm's light does not wait for a poll.
      for (auto& d : line.devices) WriteCoils(line, d, /*due_only=*/true);
      if (Clock::now() < it->next_poll) continue;
      WriteCoils(line, *it, /*due_only=*/false);  // the retries of writes that failed
      Poll(line, *it);
    }
    for (auto& d : line.devices) Disconnect(line, d);
    if (line.rtu && line.bus_open) modbus_close(line.bus);
  }
};

ModbusDriver::ModbusDriver(const gateway::Config& config, const gateway::Clock& clock)
    : impl_(std::make_unique<Impl>(config, clock)) {}

ModbusDriver::~ModbusDriver() {
  Stop();
  for (auto& line : impl_->lines) {
    for (auto& d : line->devices) {
      if (!line->rtu && d.ctx) modbus_free(d.ctx);
    }
    if (line->bus) modbus_free(line->bus);
  }
}

const ModbusStats& ModbusDriver::stats() const { return impl_->stats; }

gateway::DriverStats ModbusDriver::Stats() const {
  const auto& s = impl_->stats;
  gateway::DriverStats out;
  out.readings = s.readings.load();
  out.errors = s.failed_polls.load() + s.bad_replies.load() + s.wrong_unit.load() + s.exceptions.load() +
               s.bad_values.load();
  std::lock_guard<std::mutex> lk(impl_->error_mu);
  out.last_error = impl_->last_error;
  return out;
}

Status ModbusDriver::WriteCoil(const std::string& device_id, uint32_t address, bool on) {
  Impl& m = *impl_;
  bool known = false;
  for (const auto& cfg : m.config.drivers.modbus.devices) known = known || cfg.id == device_id;
  if (!known) return Status::NotFound("no Modbus device '" + device_id + "'");
  if (address > 0xFFFF) return Status::InvalidArgument("coil address " + std::to_string(address) + " is over 65535");
  {
    std::lock_guard<std::mutex> lk(m.shared->mu);
    m.coils_wanted[device_id][address] = on;
    m.coils_due.insert(device_id);
  }
  m.shared->cv.notify_all();
  return Status::Ok();
}

size_t ModbusDriver::pending_coil_writes() const {
  std::lock_guard<std::mutex> lk(impl_->shared->mu);
  size_t n = 0;
  for (const auto& [id, coils] : impl_->coils_wanted) n += coils.size();
  return n;
}

Status ModbusDriver::Start(gateway::ReadingSink& sink) {
  Impl& m = *impl_;
  m.sink = &sink;
  std::map<std::string, Impl::Line*> buses;
  const auto now = Clock::now();
  for (const auto& cfg : m.config.drivers.modbus.devices) {
    Device d;
    d.cfg = &cfg;
    d.blocks = PlanReads(cfg.registers);
    for (const auto& r : cfg.registers) {
      const std::string& s = r.sensor.empty() ? cfg.sensor : r.sensor;
      if (std::find(d.sensors.begin(), d.sensors.end(), s) == d.sensors.end()) d.sensors.push_back(s);
    }
    d.next_poll = now;
    const uint32_t to_ms = uint32_t(cfg.timeout_ms);
    Impl::Line* line = nullptr;
    if (cfg.rtu) {
      auto it = buses.find(cfg.serial_port);
      if (it == buses.end()) {
        auto l = std::make_unique<Impl::Line>();
        l->name = cfg.serial_port;
        l->rtu = true;
        l->bus = modbus_new_rtu(cfg.serial_port.c_str(), int(cfg.baud), cfg.parity, cfg.data_bits, cfg.stop_bits);
        if (!l->bus) return Status::InvalidArgument("modbus " + cfg.id + ": " + modbus_strerror(errno));
        modbus_set_response_timeout(l->bus, to_ms / 1000, (to_ms % 1000) * 1000);
        it = buses.emplace(cfg.serial_port, l.get()).first;
        m.lines.push_back(std::move(l));
      }
      line = it->second;
    } else {
      auto l = std::make_unique<Impl::Line>();
      l->name = cfg.id;
      d.ctx = modbus_new_tcp_pi(cfg.host.c_str(), std::to_string(cfg.port).c_str());
      if (!d.ctx) return Status::InvalidArgument("modbus " + cfg.id + ": " + modbus_strerror(errno));
      modbus_set_slave(d.ctx, cfg.unit_id);
      modbus_set_response_timeout(d.ctx, to_ms / 1000, (to_ms % 1000) * 1000);
      line = l.get();
      m.lines.push_back(std::move(l));
    }
    line->devices.push_back(std::move(d));
  }
  for (auto& l : m.lines) {
    Impl::Line* line = l.get();
    line->thread = std::thread([&m, line] {
      try {
        m.Run(*line);
      } catch (const std::exception& e) {
        spdlog::error("modbus {}: worker stopped: {}", line->name, e.what());
      }
    });
  }
  if (!m.lines.empty()) {
    spdlog::info("modbus: polling {} devices on {} lines", m.config.drivers.modbus.devices.size(), m.lines.size());
  }
  return Status::Ok();
}

void ModbusDriver::Stop() {
  Impl& m = *impl_;
  {
    std::lock_guard<std::mutex> lk(m.shared->mu);
    if (m.shared->stop && m.lines.empty()) return;
    m.shared->stop = true;
    m.shared->cv.notify_all();
  }
  // A worker blocked in a TCP read wakes at once when its socket is shut down.
  for (auto& l : m.lines) {
    std::lock_guard<std::mutex> lk(l->fd_mu);
    if (l->fd >= 0) ::shutdown(l->fd, SHUT_RDWR);
  }
  for (auto& l : m.lines) {
    if (l->thread.joinable()) l->thread.join();
  }
  const auto& s = m.stats;
  if (!m.lines.empty()) {
    spdlog::info("modbus: {} polls, {} failed, {} request errors, {} malformed replies, {} replies from another "
                 "unit, {} exceptions, {} bad values, {} readings",
                 s.polls.load(), s.failed_polls.load(), s.request_errors.load(), s.bad_replies.load(),
                 s.wrong_unit.load(), s.exceptions.load(), s.bad_values.load(), s.readings.load());
  }
}

}  // namespace modbus
