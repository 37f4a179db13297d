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

#include "gateway/reading_sink.h"
#include "gateway/status.h"

namespace gateway {

// What a driver reports for the status page and /metrics (loop thread).
struct DriverStats {
  uint64_t readings = 0;   // submitted to the sink
  uint64_t errors = 0;     // bad input, device faults, refused batches: whatever it logged as an error
  std::string last_error;  // no secrets
};

class Driver {
 public:
  virtual ~Driver() = default;
  virtual std::string Name() const = 0;
  virtual Status Start(ReadingSink& sink) = 0;
  virtual void Stop() = 0;
  // Loop thread. A driver with nothing to report keeps the default.
  virtual DriverStats Stats() const { return {}; }

  // Set by the core when Start() failed (loop thread): the driver is not running, and
  // /readyz and the status page say so rather than a gateway that looks whole.
  void set_start_error(std::string why) { start_error_ = std::move(why); }
  const std::string& start_error() const { return start_error_; }

 private:
  std::string start_error_;
};

}  // namespace gateway
