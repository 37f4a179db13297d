// CoilOutput: the Modbus coil of alarm escalation (alarms.escalation.coil.device and
// coil.address): a light or buzzer in the station, wanted ON while any alarm is
// escalated and not acknowledged, OFF when none is.
//
// It only decides what the coil should be; the Modbus driver owns the device's
// connection and writes the coil (FC05) from that device's poller, between polls,
// retrying until the device takes it (ModbusDriver::WriteCoil). The write is handed over
// through `CoilWriter`, a function that must only queue (never block): a dead device
// holds up nothing here. The latest wanted state wins in the driver's queue, so a
// flapping alarm never leaves a stale ON behind an OFF.
//
// At Start() it writes the state the open alarms call for (OFF when none is escalated),
// so a coil left ON by a gateway that died is switched off once nobody needs it.
//
// Threads: constructed, started and told of alarms (AlarmListener) on the core's loop
// thread; `on()` and the counters on that thread too.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "gateway/alarm.h"
#include "gateway/config.h"
#include "gateway/status.h"

namespace gateway::alarm {

class CoilOutput final : public AlarmListener {
 public:
  // Queues a write of coil `address` on Modbus device `device`; kNotFound for a device
  // the driver does not have.
  using CoilWriter = std::function<Status(const std::string& device, uint32_t address, bool on)>;

  CoilOutput(const AlarmEscalationConfig& config, CoilWriter writer);

  // `open`: the alarms open at start-up (from the buffer). No coil.device: nothing to do.
  Status Start(const std::vector<Alarm>& open);

  void OnAlarmChanged(const Alarm& alarm) override;

  bool enabled() const { return !cfg_.coil_device.empty(); }
  bool on() const { return !escalated_.empty(); }
  uint64_t switches() const { return switches_; }  // wanted-state changes handed to the driver

 private:
  void Apply(bool force);

  const AlarmEscalationConfig& cfg_;
  CoilWriter writer_;
  std::set<std::string> escalated_;  // ids of alarms escalated and not acknowledged
  bool started_ = false;
  bool written_ = false;   // the state last handed to the driver
  bool have_written_ = false;
  uint64_t switches_ = 0;
};

}  // namespace gateway::alarm
