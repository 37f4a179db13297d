// ModbusDriver: polls Modbus TCP and RTU (RS-485) devices through libmodbus and turns
// their registers into readings (see RegisterMap for the decoding).
//
// libmodbus blocks, so polling runs on worker threads, never on the core's loop: one
// thread per TCP device, one per serial port (the devices on one RS-485 bus take turns,
// as the bus requires). A slow or dead device therefore delays only itself (or its
// bus). Each poll's readings are submitted as one batch and the worker waits for the
// commit: when the core pushes back (kBusy) it offers the same batch again after a
// pause, so a backlog slows the polling instead of growing in memory.
//
// A request that fails is retried `retries` times; a poll that still fails marks the
// device's sensors offline (the raw point sensors/{id}/online = false, which the
// facility model follows) and the device is retried with exponential backoff up to
// backoff_max_ms. Modbus exception replies and malformed replies are logged and
// counted; they never stop the driver. A reply that carries another unit id than the
// device's (Modbus TCP behind a gateway to an RS-485 bus, or RTU) is refused: logged,
// counted, retried like a malformed one, never published (see tcp_frame.h for how,
// since libmodbus does not check it on TCP).
//
// Coil writes (FC05, for alarm escalation's light or buzzer: gateway/alarm/coil_output.h)
// are queued by WriteCoil() and done by the device's own worker between its polls, so
// the connection stays the driver's and a dead device blocks only its own worker (or
// its bus). A queued write wakes the worker at once; one that fails stays queued and is
// tried again before each of the device's polls (which back off while it is dead)
// until the device takes it; the latest wanted state of a coil replaces an older one
// not yet written.
//
// Threads: constructed, started and stopped on the core's loop thread. Stop() wakes
// the workers (shutting down their sockets) and joins them; it returns within about
// one request timeout for an RTU bus, at once for TCP.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "gateway/clock.h"
#include "gateway/config.h"
#include "gateway/driver.h"

namespace modbus {

struct ModbusStats {
  std::atomic<uint64_t> polls{0};           // polls that produced readings
  std::atomic<uint64_t> failed_polls{0};    // polls that failed after retries
  std::atomic<uint64_t> request_errors{0};  // single requests that failed (before retries)
  std::atomic<uint64_t> bad_replies{0};     // malformed replies (CRC, length, function)
  std::atomic<uint64_t> wrong_unit{0};      // replies refused for carrying another unit id
  std::atomic<uint64_t> exceptions{0};      // Modbus exception replies (illegal address...)
  std::atomic<uint64_t> bad_values{0};      // values that did not decode (NaN, range)
  std::atomic<uint64_t> busy_retries{0};    // batches offered again after kBusy
  std::atomic<uint64_t> readings{0};        // readings committed
  std::atomic<uint64_t> coil_writes{0};     // coil writes the device confirmed
  std::atomic<uint64_t> coil_write_errors{0};  // coil write attempts that failed (retried)
};

class ModbusDriver final : public gateway::Driver {
 public:
  ModbusDriver(const gateway::Config& config, const gateway::Clock& clock);
  ~ModbusDriver() override;

  std::string Name() const override { return "modbus"; }
  gateway::Status Start(gateway::ReadingSink& sink) override;
  void Stop() override;

  // Queues a write of coil `address` (0-based) on device `device_id` of drivers.modbus;
  // see above. Any thread, before or after Start(); never waits for the device.
  // kNotFound for a device that is not configured.
  gateway::Status WriteCoil(const std::string& device_id, uint32_t address, bool on);
  // Coil writes queued and not yet confirmed by their devices; any thread.
  size_t pending_coil_writes() const;

  const ModbusStats& stats() const;
  // Readings committed; errors = failed polls + malformed replies + replies from
  // another unit + exception replies + undecodable values; the last of them in words.
  gateway::DriverStats Stats() const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace modbus
