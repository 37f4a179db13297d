// Driver: a southbound source of readings (simulator, Modbus, MQTT, HTTP, OCPP).
//
// The core owns drivers. Start() is called once on the core's event loop thread with
// the sink to feed; Stop() is called once on that same thread during shutdown and must
// return promptly (cancel timers and I/O, join own threads). A driver that fails
// must log, count and retry by itself: it never takes the gateway down.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "gateway/reading_sink.h"
#include "gateway/status.h"

namespace gateway {

class Driver {
 public:
  virtual ~Driver() = default;
  virtual std::string Name() const = 0;
  virtual Status Start(ReadingSink& sink) = 0;
  virtual void Stop() = 0;
  // The driver's counters (bad replies, malformed payloads, ...) by name, for status
  // pages and metrics. Loop thread.
  virtual std::vector<std::pair<std::string, uint64_t>> Counters() const { return {}; }
};

}  // namespace gateway
