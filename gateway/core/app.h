// App: the gateway process. Builds the components from the config, owns the one
// io_context, handles SIGINT/SIGTERM through a signal_set on the loop, and shuts down
// in order: drivers stop, the pipeline commits what waits, the uplink lets in-flight
// publishes settle and publishes NDEATH, the outbox closes cleanly.
//
// Run() is called once from main's thread, which becomes the event-loop thread.
#pragma once

#include <string>

#include "gateway/config.h"

namespace gateway {

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
  Config config_;
  AppOptions options_;
};

}  // namespace gateway
