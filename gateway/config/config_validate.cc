// The second pass of config loading: checks the typed config as a whole.
//
// The parse pass guarantees types; this pass judges values: ranges, ids that end up in
// MQTT topics, references between settings (ssl:// needs tls.enabled), files that must
// be readable, time zones that must exist. It reports every problem it finds, each at
// the line of the key concerned, and fills in the defaults that depend on other values.
// Secrets (uplink.password, uplink.tls.key_password, the content of password_file)
// never appear in a message.
//
// Past 500 lines because every rule between settings is here, section by section, so
// that a user's every mistake is reported in one pass.
#include <algorithm>
#include <arpa/inet.h>
#include <grp.h>
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
#include "gateway/net_address.h"

namespace gateway::config_detail {

namespace {

constexpr size_t kMaxPasswordFileBytes = 64 * 1024;
constexpr const char* kKnownDrivers[] = {"simulator", "modbus", "mqtt", "http", "ocpp"};

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
  auto digits = [&](size_t pos, size_t n, int* out) { return ParseFixedDigits(s, pos, n, out); };
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (s.size() != 16 && s.size() != 19) return false;
  if (!digits(0, 4, &y) || s[4] != '-' || !digits(5, 2, &mo) || s[7] != '-' || !digits(8, 2, &d) ||
      (s[10] != 'T' && s[10] != ' ') || !digits(11, 2, &h) || s[13] != ':' || !digits(14, 2, &mi)) {
    return false;
  }
  if (s.size() == 19 && (s[16] != ':' || !digits(17, 2, &sec))) return false;
  return ValidCalendarDate(y, mo, d) && h <= 23 && mi <= 59 && sec <= 59;
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
    Drivers();
    Web();
    Alarms();
    Secrets();
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
    Range("buffer.low_rate_commit_delay_ms", b.low_rate_commit_delay_ms, 0, 10000);
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
    // No broker is a gateway not set up yet (the installed config): it runs, forwards
    // nothing and says so (MissingSetup), rather than failing at every boot.
    if (u.brokers.empty()) {
      Warn("uplink.brokers", "none: nothing is forwarded until a broker is configured, e.g. tcp://127.0.0.1:1883");
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
  }

