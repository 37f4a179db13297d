// ReadingSink: where drivers hand their readings to the core.
//
// Drivers know nothing of SQLite or MQTT: they Submit() a batch and, if they need
// to acknowledge their own peer (an MQTT message, an HTTP request), wait for the
// callback. The callback runs once per batch, on the core's event loop thread, after
// the batch is committed to the durable buffer (Status ok) or refused (kBusy when
// the core pushes back: nothing was stored, try again later; kShutdown when
// stopping). A driver must not block in the callback.
//
// Thread-safety: Submit() may be called from any thread.
#pragma once

#include <functional>
#include <vector>

#include "gateway/reading.h"
#include "gateway/status.h"

namespace gateway {

class ReadingSink {
 public:
  using Done = std::function<void(const Status&)>;
  virtual ~ReadingSink() = default;
  virtual void Submit(std::vector<Reading> batch, Done done = {}) = 0;
};

}  // namespace gateway
