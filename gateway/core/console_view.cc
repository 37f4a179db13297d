#include "core/console_view.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "gateway/satisfaction.h"

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
  const size_t w = DisplayWidth(s);
  std::string out = s;
  if (w < width) out.append(width - w, ' ');
  return out;
}

// The text is built by appending to one string, never as `"literal" + std::string&&`:
// that operator inserts at the front of the temporary (a memmove within its own
// buffer), and GCC 12 at -O3 inlines it into a copy whose length it cannot bound and
// reports a false -Wrestrict overlap (Debian 12, Release builds). Appending is also
// fewer temporaries.
std::string Bar(uint32_t value, uint32_t capacity, int width) {
  const size_t w = width > 0 ? static_cast<size_t>(width) : 0;
  const size_t filled =
      capacity == 0 ? 0 : static_cast<size_t>(std::min<double>(1.0, double(value) / capacity) * double(w));
  std::string bar;
  bar.reserve(w + 2);
  bar += '[';
  bar.append(filled, '#');
  bar.append(w - filled, '.');
  bar += ']';
  return bar;
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
  // Appended piece by piece, for the reason given at Bar().
  out.append("community-gateway  ").append(config_.group_id).append("/").append(config_.edge_node_id);
  out.append("   ").append(local).append(" ").append(config_.timezone).append("\n\n");
  out.append(Pad("设施 Facility", 48)).append(Pad("在场 Occupancy", 30)).append(Pad("开放 Open", 12));
  out.append(Pad("今日到访 Visits", 18)).append("传感器 Sensors\n");
  for (const auto& f : model_.Snapshot()) {
    char occ[64];
    std::snprintf(occ, sizeof occ, "%3u/%-3u %s", f.occupancy, f.capacity, Bar(f.occupancy, f.capacity, 12).c_str());
    out.append(Pad(f.name.empty() ? f.id : f.name, 48)).append(Pad(occ, 30));
    out.append(Pad(f.open ? "开 open" : "关 closed", 12)).append(Pad(std::to_string(f.entries_today), 18));
    out.append(std::to_string(f.sensors_online)).append("/").append(std::to_string(f.sensors_total));
    out.append(" online");
    if (f.feedback.present) {
      out.append("  满意度 satisfaction ")
          .append(IndexText(f.feedback.responses, f.feedback.index, f.feedback.significant, f.feedback.min_responses));
    }
    out.push_back('\n');
  }
  auto up = uplink_.stats();
  auto ps = pipeline_.stats();
  out.append("\n上行 Uplink: ").append(uplink::UplinkStateName(up.state));
  if (!up.broker.empty()) out.append(" (").append(up.broker).append(")");
  out.append("  bdSeq ").append(std::to_string(up.bd_seq));
  out.append("  reconnects ").append(std::to_string(up.reconnects));
  out.append("  published ").append(std::to_string(up.readings_published)).append(" readings\n");
  out.append("缓冲 Buffer: ").append(std::to_string(outbox_.depth())).append(" waiting, ");
  out.append(std::to_string(outbox_.dropped_total())).append(" dropped by the disk cap; accepted ");
  out.append(std::to_string(ps.accepted)).append(" readings\n");
  if (!up.last_error.empty()) out.append("最近错误 Last error: ").append(up.last_error).append("\n");
  if (tty_) out += "\nCtrl-C to stop\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
}

}  // namespace gateway