  void History() {
    const HistoryConfig& h = c_.history;
    Range("history.retention_days", h.retention_days, 1, 3660);
    Range("history.daily_report_delay_s", h.daily_report_delay_s, 0, 6 * 3600);
    // Bounded by the retention (a valid one: a bad retention is its own error).
    Range("history.late_days", h.late_days, 0, h.retention_days >= 1 ? h.retention_days : 3660);
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

  // Call buttons: the actions are short words, and a test period is a well-formed
  // opening period. location is free text for people (any kind), but it is on the wire.
  void CallButton(const std::string& sp, const SensorConfig& s) {
    if (s.location.size() > 200) Error(sp + ".location", "at most 200 bytes");
    if (s.kind != SensorKind::kCallButton) {
      for (const char* key : {".call_actions", ".test_actions", ".test_hours"}) {
        if (info_.Has(sp + key)) {
          Error(sp + key, std::string("only for kind call_button, not ") + SensorKindName(s.kind));
        }
      }
      return;
    }
    if (s.call_actions.empty() && info_.Has(sp + ".call_actions")) {
      Error(sp + ".call_actions", "needs at least one action (a call button that cannot call)");
    }
    for (const auto* list : {&s.call_actions, &s.test_actions}) {
      const char* key = list == &s.call_actions ? ".call_actions" : ".test_actions";
      for (const auto& a : *list) {
        if (a.empty() || a.size() > 64) Error(sp + key, "actions are 1 to 64 bytes, got '" + a.substr(0, 64) + "'");
      }
    }
    for (const auto& a : s.call_actions) {
      for (const auto& t : s.test_actions) {
        if (a == t) Error(sp + ".test_actions", "'" + a + "' is also a call action");
      }
    }
    for (size_t k = 0; k < s.test_hours.size(); ++k) {
      const std::string op = sp + ".test_hours[" + std::to_string(k) + "]";
      if (info_.bad.count(op)) continue;
      if (!info_.Has(op + ".open")) Error(op + ".open", "required (\"HH:MM\")");
      if (!info_.Has(op + ".close")) Error(op + ".close", "required (\"HH:MM\")");
    }
  }

  // alarms: the windows are seconds a person waits, and the escalation outputs must
  // name things that exist.
  void Alarms() {
    const AlarmsConfig& a = c_.alarms;
    auto seconds = [&](const char* key, double v, double lo, double hi) {
      if (!(v >= lo && v <= hi)) {
        Error(std::string("alarms.") + key,
              "must be between " + Trimmed(lo) + " and " + Trimmed(hi) + " seconds, got " + Trimmed(v));
      }
    };
    seconds("repeat_window_s", a.repeat_window_s, 0, 3600);
    seconds("reannounce_s", a.reannounce_s, 1, 3600);
    seconds("escalate_after_s", a.escalate_after_s, 0, 86400);
    AlarmEscalationConfig& e = c_.alarms.escalation;
    const std::string cp = "alarms.escalation.coil";
    if (info_.Has(cp) && !info_.bad.count(cp)) {
      if (e.coil_device.empty()) {
        Error(cp + ".device", "required: the id of a drivers.modbus device");
      } else {
        bool found = false;
        for (const auto& d : c_.drivers.modbus.devices) found = found || d.id == e.coil_device;
        if (!found) Error(cp + ".device", "no drivers.modbus device '" + e.coil_device + "'");
      }
      Range(cp + ".address", e.coil_address, 0, 65535);
    }
    const std::string wp = "alarms.escalation.webhook";
    if (!info_.webhook_token_file.empty()) {
      if (!e.webhook_token.empty()) {
        Error(wp + ".token_file", "give either token or token_file, not both");
      } else {
        auto text = ReadSmallFile(info_.webhook_token_file, kMaxPasswordFileBytes);
        if (!text.ok()) {
          Error(wp + ".token_file", text.status().message());
        } else {
          std::string t = std::move(text.value());
          while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
          if (t.empty()) Error(wp + ".token_file", "'" + info_.webhook_token_file + "' is empty");
          e.webhook_token = std::move(t);
        }
      }
    }
    if (info_.Has(wp) && !info_.bad.count(wp)) {
      const std::string& u = e.webhook_url;
      if (u.rfind("http://", 0) != 0 && u.rfind("https://", 0) != 0) {
        Error(wp + ".url", "required: an http:// or https:// URL");
      } else if (u.find('@') != std::string::npos) {
        Error(wp + ".url", "credentials in the URL are not supported; use token_file");
      }
      Range(wp + ".timeout_ms", e.webhook_timeout_ms, 100, 60000);
      Range(wp + ".retries", e.webhook_retries, 0, 100);
    }
  }

  // A feedback terminal's buttons: 2..10, each with an id-like name (it is in metric
  // names) and a score; names and scores distinct (a tablet may post the score). Every
  // terminal of a facility has the same buttons, or the facility's shares and index
  // would mix scales.
  void FeedbackTerminal(const std::string& sp, const FacilityConfig& f, SensorConfig& s,
                        const SensorConfig*& first) {
    if (s.kind != SensorKind::kFeedbackTerminal) {
      for (const char* key : {".buttons", ".repeat_interval_s"}) {
        if (info_.Has(sp + key)) {
          Error(sp + key, std::string("only for kind feedback_terminal, not ") + SensorKindName(s.kind));
        }
      }
      return;
    }
    const bool given = info_.Has(sp + ".buttons");
    if (!given) s.buttons = DefaultFeedbackButtons();
    if (given && (s.buttons.size() < 2 || s.buttons.size() > 10)) {
      Error(sp + ".buttons", "needs 2 to 10 buttons, got " + std::to_string(s.buttons.size()));
    }
    std::map<std::string, size_t> names;
    std::map<int, size_t> scores;
    for (size_t i = 0; given && i < s.buttons.size(); ++i) {
      const FeedbackButton& b = s.buttons[i];
      const std::string bp = sp + ".buttons[" + std::to_string(i) + "]";
      if (info_.bad.count(bp)) continue;
      Id(bp + ".name", b.name);
      if (!b.name.empty() && !names.emplace(b.name, i).second) {
        Error(bp + ".name", "button '" + b.name + "' is given twice");
      }
      if (!info_.Has(bp + ".score")) {
        Error(bp + ".score", "required: a whole number 0..100");
        continue;
      }
      Range(bp + ".score", b.score, 0, 100);
      if (!scores.emplace(b.score, i).second) {
        Error(bp + ".score", "score " + std::to_string(b.score) + " is also that of buttons[" +
                                 std::to_string(scores[b.score]) + "]; scores must differ");
      }
    }
    if (!(s.repeat_interval_s >= 0 && s.repeat_interval_s <= 3600)) {
      Error(sp + ".repeat_interval_s",
            "must be between 0 and 3600 (0 = every press counts), got " + Trimmed(s.repeat_interval_s));
    }
    if (!first) {
      first = &s;
      return;
    }
    bool same = first->buttons.size() == s.buttons.size();
    for (size_t i = 0; same && i < s.buttons.size(); ++i) {
      same = first->buttons[i].name == s.buttons[i].name && first->buttons[i].score == s.buttons[i].score;
    }
    if (!same) {
      Error(sp + ".buttons", "must be the same buttons, in the same order and with the same scores, as those of "
                             "feedback terminal '" + first->id + "' (line " + std::to_string(first->line) +
                             ") of facility '" + f.id + "'");
    }
  }

  void Facilities() {
    auto& fs = c_.facilities;
    if (fs.empty()) {
      Warn("facilities", "none: nothing is measured or stored until facilities are configured");
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
      const SensorConfig* feedback_first = nullptr;  // the facility's first feedback terminal
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
                "required: door_counter, occupancy, seat, meal_terminal, checkin_terminal, charge_point, equipment, "
                "feedback_terminal or call_button");
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
        FeedbackTerminal(sp, f, s, feedback_first);
        CallButton(sp, s);
      }
      Range(p + ".feedback_min_responses", f.feedback_min_responses, 1, 1000000);

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

  // --- drivers (drivers/modbus, drivers/mqtt_subscriber, drivers/http_ingest) ---

  const FacilityConfig* FindFacility(const std::string& id) const {
    for (const auto& f : c_.facilities) {
      if (f.id == id) return &f;
    }
    return nullptr;
  }

  // A sensor that a driver section feeds: it must exist in the facility and name that
  // driver, or its readings would go nowhere (or be counted twice by two drivers).
  void SensorRef(const std::string& path, const FacilityConfig* f, const std::string& sensor, const char* driver) {
    if (!f) return;  // the facility key has its own error
    if (sensor.empty()) {
      Error(path, "required (a sensor id of facility '" + f->id + "')");
      return;
    }
    for (const auto& s : f->sensors) {
      if (s.id != sensor) continue;
      if (s.driver != driver) {
        Error(path, "sensor '" + sensor + "' of facility '" + f->id + "' has driver '" + s.driver +
                        "'; set its driver: " + driver);
      }
      return;
    }
    Error(path, "facility '" + f->id + "' has no sensor '" + sensor + "'");
  }

  const FacilityConfig* FacilityRef(const std::string& path, const std::string& id) {
    if (id.empty()) {
      Error(path, "required (a facility id)");
      return nullptr;
    }
    const FacilityConfig* f = FindFacility(id);
    if (!f) Error(path, "no facility '" + id + "'");
    return f;
  }

  // A point name becomes part of a Sparkplug metric name: path elements separated by
  // '/', none empty, no MQTT wildcards, spaces or control characters.
  void PointName(const std::string& path, const std::string& point) {
    if (point.empty()) {
      Error(path, "required (e.g. entries_total, occupancy, occupied)");
      return;
    }
    if (point.front() == '/' || point.back() == '/' || point.find("//") != std::string::npos) {
      Error(path, "'" + point + "' must not start or end with '/' or contain '//'");
      return;
    }
    for (unsigned char c : point) {
      if (c < 0x21 || c == 0x7f || c == '+' || c == '#') {
        Error(path, "'" + point + "' must not contain '+', '#', spaces or control characters");
        return;
      }
    }
    if (point == "online") Error(path, "'online' is the driver's own point; choose another name");
  }

  void JsonPointer(const std::string& path, const std::string& ptr) {
    if (ptr.empty()) return;
    if (ptr.front() != '/') {
      Error(path, "'" + ptr + "' is not a JSON Pointer (RFC 6901): it must start with '/', e.g. /occupancy");
      return;
    }
    for (size_t i = 0; i < ptr.size(); ++i) {
      if (ptr[i] == '~' && (i + 1 >= ptr.size() || (ptr[i + 1] != '0' && ptr[i + 1] != '1'))) {
        Error(path, "'" + ptr + "': '~' must be followed by 0 or 1 (RFC 6901 escapes)");
        return;
      }
    }
  }

  void Drivers() {
    Modbus();
    Mqtt();
    Http();
    Ocpp();
    // Sensors whose driver has nothing configured would stay silent forever.
    for (size_t i = 0; i < c_.facilities.size(); ++i) {
      const auto& f = c_.facilities[i];
      for (size_t k = 0; k < f.sensors.size(); ++k) {
        const auto& s = f.sensors[k];
        const std::string sp = "facilities[" + std::to_string(i) + "].sensors[" + std::to_string(k) + "].driver";
        bool fed = true;
        if (s.driver == "modbus") {
          fed = false;
          for (const auto& d : c_.drivers.modbus.devices) {
            if (d.facility != f.id) continue;
            for (const auto& r : d.registers) fed = fed || (r.sensor.empty() ? d.sensor : r.sensor) == s.id;
          }
        } else if (s.driver == "mqtt") {
          fed = false;
          for (const auto& sub : c_.drivers.mqtt.subscriptions) {
            fed = fed || (sub.facility == f.id && (sub.sensor == s.id || sub.sensor.empty()));
          }
        } else if (s.driver == "http") {
          fed = c_.drivers.http.enabled;
        } else if (s.driver == "ocpp") {
          fed = c_.drivers.ocpp.enabled;
        }
        if (!fed) {
          Warn(sp, "sensor '" + s.id + "' uses driver '" + s.driver + "' but no drivers." + s.driver +
                       " entry feeds it; it will stay silent");
        }
      }
    }
  }

  void Modbus() {
    using Tb = ModbusRegisterConfig::Table;
    using T = ModbusRegisterConfig::Type;
    std::map<std::string, int> ids;
    std::map<std::string, const ModbusDeviceConfig*> buses;  // serial port -> first device on it
    auto& devices = c_.drivers.modbus.devices;
    for (size_t i = 0; i < devices.size(); ++i) {
      ModbusDeviceConfig& d = devices[i];
      const std::string p = "drivers.modbus.devices[" + std::to_string(i) + "]";
      if (info_.bad.count(p)) continue;
      Id(p + ".id", d.id);
      if (!d.id.empty()) {
        auto [it, fresh] = ids.emplace(d.id, Line(p + ".id"));
        if (!fresh) Error(p + ".id", "duplicate device id '" + d.id + "' (also at line " + std::to_string(it->second) + ")");
      }
      const FacilityConfig* f = FacilityRef(p + ".facility", d.facility);
      if (d.rtu) {
        if (d.serial_port.empty()) Error(p + ".serial.port", "required for transport rtu (e.g. /dev/ttyUSB0)");
        if (info_.Has(p + ".host")) Error(p + ".host", "only for transport tcp");
        Range(p + ".serial.baud", d.baud, 300, 4000000);
        if (d.data_bits != 7 && d.data_bits != 8) Error(p + ".serial.data_bits", "must be 7 or 8");
        if (d.stop_bits != 1 && d.stop_bits != 2) Error(p + ".serial.stop_bits", "must be 1 or 2");
        Range(p + ".unit_id", d.unit_id, 1, 247);
        if (!d.serial_port.empty()) {
          auto [it, fresh] = buses.emplace(d.serial_port, &d);
          const ModbusDeviceConfig& o = *it->second;
          if (!fresh && (o.baud != d.baud || o.parity != d.parity || o.data_bits != d.data_bits ||
                         o.stop_bits != d.stop_bits)) {
            Error(p + ".serial", "devices on one serial port share its line settings; '" + o.id +
                                     "' (line " + std::to_string(o.line) + ") uses other ones");
          }
        }
      } else {
        if (d.host.empty()) Error(p + ".host", "required for transport tcp (the device's address)");
        if (info_.Has(p + ".serial")) Error(p + ".serial", "only for transport rtu");
        Range(p + ".port", d.port, 1, 65535);
        Range(p + ".unit_id", d.unit_id, 0, 255);
      }
      Range(p + ".poll_interval_ms", d.poll_interval_ms, 10, 86400000);
      Range(p + ".timeout_ms", d.timeout_ms, 10, 60000);
      Range(p + ".retries", d.retries, 0, 10);
      Range(p + ".backoff_max_ms", d.backoff_max_ms, 10, 86400000);
      if (d.registers.empty()) Error(p + ".registers", "at least one register is required");
      std::map<std::string, int> points;  // sensor/point -> line
      for (size_t k = 0; k < d.registers.size(); ++k) {
        ModbusRegisterConfig& r = d.registers[k];
        const std::string rp = p + ".registers[" + std::to_string(k) + "]";
        if (info_.bad.count(rp)) continue;
        const std::string& sensor = r.sensor.empty() ? d.sensor : r.sensor;
        SensorRef(r.sensor.empty() ? (info_.Has(p + ".sensor") ? p + ".sensor" : rp + ".sensor") : rp + ".sensor", f,
                  sensor, "modbus");
        PointName(rp + ".point", r.point);
        if (!sensor.empty() && !r.point.empty()) {
          auto [it, fresh] = points.emplace(sensor + "/" + r.point, Line(rp + ".point"));
          if (!fresh) {
            Error(rp + ".point", "sensor '" + sensor + "' point '" + r.point + "' is read twice (also at line " +
                                     std::to_string(it->second) + ")");
          }
        }
        const bool bits = r.table == Tb::kCoil || r.table == Tb::kDiscreteInput;
        if (bits && !info_.Has(rp + ".type")) r.type = T::kBool;
        if (bits && r.type != T::kBool) Error(rp + ".type", "coils and discrete inputs are bits: type bool");
        if (!bits && r.type == T::kBool) Error(rp + ".type", "bool is for coils and discrete inputs; a register is int16, uint16, int32, uint32 or float32");
        const uint32_t width = (r.type == T::kInt32 || r.type == T::kUInt32 || r.type == T::kFloat32) ? 2 : 1;
        if (r.address > 65536 - width) {
          Error(rp + ".address", "must be between 0 and " + std::to_string(65536 - width) + ", got " + std::to_string(r.address));
        }
        if (!std::isfinite(r.scale) || r.scale == 0) Error(rp + ".scale", "must be a non-zero number");
        if (bits && (info_.Has(rp + ".scale") || info_.Has(rp + ".offset"))) {
          Error(info_.Has(rp + ".scale") ? rp + ".scale" : rp + ".offset", "not for bits (coils, discrete inputs)");
        }
        if (width == 1 && info_.Has(rp + ".word_order")) Error(rp + ".word_order", "only for 32-bit types");
      }
    }
  }

  void Mqtt() {
    MqttSubscriberConfig& m = c_.drivers.mqtt;
    const std::string p = "drivers.mqtt";
    if (!info_.mqtt_password_file.empty()) {
      if (!m.password.empty()) {
        Error(p + ".password_file", "give either password or password_file, not both");
      } else {
        auto text = ReadSmallFile(info_.mqtt_password_file, kMaxPasswordFileBytes);
        if (!text.ok()) {
          Error(p + ".password_file", text.status().message());
        } else {
          std::string pw = std::move(text.value());
          while (!pw.empty() && (pw.back() == '\n' || pw.back() == '\r')) pw.pop_back();
          m.password = std::move(pw);
        }
      }
    }
    if (m.subscriptions.empty()) {
      if (info_.Has(p + ".broker")) Warn(p + ".subscriptions", "none: the local MQTT driver stays off");
      return;
    }
    if (m.broker.empty()) m.broker = "tcp://127.0.0.1:1883";
    {
      // Only plain TCP: the local broker is on the board or the facility's LAN.
      std::string rest;
      if (m.broker.rfind("tcp://", 0) == 0) rest = m.broker.substr(6);
      else if (m.broker.rfind("mqtt://", 0) == 0) rest = m.broker.substr(7);
      size_t colon = rest.rfind(':');
      bool ok = !rest.empty() && colon != std::string::npos && colon > 0 && colon + 1 < rest.size() &&
                rest.find('@') == std::string::npos;
      if (ok) {
        for (size_t i = colon + 1; i < rest.size(); ++i) ok = ok && rest[i] >= '0' && rest[i] <= '9';
        ok = ok && rest.size() - colon - 1 <= 5 && std::stoul(rest.substr(colon + 1)) >= 1 &&
             std::stoul(rest.substr(colon + 1)) <= 65535;
      }
      if (!ok) Error(p + ".broker", "'" + m.broker + "' is not tcp://host:port (a local broker, plain TCP)");
    }
    if (m.client_id.empty()) m.client_id = c_.edge_node_id + "-southbound";
    if (m.client_id.size() > 23) Warn(p + ".client_id", "longer than 23 characters; some brokers refuse that");
    if (!m.username.empty() || !m.password.empty()) {
      if (m.username.empty()) Error(p + ".username", "required with a password");
    }
    Range(p + ".keep_alive_s", m.keep_alive_s, 0, 65535);
    Range(p + ".reconnect.min_ms", m.reconnect_min_ms, 1, 3600000);
    if (m.reconnect_max_ms < m.reconnect_min_ms) Error(p + ".reconnect.max_ms", "must be >= reconnect.min_ms");
    Range(p + ".max_payload_bytes", m.max_payload_bytes, 16, 16 << 20);
    Range(p + ".max_unacked", m.max_unacked, 1, 65535);
    for (size_t i = 0; i < m.subscriptions.size(); ++i) {
      MqttSubscriptionConfig& s = m.subscriptions[i];
      const std::string sp = p + ".subscriptions[" + std::to_string(i) + "]";
      if (info_.bad.count(sp)) continue;
      if (s.topic.empty()) {
        Error(sp + ".topic", "required (an MQTT topic filter, e.g. zigbee2mqtt/+)");
      } else {
        // Wildcards only as whole levels, '#' only last.
        size_t levels = 1, start = 0;
        bool ok = true;
        for (size_t pos = 0; pos <= s.topic.size(); ++pos) {
          if (pos == s.topic.size() || s.topic[pos] == '/') {
            std::string level = s.topic.substr(start, pos - start);
            if (level.find_first_of("+#") != std::string::npos && level.size() != 1) ok = false;
            if (level == "#" && pos != s.topic.size()) ok = false;
            if (pos < s.topic.size()) ++levels;
            start = pos + 1;
          }
        }
        if (!ok) Error(sp + ".topic", "'" + s.topic + "': '+' and '#' must be whole levels, '#' only the last");
        if (s.sensor_level >= 0 && s.topic.find('#') == std::string::npos && size_t(s.sensor_level) >= levels) {
          Error(sp + ".sensor_level", "topic '" + s.topic + "' has only " + std::to_string(levels) +
                                          " levels (counted from 0)");
        }
      }
      const FacilityConfig* f = FacilityRef(sp + ".facility", s.facility);
      int ways = (s.sensor.empty() ? 0 : 1) + (info_.Has(sp + ".sensor_level") ? 1 : 0) + (s.sensor_pointer.empty() ? 0 : 1);
      if (ways != 1) {
        Error(sp + ".sensor", "give exactly one of sensor, sensor_level or sensor_pointer");
      } else if (!s.sensor.empty()) {
        SensorRef(sp + ".sensor", f, s.sensor, "mqtt");
      }
      if (info_.Has(sp + ".sensor_level") && s.sensor_level < 0) Error(sp + ".sensor_level", "must be >= 0");
      JsonPointer(sp + ".sensor_pointer", s.sensor_pointer);
      JsonPointer(sp + ".timestamp_pointer", s.timestamp_pointer);
      if (s.points.empty()) Error(sp + ".points", "at least one point is required");
      for (size_t k = 0; k < s.points.size(); ++k) {
        const JsonPointConfig& jp = s.points[k];
        const std::string pp = sp + ".points[" + std::to_string(k) + "]";
        if (info_.bad.count(pp)) continue;
        PointName(pp + ".point", jp.point);
        if (!info_.Has(pp + ".pointer")) {
          Error(pp + ".pointer", "required (a JSON Pointer such as /occupancy; \"\" is the whole payload)");
        } else {
          JsonPointer(pp + ".pointer", jp.pointer);
        }
        if (!std::isfinite(jp.scale) || jp.scale == 0) Error(pp + ".scale", "must be a non-zero number");
      }
    }
  }

  // drivers.ocpp. Every charge_point sensor with driver ocpp is a known charge point:
  // those not listed under charge_points are added here with id = sensor id.
  void Ocpp() {
    OcppConfig& o = c_.drivers.ocpp;
    const std::string p = "drivers.ocpp";
    if (!info_.ocpp_salt_file.empty()) {
      if (!o.id_tag_salt.empty()) {
        Error(p + ".id_tag_salt_file", "give either id_tag_salt or id_tag_salt_file, not both");
      } else {
        auto text = ReadSmallFile(info_.ocpp_salt_file, kMaxPasswordFileBytes);
        if (!text.ok()) {
          Error(p + ".id_tag_salt_file", text.status().message());
        } else {
          std::string t = std::move(text.value());
          while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
          o.id_tag_salt = std::move(t);
        }
      }
    }
    if (!o.id_tag_salt.empty() && o.id_tag_salt.size() < 16) {
      Error(info_.ocpp_salt_file.empty() ? p + ".id_tag_salt" : p + ".id_tag_salt_file",
            "too short: at least 16 characters (or leave it out to have one generated in gateway.data_dir)");
    }
    if (!o.enabled) return;
    if (o.listen.empty()) Error(p + ".listen", "must not be empty (127.0.0.1 for this board only)");
    Range(p + ".port", o.port, 0, 65535);
    Range(p + ".heartbeat_interval_s", o.heartbeat_interval_s, 1, 86400);
    Range(p + ".max_frame_bytes", o.max_frame_bytes, 1024, 16u << 20);
    Range(p + ".max_calls_per_minute", o.max_calls_per_minute, 1, 1000000);
    Range(p + ".idle_timeout_s", o.idle_timeout_s, 5, 86400);
    Range(p + ".max_connections", o.max_connections, 1, 100000);
    if (o.cert_file.empty() != o.key_file.empty()) {
      Error(o.cert_file.empty() ? p + ".key_file" : p + ".cert_file",  // the one that is written
            "TLS (security profile 2) needs both cert_file and key_file");
    }
    for (const char* k : {"cert_file", "key_file", "upstream_ca_file"}) {
      const std::string& f = k[0] == 'c' ? o.cert_file : k[0] == 'k' ? o.key_file : o.upstream_ca_file;
      if (!f.empty()) {
        auto r = ReadSmallFile(f, 1 << 20);
        if (!r.ok()) Error(p + "." + k, r.status().message());
      }
    }
    if (!o.authorize_any && o.id_tags.empty()) Error(p + ".authorize", "an empty list accepts no card; use 'any'");
    for (size_t i = 0; i < o.id_tags.size(); ++i) {
      if (o.id_tags[i].empty() || o.id_tags[i].size() > 20) {
        Error(p + ".authorize[" + std::to_string(i) + "]", "an idTag has 1 to 20 characters (CiString20)");
      }
    }
    auto upstream_ok = [&](const std::string& path, const std::string& url) {
      if (url.empty()) return;
      if (url.rfind("ws://", 0) != 0 && url.rfind("wss://", 0) != 0) {
        Error(path, "must start with ws:// or wss:// (the charge point id is appended)");
      }
    };
    upstream_ok(p + ".upstream", o.upstream);
    bool loopback = true;
    if (!o.listen.empty()) {
      auto addr = ParseListenAddress(o.listen);
      if (!addr.ok()) Error(p + ".listen", addr.status().message());
      loopback = !addr.ok() || addr->loopback;
    }
    std::map<std::string, size_t> ids;
    for (size_t i = 0; i < o.charge_points.size(); ++i) {
      OcppChargePointConfig& cp = o.charge_points[i];
      const std::string cpp = p + ".charge_points[" + std::to_string(i) + "]";
      if (cp.id.empty() || cp.id.size() > 48) {
        Error(cpp + ".id", "required, 1 to 48 characters (OCPP chargeBoxIdentity)");
      } else {
        for (unsigned char ch : cp.id) {
          if (ch < 0x21 || ch > 0x7e || ch == '/' || ch == ':' || ch == '%') {
            Error(cpp + ".id", "'" + cp.id + "': printable ASCII without '/', ':', '%' or spaces");
            break;
          }
        }
      }
      if (!ids.emplace(cp.id, i).second) Error(cpp + ".id", "charge point '" + cp.id + "' given twice");
      if (cp.sensor.empty()) cp.sensor = cp.id;
      if (cp.facility.empty()) {
        for (const auto& f : c_.facilities) {
          for (const auto& s : f.sensors) {
            if (s.id == cp.sensor && s.driver == "ocpp") {
              if (!cp.facility.empty()) Error(cpp + ".facility", "sensor '" + cp.sensor + "' is in several facilities; name one");
              cp.facility = f.id;
            }
          }
        }
        if (cp.facility.empty()) {
          Error(cpp + ".sensor", "no charge_point sensor '" + cp.sensor + "' with driver: ocpp in any facility");
          continue;
        }
      }
      const FacilityConfig* f = FacilityRef(cpp + ".facility", cp.facility);
      SensorRef(cpp + ".sensor", f, cp.sensor, "ocpp");
      upstream_ok(cpp + ".upstream", cp.upstream);
      if (!loopback && cp.password.empty()) {
        Error(cpp + ".password", "required when listening on " + o.listen + " (security profile 1 or 2)");
      }
    }
    // Sensors with driver ocpp and no entry: a charge point whose id is the sensor id.
    for (const auto& f : c_.facilities) {
      for (const auto& s : f.sensors) {
        if (s.driver != "ocpp") continue;
        if (s.kind != SensorKind::kChargePoint) {
          Warn(p, "sensor '" + s.id + "' of facility '" + f.id + "' has driver ocpp but is not a charge_point");
          continue;
        }
        bool listed = false;
        for (const auto& cp : o.charge_points) listed = listed || (cp.facility == f.id && cp.sensor == s.id);
        if (listed) continue;
        if (ids.count(s.id)) {
          Error(p + ".charge_points", "charge point id '" + s.id + "' is taken; list sensor '" + s.id +
                                          "' of facility '" + f.id + "' under another id");
          continue;
        }
        if (!loopback) {
          Error(p + ".charge_points", "sensor '" + s.id + "' needs an entry with a password when listening on " +
                                          o.listen);
        }
        OcppChargePointConfig cp;
        cp.id = cp.sensor = s.id;
        cp.facility = f.id;
        ids.emplace(s.id, o.charge_points.size());
        o.charge_points.push_back(cp);
      }
    }
    if (!loopback && o.allow_unknown) {
      Warn(p + ".allow_unknown", "any charge point on the network may connect (no password)");
    }
    if (!loopback && o.cert_file.empty()) {
      Warn(p + ".listen", "Basic auth passwords cross the network in clear without cert_file/key_file (profile 2)");
    }
  }

  void Http() {
    HttpIngestConfig& h = c_.drivers.http;
    const std::string p = "drivers.http";
    if (!info_.http_token_file.empty()) {
      if (!h.token.empty()) {
        Error(p + ".token_file", "give either token or token_file, not both");
      } else {
        auto text = ReadSmallFile(info_.http_token_file, kMaxPasswordFileBytes);
        if (!text.ok()) {
          Error(p + ".token_file", text.status().message());
        } else {
          std::string t = std::move(text.value());
          while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
          if (t.empty()) Error(p + ".token_file", "'" + info_.http_token_file + "' is empty");
          h.token = std::move(t);
        }
      }
    }
    if (!h.enabled) return;
    if (h.bind.empty()) Error(p + ".bind", "must not be empty (127.0.0.1 for this board only)");
    Range(p + ".port", h.port, 1, 65535);
    bool loopback = true;
    if (!h.bind.empty()) {
      auto addr = ParseListenAddress(h.bind);
      if (!addr.ok()) Error(p + ".bind", addr.status().message());
      loopback = !addr.ok() || addr->loopback;
    }
    if (!loopback && h.token.empty()) {
      Error(p + ".token", "required when listening on " + h.bind + " (beyond this board); use token_file");
    }
    for (unsigned char c : h.token) {
      if (c < 0x21 || c > 0x7e) {
        Error(info_.http_token_file.empty() ? p + ".token" : p + ".token_file",
              "the token must be printable ASCII without spaces");
        break;
      }
    }
    if (int64_t(h.max_readings) > int64_t(c_.buffer.max_pending_readings)) {
      Warn(p + ".max_readings", "larger than buffer.max_pending_readings (" +
                                    std::to_string(c_.buffer.max_pending_readings) +
                                    "): a batch that large is always answered 429");
    }
    Range(p + ".max_body_bytes", h.max_body_bytes, 1024, 64 << 20);
    Range(p + ".max_readings", h.max_readings, 1, 1000000);
    Range(p + ".max_connections", h.max_connections, 1, 100000);
    Range(p + ".request_timeout_s", h.request_timeout_s, 1, 3600);
  }

  const ParseInfo& info_;
  // The status page may show who is in which facility: open to the LAN only with a password.
  void Web() {
    WebConfig& w = c_.web;
    Range("web.port", w.port, 0, 65535);
    Range("web.max_connections", w.max_connections, 1, 1024);
    Range("web.push_interval_ms", w.push_interval_ms, 100, 60000);
    auto addr = ParseListenAddress(w.address);
    if (!addr.ok()) {
      Error("web.address", addr.status().message());
      return;
    }
    const bool loopback = addr->loopback;
    const std::string& file = info_.web_password_file;
    if (!file.empty() && !w.password.empty()) {
      Error("web.password_file", "give either web.password or web.password_file, not both");
      return;
    }
    if (!file.empty()) {
      auto text = ReadSmallFile(file, kMaxPasswordFileBytes);
      if (!text.ok()) {
        Error("web.password_file", text.status().message());
        return;
      }
      std::string pw = std::move(text.value());
      while (!pw.empty() && (pw.back() == '\n' || pw.back() == '\r')) pw.pop_back();
      if (pw.empty()) {
        Error("web.password_file", "'" + file + "' is empty");
        return;
      }
      w.password = std::move(pw);
    }
    if (w.enabled && !loopback && w.password.empty()) {
      Error("web.password", "required when web.address (" + w.address +
                                ") is not a loopback address; set web.password or web.password_file");
    }
    if (!w.password.empty() && w.username.empty()) Error("web.username", "must not be empty with a password");
  }

  // Who else can read a secret. Group read counts unless the group is the gateway's
  // own: the package installs the config 0640 root:community-gateway, so the readers
  // are then exactly the service and root.
  static bool ReadableByOthers(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return false;
    if ((st.st_mode & S_IROTH) != 0) return true;
    if ((st.st_mode & S_IRGRP) == 0 || st.st_gid == ::getegid()) return false;
    const struct group* g = ::getgrgid(st.st_gid);
    return g == nullptr || std::strcmp(g->gr_name, "community-gateway") != 0;
  }

  // Every secret the config can hold, written inline or in a file, in whichever section
  // (enabled or not: the text is exposed either way), gets the same warning. The
  // message names the key and the file, never the secret.
  void Secrets() {
    const bool config_readable = ReadableByOthers(info_.file);
    auto inline_secret = [&](const std::string& key, const std::string& value, const std::string& file_key) {
      if (!config_readable || !info_.Has(key) || value.empty()) return;
      Warn(key, file_key.empty() ? "config file is readable by other users; make it mode 0600"
                                 : "config file is readable by other users; use " + file_key + " with mode 0600");
    };
    auto secret_file = [&](const std::string& key, const std::string& path) {
      if (path.empty() || !ReadableByOthers(path)) return;
      Warn(key, "'" + path + "' is readable by other users; chmod 600 it");
    };
    inline_secret("uplink.password", c_.uplink.password, "password_file");
    secret_file("uplink.password_file", info_.password_file);
    inline_secret("uplink.tls.key_password", c_.uplink.tls.key_password, "");
    if (c_.uplink.tls.enabled) secret_file("uplink.tls.key_file", c_.uplink.tls.key_file);
    inline_secret("drivers.mqtt.password", c_.drivers.mqtt.password, "password_file");
    secret_file("drivers.mqtt.password_file", info_.mqtt_password_file);
    inline_secret("drivers.http.token", c_.drivers.http.token, "token_file");
    secret_file("drivers.http.token_file", info_.http_token_file);
    inline_secret("drivers.ocpp.id_tag_salt", c_.drivers.ocpp.id_tag_salt, "id_tag_salt_file");
    secret_file("drivers.ocpp.id_tag_salt_file", info_.ocpp_salt_file);
    inline_secret("drivers.ocpp.upstream_password", c_.drivers.ocpp.upstream_password, "");
    secret_file("drivers.ocpp.key_file", c_.drivers.ocpp.key_file);
    for (size_t i = 0; i < c_.drivers.ocpp.charge_points.size(); ++i) {
      const std::string cp = "drivers.ocpp.charge_points[" + std::to_string(i) + "]";
      inline_secret(cp + ".password", c_.drivers.ocpp.charge_points[i].password, "");
      inline_secret(cp + ".upstream_password", c_.drivers.ocpp.charge_points[i].upstream_password, "");
    }
    inline_secret("web.password", c_.web.password, "password_file");
    secret_file("web.password_file", info_.web_password_file);
    inline_secret("alarms.escalation.webhook.token", c_.alarms.escalation.webhook_token, "token_file");
    secret_file("alarms.escalation.webhook.token_file", info_.webhook_token_file);
  }

  Config& c_;
  std::vector<ConfigError>* errors_;
  std::vector<ConfigError>* warnings_;
};

}  // namespace

}  // namespace gateway::config_detail

namespace gateway {

std::vector<std::string> MissingSetup(const Config& c) {
  std::vector<std::string> out;
  if (c.facilities.empty()) out.push_back("facilities: none configured, nothing is measured");
  if (c.uplink.brokers.empty()) out.push_back("uplink.brokers: none configured, nothing is forwarded");
  return out;
}

}  // namespace gateway

namespace gateway::config_detail {

void ValidateConfig(const ParseInfo& info, Config* config, std::vector<ConfigError>* errors,
                    std::vector<ConfigError>* warnings) {
  Checker(info, config, errors, warnings).Run();
}

}  // namespace gateway::config_detail
