// SystemdNotify: tells systemd (Type=notify) that the gateway is ready, keeps its
// watchdog fed from the event loop, and says when it is stopping.
//
// Owned by the App; all methods run on the core's event-loop thread. The watchdog
// ping is a timer on that loop, so a loop stuck in a handler stops the pings and
// systemd restarts the service: the watchdog checks the loop, not just the process.
// Without NOTIFY_SOCKET (not under systemd) every call does nothing.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <string>

namespace gateway {

class SystemdNotify {
 public:
  explicit SystemdNotify(boost::asio::io_context& io);
  void Ready(const std::string& status);
  void Status(const std::string& status);
  void Stopping();
  bool watchdog_enabled() const { return interval_.count() > 0; }

 private:
  void SchedulePing();
  boost::asio::steady_timer timer_;
  std::chrono::microseconds interval_{0};
};

}  // namespace gateway
