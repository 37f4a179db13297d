// App: the gateway process. Builds the components from the config, owns the one
// io_context, handles SIGINT/SIGTERM through a signal_set on the loop, and shuts down
// in order: drivers stop, the pipeline commits what waits, the uplink lets in-flight
// publishes settle and publishes NDEATH, the outbox closes cleanly.
//
// Run() is called once from main's thread, which becomes the event-loop thread.
#pragma once

#include <memory>
#include <string>

#include "gateway/config.h"
#include "gateway/status.h"

namespace gateway::store {
class Outbox;
}

namespace gateway {

// Exit codes a service manager can tell apart (sysexits.h): a buffer path the operator
// must fix (not a directory, not a regular file, read-only) is not retried by the unit
// (RestartPreventExitStatus); a medium that kept failing at start-up is.
inline constexpr int kExitBufferUnusable = 73;  // EX_CANTCREAT
inline constexpr int kExitBufferIoError = 74;   // EX_IOERR

struct AppOptions {
  std::string version;
  bool live_view = false;  // redraw the facility table on stdout every second
};

class App {
 public:
  App(Config config, AppOptions options);
  // Returns the process exit code.
  int Run();

 private:
  Result<std::unique_ptr<store::Outbox>> OpenBuffer();
  Config config_;
  AppOptions options_;
};

}  // namespace gateway
