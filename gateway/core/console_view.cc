#include "core/console_view.h"

#include <unistd.h>

#include <cstdio>
#include <string>

namespace gateway {

namespace {

// Display width of a UTF-8 string, counting CJK characters as two columns, so that
// the Chinese facility names line up.
size_t DisplayWidth(const std::string& s) {
  size_t w = 0;
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      w += 1;
      i += 1;
    } else if ((c >> 5) == 0x6) {
      w += 1;
      i += 2;
    } else if ((c >> 4) == 0xe) {
      w += 2;
      i += 3;
    } else {
      w += 2;
      i += 4;
    }
  }
  return w;
}

std::string Pad(const std::string& s, size_t width) {
  size_t w = DisplayWidth(s);
  return w >= width ? s : s + std::string(width - w, ' ');
}

std::string Bar(uint32_t value, uint32_t capacity, int width) {
  int filled = capacity == 0 ? 0 : static_cast<int>(std::min<double>(1.0, double(value) / capacity) * width);
  return "[" + std::string(static_cast<size_t>(filled), '#') + std::string(static_cast<size_t>(width - filled), '.') + "]";
}

}  // namespace

ConsoleView::ConsoleView(boost::asio::io_context& io, const Config& config, const FacilityModel& model,
                         const Pipeline& pipeline, store::Outbox& outbox,
                         const uplink::MqttUplink& uplink, const Clock& clock)
    : config_(config),
      model_(model),
      pipeline_(pipeline),
      outbox_(outbox),
      uplink_(uplink),
      clock_(clock),
      timer_(io),
      tty_(isatty(STDOUT_FILENO) != 0) {}

void ConsoleView::Start() { Schedule(); }
void ConsoleView::Stop() { timer_.cancel(); }

void ConsoleView::Schedule() {
  timer_.expires_after(std::chrono::seconds(1));
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    Draw();
    Schedule();
  });
}

void ConsoleView::Draw() {
  std::string out;
  if (tty_) out += "\x1b[H\x1b[2J";  // home and clear: redraw in place
  int64_t now = clock_.NowMs();
  std::string local = "?";
  if (auto tz = TimeZone::Load(config_.timezone); tz.ok()) {
    LocalDateTime l = tz->ToLocal(now);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d", l.year, l.month, l.day,
                  l.minute_of_day / 60, l.minute_of_day % 60);
    local = buf;
  }
  out += "community-gateway  " + config_.group_id + "/" + config_.edge_node_id + "   " + local + " " +
         config_.timezone + "\n\n";
  out += Pad("设施 Facility", 48) + Pad("在场 Occupancy", 30) + Pad("开放 Open", 12) +
         Pad("今日到访 Visits", 18) + "传感器 Sensors\n";
  for (const auto& f : model_.Snapshot()) {
    char occ[64];
    std::snprintf(occ, sizeof occ, "%3u/%-3u %s", f.occupancy, f.capacity, Bar(f.occupancy, f.capacity, 12).c_str());
    out += Pad(f.name.empty() ? f.id : f.name, 48) + Pad(occ, 30) +
           Pad(f.open ? "开 open" : "关 closed", 12) + Pad(std::to_string(f.entries_today), 18) +
           std::to_string(f.sensors_online) + "/" + std::to_string(f.sensors_total) + " online\n";
  }
  auto up = uplink_.stats();
  auto ps = pipeline_.stats();
  out += "\n上行 Uplink: " + std::string(uplink::UplinkStateName(up.state)) +
         (up.broker.empty() ? "" : " (" + up.broker + ")") + "  bdSeq " + std::to_string(up.bd_seq) +
         "  reconnects " + std::to_string(up.reconnects) + "  published " +
         std::to_string(up.readings_published) + " readings\n";
  out += "缓冲 Buffer: " + std::to_string(outbox_.depth()) + " waiting, " +
         std::to_string(outbox_.dropped_total()) + " dropped by the disk cap; accepted " +
         std::to_string(ps.accepted) + " readings\n";
  if (!up.last_error.empty()) out += "最近错误 Last error: " + up.last_error + "\n";
  if (tty_) out += "\nCtrl-C to stop\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
}

}  // namespace gateway
