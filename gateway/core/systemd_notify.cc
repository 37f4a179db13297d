#include "core/systemd_notify.h"

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

namespace gateway {

SystemdNotify::SystemdNotify(boost::asio::io_context& io) : timer_(io) {
  uint64_t usec = 0;
  // 0 in `unset_environment`: the variables stay for nobody else to read anyway.
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    // Half the timeout, as sd_watchdog_enabled(3) advises: one late ping is not fatal.
    interval_ = std::chrono::microseconds(usec / 2);
  }
}

void SystemdNotify::Ready(const std::string& status) {
  std::string msg = "READY=1\nSTATUS=" + status;
  if (sd_notify(0, msg.c_str()) > 0) {
    spdlog::info("told systemd we are ready{}", watchdog_enabled() ? "; feeding its watchdog" : "");
  }
  if (watchdog_enabled()) SchedulePing();
}

void SystemdNotify::Status(const std::string& status) { sd_notify(0, ("STATUS=" + status).c_str()); }

void SystemdNotify::Stopping() {
  timer_.cancel();
  sd_notify(0, "STOPPING=1");
}

void SystemdNotify::SchedulePing() {
  sd_notify(0, "WATCHDOG=1");
  timer_.expires_after(interval_);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) SchedulePing();
  });
}

}  // namespace gateway
