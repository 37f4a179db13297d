// The second pass of config loading: checks the typed config as a whole.
//
// The parse pass guarantees types; this pass judges values: ranges, ids that end up in
// MQTT topics, references between settings (ssl:// needs tls.enabled), files that must
// be readable, time zones that must exist. It reports every problem it finds, each at
// the line of the key concerned, and fills in the defaults that depend on other values.
// Secrets (uplink.password, uplink.tls.key_password, the content of password_file)
// never appear in a message.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "config_internal.h"
#include "gateway/config.h"
#include "gateway/local_time.h"

namespace gateway::config_detail {

namespace {

constexpr size_t kMaxPasswordFileBytes = 64 * 1024;
constexpr const char* kKnownDrivers[] = {"simulator"};

// Why a Sparkplug id (group, edge node, device, metric path element) is unusable, or
// empty when it is fine. '/' separates topic levels (and metric path elements), '+' and
// '#' are MQTT wildcards; the Sparkplug B spec forbids all three.
std::string IdProblem(const std::string& id) {
  if (id.empty()) return "must not be empty";
  if (id.find_first_of("/+#") != std::string::npos) {
    return "'" + id + "' must not contain '/', '+' or '#' (MQTT topic separator and wildcards)";
  }
  for (unsigned char c : id) {
    if (c < 0x20 || c == 0x7f) return "must not contain control characters";
    if (c == ' ') return "'" + id + "' must not contain spaces";
  }
  return "";
}

bool ValidUtf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // truncated sequence
    for (size_t k = 1; k <= n; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, UTF-16 surrogates and values past U+10FFFF are not UTF-8.
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

std::string Minutes(int m) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02d:%02d", (m / 60) % 100, m % 60);
  return buf;
}

// "YYYY-MM-DDTHH:MM", also with a space for the T and with ":SS", as the simulator reads it.
bool ValidLocalDateTime(const std::string& s) {
  auto digits = [&](size_t pos, size_t n, int* out) {
    if (pos + n > s.size()) return false;
    int v = 0;
    for (size_t i = pos; i < pos + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
  };
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (s.size() != 16 && s.size() != 19) return false;
  if (!digits(0, 4, &y) || s[4] != '-' || !digits(5, 2, &mo) || s[7] != '-' || !digits(8, 2, &d) ||
      (s[10] != 'T' && s[10] != ' ') || !digits(11, 2, &h) || s[13] != ':' || !digits(14, 2, &mi)) {
    return false;
  }
  if (s.size() == 19 && (s[16] != ':' || !digits(17, 2, &sec))) return false;
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return mo >= 1 && mo <= 12 && d >= 1 && d <= kDays[mo - 1] && !(mo == 2 && d == 29 && !leap) && h <= 23 &&
         mi <= 59 && sec <= 59;
}

class Checker {
 public:
  Checker(const ParseInfo& info, Config* config, std::vector<ConfigError>* errors,
          std::vector<ConfigError>* warnings)
      : info_(info), c_(*config), errors_(errors), warnings_(warnings) {}

  void Run() {
    Gateway();
    Log();
    Buffer();
    Uplink();
    Simulator();
    History();
    Facilities();
  }

 private:
  // The line of a key path; for a key not written in the file, the line of the
  // nearest enclosing key that was (so "gateway.group_id: required" points at the
  // gateway section), else line 1.
  int Line(std::string path) const {
    for (;;) {
      auto it = info_.lines.find(path);
      if (it != info_.lines.end()) return it->second;
      if (path.empty()) return 1;
      size_t cut = path.find_last_of(".[");
      path = cut == std::string::npos ? "" : path.substr(0, cut);
    }
  }

  void Error(const std::string& path, const std::string& message) {
    if (info_.bad.count(path)) return;  // the parse pass has said it already
    errors_->push_back({info_.file, Line(path), path + ": " + message});
  }

  void Warn(const std::string& path, const std::string& message) {
    warnings_->push_back({info_.file, Line(path), path + ": " + message});
  }

  void Range(const std::string& path, int64_t value, int64_t lo, int64_t hi) {
    if (value < lo || value > hi) {
      Error(path, "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " +
                      std::to_string(value));
    }
  }

  void Id(const std::string& path, const std::string& value) {
    if (value.empty()) {
      Error(path, "required");
      return;
    }
    std::string why = IdProblem(value);
    if (!why.empty()) Error(path, why);
  }

  void Zone(const std::string& path, const std::string& name) {
    if (name.empty()) {
      Error(path, "must not be empty (an IANA time zone such as Asia/Shanghai)");
      return;
    }
    auto tz = TimeZone::Load(name);
    if (!tz.ok()) Error(path, "unknown time zone '" + name + "' (expected an IANA name such as Asia/Shanghai)");
  }

  // A file that the uplink will open later, checked now so that a typo shows at
  // check-config time and not as a TLS failure in the small hours.
  void Readable(const std::string& path, const std::string& file) {
    if (file.empty()) return;
    if (::access(file.c_str(), R_OK) != 0) {
      Error(path, "cannot read '" + file + "': " + std::strerror(errno));
      return;
    }
    struct stat st {};
    if (::stat(file.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) Error(path, "'" + file + "' is not a regular file");
  }

  void Gateway() {
    Id("gateway.group_id", c_.group_id);
    Id("gateway.edge_node_id", c_.edge_node_id);
    if (c_.data_dir.empty()) Error("gateway.data_dir", "must not be empty");
    Zone("gateway.timezone", c_.timezone);
  }

  void Log() {
    const std::string& l = c_.log.level;
    if (l != "trace" && l != "debug" && l != "info" && l != "warn" && l != "error") {
      Error("log.level", "must be one of trace, debug, info, warn, error; got '" + l + "'");
    }
  }

  void Buffer() {
    BufferConfig& b = c_.buffer;
    if (info_.max_disk_mb) {
      double mb = *info_.max_disk_mb;
      // Up to 1 TiB: more than any SD card or eMMC the gateway runs on.
      if (!(mb > 0) || mb > 1024.0 * 1024.0) {
        Error("buffer.max_disk_mb", "must be a number > 0 and at most 1048576, got " + Trimmed(mb));
      } else {
        b.max_disk_bytes = static_cast<uint64_t>(std::llround(mb * 1024.0 * 1024.0));
      }
    }
    Range("buffer.commit_interval_ms", b.commit_interval_ms, 1, 10000);
    Range("buffer.commit_max_readings", b.commit_max_readings, 1, 1000000);
    Range("buffer.max_pending_readings", b.max_pending_readings, 1, 100000000);
    if (b.synchronous != "full" && b.synchronous != "normal") {
      Error("buffer.synchronous", "must be full or normal, got '" + b.synchronous + "'");
    }
  }

  static std::string Trimmed(double d) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%g", d);
    return buf;
  }

  // scheme://host:port with a scheme Paho speaks over TCP. Returns the scheme, empty
  // after reporting a problem.
  std::string Broker(const std::string& path, const std::string& uri) {
    // A URI with user:password@ would print the password in this very message.
    if (uri.find('@') != std::string::npos) {
      Error(path, "credentials in the broker URI are not supported; use uplink.username and uplink.password_file");
      return "";
    }
    size_t sep = uri.find("://");
    std::string scheme = sep == std::string::npos ? "" : uri.substr(0, sep);
    if (scheme != "tcp" && scheme != "ssl" && scheme != "mqtt" && scheme != "mqtts") {
      Error(path, "'" + uri + "' must start with tcp://, ssl://, mqtt:// or mqtts://");
      return "";
    }
    std::string rest = uri.substr(sep + 3);
    std::string host, port;
    bool ipv6 = !rest.empty() && rest[0] == '[';
    if (ipv6) {  // [IPv6]:port
      size_t close = rest.find(']');
      if (close == std::string::npos) {
        Error(path, "'" + uri + "' has an unclosed '[' in the host");
        return "";
      }
      host = rest.substr(1, close - 1);
      if (close + 1 < rest.size() && rest[close + 1] == ':') port = rest.substr(close + 2);
      else if (close + 1 != rest.size()) host.clear();
    } else {
      size_t colon = rest.rfind(':');
      host = rest.substr(0, colon);
      if (colon != std::string::npos) port = rest.substr(colon + 1);
    }
    if (host.empty() || host.find_first_of(ipv6 ? "/ ?#[]" : "/ ?#:[]") != std::string::npos) {
      Error(path, "'" + uri + "' must be " + scheme + "://host:port");
      return "";
    }
    if (port.empty()) {
      Error(path, "'" + uri + "' needs a port, e.g. " + scheme + "://" + host +
                      (scheme == "ssl" || scheme == "mqtts" ? ":8883" : ":1883"));
      return "";
    }
    int p = 0;
    bool digits = port.size() <= 5 && port.find_first_not_of("0123456789") == std::string::npos;
    if (digits) p = std::stoi(port);
    if (!digits || p < 1 || p > 65535) {
      Error(path, "'" + uri + "' has an invalid port (1..65535)");
      return "";
    }
    return scheme;
  }

  void Uplink() {
    UplinkConfig& u = c_.uplink;
    bool any_tls_scheme = false, any_plain_scheme = false;
    if (u.brokers.empty()) {
      Error("uplink.brokers", "at least one broker is required, e.g. tcp://127.0.0.1:1883");
    }
    for (size_t i = 0; i < u.brokers.size(); ++i) {
      const std::string path = "uplink.brokers[" + std::to_string(i) + "]";
      std::string scheme = Broker(path, u.brokers[i]);
      if (scheme == "ssl" || scheme == "mqtts") {
        any_tls_scheme = true;
        if (!u.tls.enabled) Error(path, "'" + u.brokers[i] + "' needs uplink.tls.enabled: true");
      } else if (!scheme.empty()) {
        any_plain_scheme = true;
      }
    }

    if (u.client_id.empty()) u.client_id = c_.group_id + "-" + c_.edge_node_id;
    for (unsigned char ch : u.client_id) {
      if (ch < 0x20 || ch == 0x7f) {
        Error("uplink.client_id", "must not contain control characters");
        break;
      }
    }

    if (!info_.password_file.empty() && !u.password.empty()) {
      Error("uplink.password_file", "give either uplink.password or uplink.password_file, not both");
    } else if (!info_.password_file.empty()) {
      PasswordFile();
    } else if (!u.password.empty()) {
      struct stat st {};
      if (::stat(info_.file.c_str(), &st) == 0 && (st.st_mode & 044) != 0) {
        Warn("uplink.password", "config file is readable by other users; use password_file with mode 0600");
      }
    }
    // MQTT 3.1.1 (3.1.2.9) forbids a password without a user name; a broker closes the
    // connection, which would look like a network fault.
    if (u.mqtt_version == 4 && !u.password.empty() && u.username.empty()) {
      Error(info_.password_file.empty() ? "uplink.password" : "uplink.password_file",
            "needs uplink.username with MQTT 3.1.1");
    }

    Range("uplink.keep_alive_s", u.keep_alive_s, 0, 65535);
    Range("uplink.connect_timeout_s", u.connect_timeout_s, 1, 3600);
    if (u.qos != 0 && u.qos != 1) Error("uplink.qos", "must be 0 or 1, got " + std::to_string(u.qos));
    Range("uplink.reconnect.min_ms", u.reconnect_min_ms, 1, 3600000);
    if (u.reconnect_max_ms < u.reconnect_min_ms) {
      Error("uplink.reconnect.max_ms", "must be >= uplink.reconnect.min_ms (" + std::to_string(u.reconnect_min_ms) +
                                           "), got " + std::to_string(u.reconnect_max_ms));
    } else {
      Range("uplink.reconnect.max_ms", u.reconnect_max_ms, 1, 86400000);
    }
    Range("uplink.recreate_client_after_s", u.recreate_client_after_s, 1, 86400 * 7);
    Range("uplink.ack_timeout_s", u.ack_timeout_s, 1, 3600);
    Range("uplink.max_inflight", u.max_inflight, 1, 65535);
    Range("uplink.max_metrics_per_payload", u.max_metrics_per_payload, 1, 100000);
    Range("uplink.node_metrics_interval_s", u.node_metrics_interval_s, 1, 86400);
    if (!u.primary_host_id.empty()) {
      std::string why = IdProblem(u.primary_host_id);
      if (!why.empty()) Error("uplink.primary_host_id", why);
    }

    const TlsConfig& t = u.tls;
    if (t.enabled) {
      Readable("uplink.tls.ca_file", t.ca_file);
      Readable("uplink.tls.cert_file", t.cert_file);
      Readable("uplink.tls.key_file", t.key_file);
      if (!t.cert_file.empty() && t.key_file.empty()) {
        Error("uplink.tls.cert_file", "needs uplink.tls.key_file as well");
      }
      if (t.cert_file.empty() && !t.key_file.empty()) {
        Error("uplink.tls.key_file", "needs uplink.tls.cert_file as well");
      }
      if (!t.key_password.empty() && t.key_file.empty()) {
        Error("uplink.tls.key_password", "given without uplink.tls.key_file");
      }
      if (!t.verify) {
        Warn("uplink.tls.verify", "false: the broker's certificate and host name are not checked; for testing only");
      }
      if (any_plain_scheme && !any_tls_scheme) {
        Warn("uplink.tls.enabled", "true, but no broker uses ssl:// or mqtts://, so TLS is not used");
      }
    }
    if (!t.key_password.empty()) {
      struct stat st {};
      if (::stat(info_.file.c_str(), &st) == 0 && (st.st_mode & 044) != 0) {
        Warn("uplink.tls.key_password", "config file is readable by other users; make it mode 0600");
      }
    }
  }

  void PasswordFile() {
    const std::string& file = info_.password_file;
    auto text = ReadSmallFile(file, kMaxPasswordFileBytes);
    if (!text.ok()) {
      Error("uplink.password_file", text.status().message());
      return;
    }
    std::string pw = std::move(text.value());
    // Editors and `echo` add a final newline that is not part of the password.
    while (!pw.empty() && (pw.back() == '\n' || pw.back() == '\r')) pw.pop_back();
    if (pw.empty()) {
      Error("uplink.password_file", "'" + file + "' is empty");
      return;
    }
    c_.uplink.password = std::move(pw);
    struct stat st {};
    if (::stat(file.c_str(), &st) == 0 && (st.st_mode & 044) != 0) {
      Warn("uplink.password_file", "'" + file + "' is readable by other users; chmod 600 it");
    }
  }

  void History() {
    const HistoryConfig& h = c_.history;
    Range("history.retention_days", h.retention_days, 1, 3660);
    Range("history.daily_report_delay_s", h.daily_report_delay_s, 0, 6 * 3600);
  }

  void Simulator() {
    const SimulatorConfig& s = c_.simulator;
    if (!(s.speed > 0)) Error("simulator.speed", "must be > 0, got " + Trimmed(s.speed));
    if (!(s.interval_s > 0)) Error("simulator.interval_s", "must be > 0, got " + Trimmed(s.interval_s));
    if (!(s.dropout_probability >= 0 && s.dropout_probability <= 1)) {
      Error("simulator.dropout_probability", "must be between 0 and 1, got " + Trimmed(s.dropout_probability));
    }
    if (!s.start.empty() && !ValidLocalDateTime(s.start)) {
      Error("simulator.start", "'" + s.start + "' is not a local date and time YYYY-MM-DDTHH:MM");
    }
  }

  void Facilities() {
    auto& fs = c_.facilities;
    if (fs.empty()) {
      Error("facilities", "at least one facility is required");
      return;
    }
    std::map<std::string, int> ids;  // id -> line
    size_t sensors = 0, simulated = 0;
    for (size_t i = 0; i < fs.size(); ++i) {
      FacilityConfig& f = fs[i];
      const std::string p = "facilities[" + std::to_string(i) + "]";
      if (info_.bad.count(p)) continue;  // not even a map: its keys would only repeat that
      Id(p + ".id", f.id);
      if (!f.id.empty()) {
        auto [it, fresh] = ids.emplace(f.id, Line(p + ".id"));
        if (!fresh) Error(p + ".id", "duplicate facility id '" + f.id + "' (also at line " + std::to_string(it->second) + ")");
      }
      if (!info_.Has(p + ".type")) {
        Error(p + ".type", "required: canteen, elderly_station, charging_station or fitness_point");
      }
      if (!ValidUtf8(f.name)) Error(p + ".name", "is not valid UTF-8");
      if (f.name.empty()) f.name = f.id;
      if (f.timezone.empty()) {
        if (info_.Has(p + ".timezone")) Error(p + ".timezone", "must not be empty (omit it to use gateway.timezone)");
        f.timezone = c_.timezone;
      } else {
        Zone(p + ".timezone", f.timezone);
      }

      for (size_t k = 0; k < f.opening_hours.size(); ++k) {
        const OpeningPeriod& o = f.opening_hours[k];
        const std::string op = p + ".opening_hours[" + std::to_string(k) + "]";
        if (info_.bad.count(op)) continue;
        bool has_open = info_.Has(op + ".open"), has_close = info_.Has(op + ".close");
        if (!has_open) Error(op + ".open", "required (\"HH:MM\")");
        if (!has_close) Error(op + ".close", "required (\"HH:MM\" or \"24:00\")");
        if (has_open && has_close && !info_.bad.count(op + ".open") && !info_.bad.count(op + ".close") &&
            o.close_minute == o.open_minute) {
          Error(op + ".close", "must differ from open (" + Minutes(o.open_minute) +
                                   "); for a facility open all day use open: \"00:00\", close: \"24:00\"");
        }
      }

      std::map<std::string, int> sensor_ids;
      uint32_t connectors = 0;
      for (size_t k = 0; k < f.sensors.size(); ++k) {
        SensorConfig& s = f.sensors[k];
        const std::string sp = p + ".sensors[" + std::to_string(k) + "]";
        if (info_.bad.count(sp)) continue;
        ++sensors;
        Id(sp + ".id", s.id);
        if (!s.id.empty()) {
          auto [it, fresh] = sensor_ids.emplace(s.id, Line(sp + ".id"));
          if (!fresh) {
            Error(sp + ".id", "duplicate sensor id '" + s.id + "' in facility '" + f.id + "' (also at line " +
                                  std::to_string(it->second) + ")");
          }
        }
        if (!info_.Has(sp + ".kind")) {
          Error(sp + ".kind",
                "required: door_counter, occupancy, seat, meal_terminal, checkin_terminal, charge_point or equipment");
        }
        bool known = false;
        for (const char* d : kKnownDrivers) known = known || s.driver == d;
        if (!known) {
          std::string list;
          for (const char* d : kKnownDrivers) list += (list.empty() ? "" : ", ") + std::string(d);
          Error(sp + ".driver", "unknown driver '" + s.driver + "'; known drivers: " + list);
        } else if (s.driver == "simulator") {
          ++simulated;
        }
        if (s.kind == SensorKind::kChargePoint) {
          if (!info_.Has(sp + ".connectors")) {
            Error(sp + ".connectors", "required for a charge_point (1..32)");
          } else {
            Range(sp + ".connectors", s.connectors, 1, 32);
          }
          if (!info_.Has(sp + ".max_power_kw")) s.max_power_kw = 7.0;
          if (!(s.max_power_kw > 0 && s.max_power_kw <= 1000)) {
            Error(sp + ".max_power_kw", "must be > 0 and at most 1000, got " + Trimmed(s.max_power_kw));
          }
          if (s.connectors <= 32) connectors += s.connectors;
        } else {
          const char* kind = SensorKindName(s.kind);
          if (info_.Has(sp + ".connectors")) {
            Error(sp + ".connectors", std::string("only for kind charge_point, not ") + kind);
          }
          if (info_.Has(sp + ".max_power_kw")) {
            Error(sp + ".max_power_kw", std::string("only for kind charge_point, not ") + kind);
          }
        }
        if (!(s.silent_after_s >= 0)) {
          Error(sp + ".silent_after_s", "must be >= 0 (0 = three driver intervals), got " + Trimmed(s.silent_after_s));
        }
      }

      if (f.capacity == 0) {
        if (f.type == FacilityType::kChargingStation && connectors > 0) {
          f.capacity = connectors;  // a charging station's capacity is its connectors
        } else if (f.type == FacilityType::kChargingStation) {
          Error(p + ".capacity", "required: > 0, or charge_point sensors with connectors to count");
        } else {
          Error(p + ".capacity", info_.Has(p + ".capacity") ? "must be > 0" : "required (> 0)");
        }
      }
    }
    if (sensors == 0) Warn("facilities", "no facility has sensors; nothing will be measured");
    if (simulated > 0 && !c_.simulator.enabled) {
      Warn("simulator.enabled", "false, but " + std::to_string(simulated) +
                                    " sensor(s) use driver 'simulator'; they will stay silent");
    }
  }

  const ParseInfo& info_;
  Config& c_;
  std::vector<ConfigError>* errors_;
  std::vector<ConfigError>* warnings_;
};

}  // namespace

void ValidateConfig(const ParseInfo& info, Config* config, std::vector<ConfigError>* errors,
                    std::vector<ConfigError>* warnings) {
  Checker(info, config, errors, warnings).Run();
}

}  // namespace gateway::config_detail
