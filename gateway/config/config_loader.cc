// The first pass of config loading: YAML text -> the typed structs of gateway/config.h.
//
// This pass knows the shape of the file: which keys exist at each level and what type
// each value has. It rejects unknown keys (a misspelt key silently ignored is a setting
// silently not applied) and wrong types, and records where every key was written. It
// does not judge values against each other; config_validate.cc does that over the
// whole. yaml-cpp is used only here, and its exceptions end here.
//
// Past 500 lines because it holds the shape of every section of the file, one table
// of keys per section, so that every key's type and line is found in one place.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "config_internal.h"
#include "gateway/config.h"

namespace gateway {

namespace {

using config_detail::ParseInfo;

// A config file is a few kilobytes; the cap keeps a wrong path (a device, a log)
// from being read whole.
constexpr size_t kMaxConfigBytes = 4u << 20;

struct FacilityTypeEntry {
  FacilityType type;
  const char* name;
};
constexpr FacilityTypeEntry kFacilityTypes[] = {
    {FacilityType::kCanteen, "canteen"},
    {FacilityType::kElderlyStation, "elderly_station"},
    {FacilityType::kChargingStation, "charging_station"},
    {FacilityType::kFitnessPoint, "fitness_point"},
};

struct SensorKindEntry {
  SensorKind kind;
  const char* name;
};
constexpr SensorKindEntry kSensorKinds[] = {
    {SensorKind::kDoorCounter, "door_counter"},     {SensorKind::kOccupancy, "occupancy"},
    {SensorKind::kSeat, "seat"},                    {SensorKind::kMealTerminal, "meal_terminal"},
    {SensorKind::kCheckinTerminal, "checkin_terminal"}, {SensorKind::kChargePoint, "charge_point"},
    {SensorKind::kEquipment, "equipment"},          {SensorKind::kFeedbackTerminal, "feedback_terminal"},
    {SensorKind::kCallButton, "call_button"},
};

constexpr const char* kDayNames[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
constexpr const char* kLongDayNames[] = {"monday", "tuesday", "wednesday", "thursday",
                                         "friday", "saturday", "sunday"};

std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  }
  return s;
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

// A value quoted for a message, cut at a character boundary so that a long or
// multi-line value does not swamp the report.
std::string Quoted(const std::string& s) {
  constexpr size_t kMax = 60;
  std::string out = s;
  size_t nl = out.find_first_of("\r\n");
  bool cut = false;
  if (nl != std::string::npos) {
    out.resize(nl);
    cut = true;
  }
  if (out.size() > kMax) {
    size_t n = kMax;
    while (n > 0 && (static_cast<unsigned char>(out[n]) & 0xC0) == 0x80) --n;  // UTF-8 continuation
    out.resize(n);
    cut = true;
  }
  return "'" + out + (cut ? "...'" : "'");
}

// What a node is, for "expected X, got Y". Scalars show their text: only called for
// values whose text is not secret.
std::string Describe(const YAML::Node& n) {
  if (!n.IsDefined() || n.IsNull()) return "nothing";
  if (n.IsSequence()) return "a list";
  if (n.IsMap()) return "a map";
  return Quoted(n.Scalar());
}

// Levenshtein distance, for "did you mean" on unknown keys.
size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// "HH:MM" (or "H:MM") -> minutes after midnight; allow_24 admits "24:00" (a close).
std::optional<int> ParseClock(const std::string& text, bool allow_24) {
  std::string s = Trim(text);
  size_t colon = s.find(':');
  if (colon == std::string::npos || colon == 0 || colon > 2 || s.size() != colon + 3) return std::nullopt;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i != colon && (s[i] < '0' || s[i] > '9')) return std::nullopt;
  }
  int h = std::atoi(s.substr(0, colon).c_str());
  int m = std::atoi(s.substr(colon + 1).c_str());
  if (m > 59) return std::nullopt;
  if (h == 24 && m == 0 && allow_24) return 24 * 60;
  if (h > 23) return std::nullopt;
  return h * 60 + m;
}

std::optional<int> DayIndex(const std::string& word) {
  for (int i = 0; i < 7; ++i) {
    if (word == kDayNames[i] || word == kLongDayNames[i]) return i;
  }
  return std::nullopt;
}

// One day spec: "daily", "weekdays", "weekends", "mon", "mon-fri" (a range may wrap,
// "sat-mon"). Returns the weekday mask, 0 when not understood.
uint8_t ParseDaySpec(const std::string& text) {
  std::string s = Lower(Trim(text));
  if (s == "daily" || s == "everyday") return 0x7f;
  if (s == "weekdays") return 0x1f;
  if (s == "weekends") return 0x60;
  size_t dash = s.find('-');
  if (dash == std::string::npos) {
    auto d = DayIndex(s);
    return d ? uint8_t(1u << *d) : 0;
  }
  auto from = DayIndex(Trim(s.substr(0, dash)));
  auto to = DayIndex(Trim(s.substr(dash + 1)));
  if (!from || !to) return 0;
  uint8_t mask = 0;
  for (int d = *from;; d = (d + 1) % 7) {
    mask = uint8_t(mask | (1u << d));
    if (d == *to) break;
  }
  return mask;
}

// Walks a YAML document into a Config, collecting every problem rather than stopping
// at the first: an operator fixing a file on a site visit wants the whole list.
class Parser {
 public:
  Parser(ParseInfo* info, Config* config, std::vector<ConfigError>* errors)
      : info_(info), config_(config), errors_(errors) {}

  void Root(const YAML::Node& root) {
    info_->lines[""] = 1;
    if (!root.IsDefined() || root.IsNull()) return;  // the validation pass names what is missing
    Map(root, "", {
        {"gateway", [&](const YAML::Node& v, const std::string& p) { Gateway(v, p); }},
        {"log", [&](const YAML::Node& v, const std::string& p) { Log(v, p); }},
        {"buffer", [&](const YAML::Node& v, const std::string& p) { Buffer(v, p); }},
        {"uplink", [&](const YAML::Node& v, const std::string& p) { Uplink(v, p); }},
        {"simulator", [&](const YAML::Node& v, const std::string& p) { Simulator(v, p); }},
        {"facilities", [&](const YAML::Node& v, const std::string& p) { Facilities(v, p); }},
        {"drivers", [&](const YAML::Node& v, const std::string& p) { Drivers(v, p); }},
        {"web", [&](const YAML::Node& v, const std::string& p) { Web(v, p); }},
        {"history", [&](const YAML::Node& v, const std::string& p) { History(v, p); }},
        {"alarms", [&](const YAML::Node& v, const std::string& p) { Alarms(v, p); }},
    });
  }

  // alarms (gateway/alarm): emergency calls and their local escalation.
  void Alarms(const YAML::Node& node, const std::string& path) {
    AlarmsConfig& a = config_->alarms;
    AlarmEscalationConfig& e = a.escalation;
    Map(node, path, {
        {"repeat_window_s", [&](const YAML::Node& v, const std::string& p) { Double(v, p, &a.repeat_window_s); }},
        {"reannounce_s", [&](const YAML::Node& v, const std::string& p) { Double(v, p, &a.reannounce_s); }},
        {"escalate_after_s", [&](const YAML::Node& v, const std::string& p) { Double(v, p, &a.escalate_after_s); }},
        {"escalation",
         [&](const YAML::Node& v, const std::string& p) {
           Map(v, p, {
               {"coil",
                [&](const YAML::Node& cv, const std::string& cp) {
                  Map(cv, cp, {
                      {"device", [&](const YAML::Node& x, const std::string& xp) { String(x, xp, &e.coil_device); }},
                      {"address", [&](const YAML::Node& x, const std::string& xp) { Int(x, xp, &e.coil_address); }},
                  });
                }},
               {"webhook",
                [&](const YAML::Node& wv, const std::string& wp) {
                  Map(wv, wp, {
                      {"url", [&](const YAML::Node& x, const std::string& xp) { String(x, xp, &e.webhook_url); }},
                      {"token", [&](const YAML::Node& x, const std::string& xp) { String(x, xp, &e.webhook_token); }},
                      {"token_file",
                       [&](const YAML::Node& x, const std::string& xp) { String(x, xp, &info_->webhook_token_file); }},
                      {"timeout_ms",
                       [&](const YAML::Node& x, const std::string& xp) { Int(x, xp, &e.webhook_timeout_ms); }},
                      {"retries", [&](const YAML::Node& x, const std::string& xp) { Int(x, xp, &e.webhook_retries); }},
                  });
                }},
           });
         }},
    });
  }

  void Strings(const YAML::Node& v, const std::string& p, std::vector<std::string>* out) {
    Seq(v, p, [&](const YAML::Node& item, const std::string& ip, int) {
      std::string s;
      if (String(item, ip, &s)) out->push_back(s);
    });
  }

  void Web(const YAML::Node& node, const std::string& path) {
    WebConfig& w = config_->web;
    Map(node, path, {
        {"enabled", [&](const YAML::Node& v, const std::string& p) { Bool(v, p, &w.enabled); }},
        {"address", [&](const YAML::Node& v, const std::string& p) { String(v, p, &w.address); }},
        {"port", [&](const YAML::Node& v, const std::string& p) { Int(v, p, &w.port); }},
        {"username", [&](const YAML::Node& v, const std::string& p) { String(v, p, &w.username); }},
        {"password", [&](const YAML::Node& v, const std::string& p) { String(v, p, &w.password); }},
        {"password_file",
         [&](const YAML::Node& v, const std::string& p) { String(v, p, &info_->web_password_file); }},
        {"max_connections", [&](const YAML::Node& v, const std::string& p) { Int(v, p, &w.max_connections); }},
        {"push_interval_ms", [&](const YAML::Node& v, const std::string& p) { Int(v, p, &w.push_interval_ms); }},
    });
  }

 private:
  using Handler = std::function<void(const YAML::Node& value, const std::string& path)>;
  struct Field {
    const char* name;
    Handler handle;
  };

  static int LineOf(const YAML::Node& n, int fallback) {
    YAML::Mark m = n.Mark();
    return m.is_null() ? fallback : m.line + 1;  // yaml-cpp counts lines from 0
  }

  int LineOfPath(const std::string& path) const {
    auto it = info_->lines.find(path);
    return it == info_->lines.end() ? 1 : it->second;
  }

  void Error(const std::string& path, const std::string& message) {
    errors_->push_back({info_->file, LineOfPath(path), (path.empty() ? "" : path + ": ") + message});
    info_->bad.insert(path);
  }

  // A mapping with a fixed set of keys. A key written with no value (null) counts as
  // an empty section, so that "tls:" with every line commented out is accepted.
  void Map(const YAML::Node& node, const std::string& path, const std::vector<Field>& fields) {
    if (node.IsNull()) return;
    if (!node.IsMap()) {
      Error(path, "expected a map of keys, got " + Describe(node));
      return;
    }
    std::set<std::string> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
      // yaml-cpp's operator-> hands out a temporary proxy: copy the handles, do not
      // bind references into it.
      const YAML::Node key = it->first;
      const YAML::Node value = it->second;
      int key_line = LineOf(key, LineOfPath(path));
      if (!key.IsScalar()) {
        errors_->push_back({info_->file, key_line,
                            (path.empty() ? std::string("") : path + ": ") + "a key must be a plain name"});
        continue;
      }
      const std::string name = key.Scalar();
      const std::string child = path.empty() ? name : path + "." + name;
      if (!seen.insert(name).second) {
        errors_->push_back({info_->file, key_line,
                            child + ": given twice (first at line " + std::to_string(LineOfPath(child)) + ")"});
        continue;
      }
      info_->lines[child] = key_line;
      const Field* field = nullptr;
      for (const auto& f : fields) {
        if (name == f.name) field = &f;
      }
      if (!field) {
        std::string message = "unknown key";
        const Field* best = nullptr;
        size_t best_distance = 3;  // suggest only near misses
        for (const auto& f : fields) {
          size_t d = EditDistance(Lower(name), f.name);
          if (d < best_distance) {
            best_distance = d;
            best = &f;
          }
        }
        if (best) message += " (did you mean '" + std::string(best->name) + "'?)";
        Error(child, message);
        continue;
      }
      field->handle(value, child);
    }
  }

  void Seq(const YAML::Node& node, const std::string& path,
           const std::function<void(const YAML::Node&, const std::string&, int line)>& item) {
    if (node.IsNull()) return;
    if (!node.IsSequence()) {
      Error(path, "expected a list, got " + Describe(node));
      return;
    }
    for (size_t i = 0; i < node.size(); ++i) {
      const std::string child = path + "[" + std::to_string(i) + "]";
      int line = LineOf(node[i], LineOfPath(path));
      info_->lines[child] = line;
      item(node[i], child, line);
    }
  }

  // Scalars. Each returns false (after reporting) when the value has the wrong type,
  // leaving *out at its default.

  bool String(const YAML::Node& v, const std::string& path, std::string* out) {
    if (v.IsNull()) {
      out->clear();
      return true;
    }
    if (!v.IsScalar()) {
      // Describe() of a list or map never shows content, so secrets pass through here safely.
      Error(path, "expected a string, got " + Describe(v));
      return false;
    }
    *out = v.Scalar();
    return true;
  }

  bool Bool(const YAML::Node& v, const std::string& path, bool* out) {
    if (v.IsScalar()) {
      std::string s = Lower(v.Scalar());
      if (s == "true" || s == "yes" || s == "on") {
        *out = true;
        return true;
      }
      if (s == "false" || s == "no" || s == "off") {
        *out = false;
        return true;
      }
    }
    Error(path, "expected true or false, got " + Describe(v));
    return false;
  }

  template <typename T>
  bool Int(const YAML::Node& v, const std::string& path, T* out) {
    if (v.IsScalar()) {
      std::string s = Trim(v.Scalar());
      const char* b = s.data();
      const char* e = s.data() + s.size();
      if (b != e && *b == '+') ++b;
      if (b != e && (*b != '-' || std::is_signed_v<T>)) {
        T value{};
        auto [ptr, ec] = std::from_chars(b, e, value);
        if (ec == std::errc() && ptr == e) {
          *out = value;
          return true;
        }
        if (ec == std::errc::result_out_of_range) {
          Error(path, Quoted(s) + " is out of range");
          return false;
        }
      }
      if (!std::is_signed_v<T> && !s.empty() && s[0] == '-') {
        Error(path, "must not be negative, got " + Quoted(s));
        return false;
      }
    }
    Error(path, "expected a whole number, got " + Describe(v));
    return false;
  }

  bool Double(const YAML::Node& v, const std::string& path, double* out) {
    if (v.IsScalar()) {
      std::string s = Trim(v.Scalar());
      // strtod also takes hex, "inf" and "nan"; a config value is none of those.
      bool plain = !s.empty() && s.find_first_not_of("0123456789+-.eE") == std::string::npos;
      if (plain) {
        errno = 0;
        char* end = nullptr;
        double d = std::strtod(s.c_str(), &end);
        if (end == s.c_str() + s.size() && errno == 0 && std::isfinite(d)) {
          *out = d;
          return true;
        }
      }
    }
    Error(path, "expected a number, got " + Describe(v));
    return false;
  }

  // --- sections ---

  void Gateway(const YAML::Node& node, const std::string& path) {
    Map(node, path, {
        {"group_id", [&](const YAML::Node& v, const std::string& p) { String(v, p, &config_->group_id); }},
        {"edge_node_id", [&](const YAML::Node& v, const std::string& p) { String(v, p, &config_->edge_node_id); }},
        {"data_dir", [&](const YAML::Node& v, const std::string& p) { String(v, p, &config_->data_dir); }},
        {"timezone", [&](const YAML::Node& v, const std::string& p) { String(v, p, &config_->timezone); }},
    });
  }

  void Log(const YAML::Node& node, const std::string& path) {
    Map(node, path, {
        {"level", [&](const YAML::Node& v, const std::string& p) { String(v, p, &config_->log.level); }},
    });
  }

  void Buffer(const YAML::Node& node, const std::string& path) {
    BufferConfig& b = config_->buffer;
    Map(node, path, {
        {"max_disk_mb",
         [&](const YAML::Node& v, const std::string& p) {
           double mb = 0;
           if (Double(v, p, &mb)) info_->max_disk_mb = mb;
         }},
        {"commit_interval_ms", [&](const YAML::Node& v, const std::string& p) { Int(v, p, &b.commit_interval_ms); }},
        {"low_rate_commit_delay_ms",
         [&](const YAML::Node& v, const std::string& p) { Int(v, p, &b.low_rate_commit_delay_ms); }},
        {"commit_max_readings", [&](const YAML::Node& v, const std::string& p) { Int(v, p, &b.commit_max_readings); }},
        {"max_pending_readings",
         [&](const YAML::Node& v, const std::string& p) { Int(v, p, &b.max_pending_readings); }},
        {"synchronous", [&](const YAML::Node& v, const std::string& p) { String(v, p, &b.synchronous); }},
    });
  }

  void Uplink(const YAML::Node& node, const std::string& path) {
    UplinkConfig& u = config_->uplink;
    Map(node, path, {
        {"brokers",
         [&](const YAML::Node& v, const std::string& p) {
           Seq(v, p, [&](const YAML::Node& item, const std::string& ip, int) {
             std::string uri;
             if (String(item, ip, &uri)) u.brokers.push_back(uri);
           });
         }},
        {"client_id", [&](const YAML::Node& v, const std::string& p) { String(v, p, &u.client_id); }},
        {"mqtt_version", [&](const YAML::Node& v, const std::string& p) { MqttVersion(v, p, &u.mqtt_version); }},
        {"username", [&](const YAML::Node& v, const std::string& p) { String(v, p, &u.username); }},
        {"password", [&](const YAML::Node& v, const std::string& p) { String(v, p, &u.password); }},
        {"password_file", [&](const YAML::Node& v, const std::string& p) { String(v, p, &info_->password_file); }},
        {"keep_alive_s", [&](const YAML::Node& v, const std::string& p) { Int(v, p, &u.keep_alive_s); }},
        {"connect_timeout_s", [&](const YAML::Node& v, const std::string& p) { Int(v, p, &u.connect_timeout_s); }},
        {"qos", [&](const YAML::Node& v, const std::string& p) { Int(v, p, &u.qos); }},
        {"reconnect",
         [&](const YAML::Node& v, const std::string& p) {
           Map(v, p, {
               {"min_ms", [&](const YAML::Node& w, const std::string& q) { Int(w, q, &u.reconnect_min_ms); }},
               {"max_ms", [&](const YAML::Node& w, const std::string& q) { Int(w, q, &u.reconnect_max_ms); }},
           });
         }},
        {"recreate_client_after_s",
         [&](const YAML::Node& v, const std::string& p) { Int(v, p, &u.recreate_client_after_s); }},
        {"ack_timeout_s", [&](const YAML::Node& v, const std::string& p) { Int(v, p, &u.ack_timeout_s); }},
        {"max_inflight", [&](const YAML::Node& v, const std::string& p) { Int(v, p, &u.max_inflight); }},
        {"max_metrics_per_payload",
         [&](const YAML::Node& v, const std::string& p) { Int(v, p, &u.max_metrics_per_payload); }},
        {"node_metrics_interval_s",
         [&](const YAML::Node& v, const std::string& p) { Int(v, p, &u.node_metrics_interval_s); }},
        {"primary_host_id", [&](const YAML::Node& v, const std::string& p) { String(v, p, &u.primary_host_id); }},
        {"aliases", [&](const YAML::Node& v, const std::string& p) { Bool(v, p, &u.aliases); }},
        {"encoding",
         [&](const YAML::Node& v, const std::string& p) {
           Enum<UplinkEncoding>(v, p, {{"spec", UplinkEncoding::kSpec}, {"tahu", UplinkEncoding::kTahu}},
                                &u.encoding);
         }},
        {"tls", [&](const YAML::Node& v, const std::string& p) { Tls(v, p); }},
    });
  }

  // "3.1.1" (or 4, its protocol level) or 5.
  void MqttVersion(const YAML::Node& v, const std::string& path, int* out) {
    if (v.IsScalar()) {
      std::string s = Trim(v.Scalar());
      if (s == "3.1.1" || s == "4") {
        *out = 4;
        return;
      }
      if (s == "5" || s == "5.0") {
        *out = 5;
        return;
      }
    }
    Error(path, "must be \"3.1.1\" (also written 4) or 5, got " + Describe(v));
  }

  void Tls(const YAML::Node& node, const std::string& path) {
    TlsConfig& t = config_->uplink.tls;
    Map(node, path, {
        {"enabled", [&](const YAML::Node& v, const std::string& p) { Bool(v, p, &t.enabled); }},
        {"ca_file", [&](const YAML::Node& v, const std::string& p) { String(v, p, &t.ca_file); }},
        {"cert_file", [&](const YAML::Node& v, const std::string& p) { String(v, p, &t.cert_file); }},
        {"key_file", [&](const YAML::Node& v, const std::string& p) { String(v, p, &t.key_file); }},
        {"key_password", [&](const YAML::Node& v, const std::string& p) { String(v, p, &t.key_password); }},
        {"verify", [&](const YAML::Node& v, const std::string& p) { Bool(v, p, &t.verify); }},
    });
  }

  void Simulator(const YAML::Node& node, const std::string& path) {
    SimulatorConfig& s = config_->simulator;
    Map(node, path, {
        {"enabled", [&](const YAML::Node& v, const std::string& p) { Bool(v, p, &s.enabled); }},
        {"seed", [&](const YAML::Node& v, const std::string& p) { Int(v, p, &s.seed); }},
        {"speed", [&](const YAML::Node& v, const std::string& p) { Double(v, p, &s.speed); }},
        {"interval_s", [&](const YAML::Node& v, const std::string& p) { Double(v, p, &s.interval_s); }},
        {"dropout_probability",
         [&](const YAML::Node& v, const std::string& p) { Double(v, p, &s.dropout_probability); }},
        {"start", [&](const YAML::Node& v, const std::string& p) { String(v, p, &s.start); }},
        {"max_samples", [&](const YAML::Node& v, const std::string& p) { Int(v, p, &s.max_samples); }},
    });
  }

  void History(const YAML::Node& node, const std::string& path) {
    HistoryConfig& h = config_->history;
    Map(node, path, {
        {"retention_days", [&](const YAML::Node& v, const std::string& p) { Int(v, p, &h.retention_days); }},
        {"daily_report", [&](const YAML::Node& v, const std::string& p) { Bool(v, p, &h.daily_report); }},
        {"daily_report_delay_s",
         [&](const YAML::Node& v, const std::string& p) { Int(v, p, &h.daily_report_delay_s); }},
        {"late_days", [&](const YAML::Node& v, const std::string& p) { Int(v, p, &h.late_days); }},
    });
  }

  void Facilities(const YAML::Node& node, const std::string& path) {
    Seq(node, path, [&](const YAML::Node& item, const std::string& ip, int line) {
      FacilityConfig f;
      f.line = line;
      Facility(item, ip, &f);
      config_->facilities.push_back(std::move(f));
    });
  }

  void Facility(const YAML::Node& node, const std::string& path, FacilityConfig* f) {
    if (node.IsNull()) {
      Error(path, "empty facility entry");
      return;
    }
    Map(node, path, {
        {"id", [&](const YAML::Node& v, const std::string& p) { String(v, p, &f->id); }},
        {"type",
         [&](const YAML::Node& v, const std::string& p) {
           std::string s;
           if (!String(v, p, &s)) return;
           for (const auto& e : kFacilityTypes) {
             if (s == e.name) {
               f->type = e.type;
               return;
             }
           }
           Error(p, "unknown facility type " + Quoted(s) +
                        "; expected canteen, elderly_station, charging_station or fitness_point");
         }},
        {"name", [&](const YAML::Node& v, const std::string& p) { String(v, p, &f->name); }},
        {"capacity", [&](const YAML::Node& v, const std::string& p) { Int(v, p, &f->capacity); }},
        {"timezone", [&](const YAML::Node& v, const std::string& p) { String(v, p, &f->timezone); }},
        {"feedback_min_responses",
         [&](const YAML::Node& v, const std::string& p) { Int(v, p, &f->feedback_min_responses); }},
        {"opening_hours",
         [&](const YAML::Node& v, const std::string& p) {
           Seq(v, p, [&](const YAML::Node& item, const std::string& ip, int line) {
             OpeningPeriod period;
             period.line = line;
             Period(item, ip, &period);
             f->opening_hours.push_back(period);
           });
         }},
        {"sensors",
         [&](const YAML::Node& v, const std::string& p) {
           Seq(v, p, [&](const YAML::Node& item, const std::string& ip, int line) {
             SensorConfig s;
             s.line = line;
             Sensor(item, ip, &s);
             f->sensors.push_back(std::move(s));
           });
         }},
    });
  }

  void Period(const YAML::Node& node, const std::string& path, OpeningPeriod* period) {
    if (node.IsNull()) {
      Error(path, "empty opening period; expected days, open and close");
      return;
    }
    Map(node, path, {
        {"days", [&](const YAML::Node& v, const std::string& p) { Days(v, p, &period->weekdays_mask); }},
        {"open",
         [&](const YAML::Node& v, const std::string& p) { Clock(v, p, /*allow_24=*/false, &period->open_minute); }},
        {"close",
         [&](const YAML::Node& v, const std::string& p) { Clock(v, p, /*allow_24=*/true, &period->close_minute); }},
    });
  }

  void Clock(const YAML::Node& v, const std::string& path, bool allow_24, int* out) {
    if (v.IsScalar()) {
      if (auto m = ParseClock(v.Scalar(), allow_24)) {
        *out = *m;
        return;
      }
    }
    Error(path, std::string("expected a time of day \"HH:MM\"") + (allow_24 ? " (00:00..24:00)" : " (00:00..23:59)") +
                    ", got " + Describe(v));
  }

  void Days(const YAML::Node& v, const std::string& path, uint8_t* mask) {
    static const std::string kHint = "; use daily, weekdays, weekends, a day (mon..sun), a range (mon-fri) or a list of those";
    if (v.IsScalar()) {
      uint8_t m = ParseDaySpec(v.Scalar());
      if (m == 0) {
        Error(path, "unknown days " + Quoted(v.Scalar()) + kHint);
        return;
      }
      *mask = m;
      return;
    }
    if (v.IsSequence() && v.size() > 0) {
      uint8_t all = 0;
      for (size_t i = 0; i < v.size(); ++i) {
        uint8_t m = v[i].IsScalar() ? ParseDaySpec(v[i].Scalar()) : 0;
        if (m == 0) {
          Error(path, "unknown day " + Describe(v[i]) + kHint);
          return;
        }
        all = uint8_t(all | m);
      }
      *mask = all;
      return;
    }
    Error(path, "expected days, got " + (v.IsSequence() ? std::string("an empty list") : Describe(v)) + kHint);
  }

  void Sensor(const YAML::Node& node, const std::string& path, SensorConfig* s) {
    if (node.IsNull()) {
      Error(path, "empty sensor entry");
      return;
    }
    Map(node, path, {
        {"id", [&](const YAML::Node& v, const std::string& p) { String(v, p, &s->id); }},
        {"kind",
         [&](const YAML::Node& v, const std::string& p) {
           std::string k;
           if (!String(v, p, &k)) return;
           for (const auto& e : kSensorKinds) {
             if (k == e.name) {
               s->kind = e.kind;
               return;
             }
           }
           Error(p, "unknown sensor kind " + Quoted(k) +
                        "; expected door_counter, occupancy, seat, meal_terminal, checkin_terminal, "
                        "charge_point, equipment, feedback_terminal or call_button");
         }},
        {"driver", [&](const YAML::Node& v, const std::string& p) { String(v, p, &s->driver); }},
        {"connectors", [&](const YAML::Node& v, const std::string& p) { Int(v, p, &s->connectors); }},
        {"max_power_kw", [&](const YAML::Node& v, const std::string& p) { Double(v, p, &s->max_power_kw); }},
        {"silent_after_s", [&](const YAML::Node& v, const std::string& p) { Double(v, p, &s->silent_after_s); }},
        {"buttons",
         [&](const YAML::Node& v, const std::string& p) {
           Seq(v, p, [&](const YAML::Node& item, const std::string& ip, int) {
             FeedbackButton b;
             b.score = std::numeric_limits<int>::min();  // "required", said by the validation
             Map(item, ip, {
                 {"name", [&](const YAML::Node& bv, const std::string& bp) { String(bv, bp, &b.name); }},
                 {"score", [&](const YAML::Node& bv, const std::string& bp) { Int(bv, bp, &b.score); }},
             });
             s->buttons.push_back(std::move(b));
           });
         }},
        {"repeat_interval_s",
         [&](const YAML::Node& v, const std::string& p) { Double(v, p, &s->repeat_interval_s); }},
        {"location", [&](const YAML::Node& v, const std::string& p) { String(v, p, &s->location); }},
        {"call_actions",
         [&](const YAML::Node& v, const std::string& p) {
           s->call_actions.clear();
           Strings(v, p, &s->call_actions);
         }},
        {"test_actions",
         [&](const YAML::Node& v, const std::string& p) {
           s->test_actions.clear();
           Strings(v, p, &s->test_actions);
         }},
        {"test_hours",
         [&](const YAML::Node& v, const std::string& p) {
           Seq(v, p, [&](const YAML::Node& item, const std::string& ip, int line) {
             OpeningPeriod period;
             period.line = line;
             Period(item, ip, &period);
             s->test_hours.push_back(period);
           });
         }},
    });
  }

  // --- drivers (drivers/modbus, drivers/mqtt_subscriber, drivers/http_ingest) ---

  void Drivers(const YAML::Node& node, const std::string& path) {
    Map(node, path, {
        {"modbus", [&](const YAML::Node& v, const std::string& p) { Modbus(v, p); }},
        {"mqtt", [&](const YAML::Node& v, const std::string& p) { MqttSub(v, p); }},
        {"http", [&](const YAML::Node& v, const std::string& p) { HttpIngest(v, p); }},
        {"ocpp", [&](const YAML::Node& v, const std::string& p) { Ocpp(v, p); }},
    });
  }

  // One of a fixed set of words; false (after reporting) otherwise.
  template <typename T>
  bool Enum(const YAML::Node& v, const std::string& path, const std::vector<std::pair<const char*, T>>& words,
            T* out) {
    std::string s;
    if (!String(v, path, &s)) return false;
    std::string list;
    for (const auto& [w, value] : words) {
      if (Lower(s) == w) {
        *out = value;
        return true;
      }
      list += (list.empty() ? "" : ", ") + std::string(w);
    }
    Error(path, "unknown value " + Quoted(s) + "; expected one of " + list);
    return false;
  }

  bool PointTypeOf(const YAML::Node& v, const std::string& path, PointType* out) {
    return Enum<PointType>(v, path,
                           {{"auto", PointType::kAuto}, {"bool", PointType::kBool}, {"int32", PointType::kInt32},
                            {"int64", PointType::kInt64}, {"uint32", PointType::kUInt32},
                            {"uint64", PointType::kUInt64}, {"float", PointType::kFloat},
                            {"double", PointType::kDouble}, {"string", PointType::kString}},
                           out);
  }

  void Modbus(const YAML::Node& node, const std::string& path) {
    Map(node, path, {
        {"devices",
         [&](const YAML::Node& v, const std::string& p) {
           Seq(v, p, [&](const YAML::Node& item, const std::string& ip, int line) {
             ModbusDeviceConfig d;
             d.line = line;
             ModbusDevice(item, ip, &d);
             config_->drivers.modbus.devices.push_back(std::move(d));
           });
         }},
    });
  }

  void ModbusDevice(const YAML::Node& node, const std::string& path, ModbusDeviceConfig* d) {
    if (node.IsNull()) {
      Error(path, "empty device entry");
      return;
    }
    Map(node, path, {
        {"id", [&](const YAML::Node& v, const std::string& p) { String(v, p, &d->id); }},
        {"facility", [&](const YAML::Node& v, const std::string& p) { String(v, p, &d->facility); }},
        {"sensor", [&](const YAML::Node& v, const std::string& p) { String(v, p, &d->sensor); }},
        {"transport",
         [&](const YAML::Node& v, const std::string& p) { Enum<bool>(v, p, {{"tcp", false}, {"rtu", true}}, &d->rtu); }},
        {"host", [&](const YAML::Node& v, const std::string& p) { String(v, p, &d->host); }},
        {"port", [&](const YAML::Node& v, const std::string& p) { Int(v, p, &d->port); }},
        {"serial",
         [&](const YAML::Node& v, const std::string& p) {
           Map(v, p, {
               {"port", [&](const YAML::Node& w, const std::string& q) { String(w, q, &d->serial_port); }},
               {"baud", [&](const YAML::Node& w, const std::string& q) { Int(w, q, &d->baud); }},
               {"parity",
                [&](const YAML::Node& w, const std::string& q) {
                  Enum<char>(w, q, {{"none", 'N'}, {"even", 'E'}, {"odd", 'O'}}, &d->parity);
                }},
               {"data_bits", [&](const YAML::Node& w, const std::string& q) { Int(w, q, &d->data_bits); }},
               {"stop_bits", [&](const YAML::Node& w, const std::string& q) { Int(w, q, &d->stop_bits); }},
           });
         }},
        {"unit_id", [&](const YAML::Node& v, const std::string& p) { Int(v, p, &d->unit_id); }},
        {"poll_interval_ms", [&](const YAML::Node& v, const std::string& p) { Int(v, p, &d->poll_interval_ms); }},
        {"timeout_ms", [&](const YAML::Node& v, const std::string& p) { Int(v, p, &d->timeout_ms); }},
        {"retries", [&](const YAML::Node& v, const std::string& p) { Int(v, p, &d->retries); }},
        {"backoff_max_ms", [&](const YAML::Node& v, const std::string& p) { Int(v, p, &d->backoff_max_ms); }},
        {"registers",
         [&](const YAML::Node& v, const std::string& p) {
           Seq(v, p, [&](const YAML::Node& item, const std::string& ip, int line) {
             ModbusRegisterConfig r;
             r.line = line;
             ModbusRegister(item, ip, &r);
             d->registers.push_back(std::move(r));
           });
         }},
    });
  }

  void ModbusRegister(const YAML::Node& node, const std::string& path, ModbusRegisterConfig* r) {
    using T = ModbusRegisterConfig::Type;
    using Tb = ModbusRegisterConfig::Table;
    if (node.IsNull()) {
      Error(path, "empty register entry");
      return;
    }
    Map(node, path, {
        {"sensor", [&](const YAML::Node& v, const std::string& p) { String(v, p, &r->sensor); }},
        {"point", [&](const YAML::Node& v, const std::string& p) { String(v, p, &r->point); }},
        {"table",
         [&](const YAML::Node& v, const std::string& p) {
           Enum<Tb>(v, p, {{"holding", Tb::kHolding}, {"input", Tb::kInput}, {"coil", Tb::kCoil},
                           {"discrete_input", Tb::kDiscreteInput}}, &r->table);
         }},
        {"address", [&](const YAML::Node& v, const std::string& p) { Int(v, p, &r->address); }},
        {"type",
         [&](const YAML::Node& v, const std::string& p) {
           Enum<T>(v, p, {{"int16", T::kInt16}, {"uint16", T::kUInt16}, {"int32", T::kInt32},
                          {"uint32", T::kUInt32}, {"float32", T::kFloat32}, {"bool", T::kBool}}, &r->type);
         }},
        {"byte_order",
         [&](const YAML::Node& v, const std::string& p) {
           Enum<bool>(v, p, {{"big", false}, {"little", true}}, &r->byte_swap);
         }},
        {"word_order",
         [&](const YAML::Node& v, const std::string& p) {
           Enum<bool>(v, p, {{"big", false}, {"little", true}}, &r->word_swap);
         }},
        {"scale", [&](const YAML::Node& v, const std::string& p) { Double(v, p, &r->scale); }},
        {"offset", [&](const YAML::Node& v, const std::string& p) { Double(v, p, &r->offset); }},
        {"as", [&](const YAML::Node& v, const std::string& p) { PointTypeOf(v, p, &r->as); }},
    });
  }

  void MqttSub(const YAML::Node& node, const std::string& path) {
    MqttSubscriberConfig& m = config_->drivers.mqtt;
    Map(node, path, {
        {"broker", [&](const YAML::Node& v, const std::string& p) { String(v, p, &m.broker); }},
        {"client_id", [&](const YAML::Node& v, const std::string& p) { String(v, p, &m.client_id); }},
        {"username", [&](const YAML::Node& v, const std::string& p) { String(v, p, &m.username); }},
        {"password", [&](const YAML::Node& v, const std::string& p) { String(v, p, &m.password); }},
        {"password_file",
         [&](const YAML::Node& v, const std::string& p) { String(v, p, &info_->mqtt_password_file); }},
        {"keep_alive_s", [&](const YAML::Node& v, const std::string& p) { Int(v, p, &m.keep_alive_s); }},
        {"reconnect",
         [&](const YAML::Node& v, const std::string& p) {
           Map(v, p, {
               {"min_ms", [&](const YAML::Node& w, const std::string& q) { Int(w, q, &m.reconnect_min_ms); }},
               {"max_ms", [&](const YAML::Node& w, const std::string& q) { Int(w, q, &m.reconnect_max_ms); }},
           });
         }},
        {"max_payload_bytes", [&](const YAML::Node& v, const std::string& p) { Int(v, p, &m.max_payload_bytes); }},
        {"max_unacked", [&](const YAML::Node& v, const std::string& p) { Int(v, p, &m.max_unacked); }},
        {"subscriptions",
         [&](const YAML::Node& v, const std::string& p) {
           Seq(v, p, [&](const YAML::Node& item, const std::string& ip, int line) {
             MqttSubscriptionConfig s;
             s.line = line;
             MqttSubscription(item, ip, &s);
             m.subscriptions.push_back(std::move(s));
           });
         }},
    });
  }

  void MqttSubscription(const YAML::Node& node, const std::string& path, MqttSubscriptionConfig* s) {
    if (node.IsNull()) {
      Error(path, "empty subscription entry");
      return;
    }
    Map(node, path, {
        {"topic", [&](const YAML::Node& v, const std::string& p) { String(v, p, &s->topic); }},
        {"facility", [&](const YAML::Node& v, const std::string& p) { String(v, p, &s->facility); }},
        {"sensor", [&](const YAML::Node& v, const std::string& p) { String(v, p, &s->sensor); }},
        {"sensor_level", [&](const YAML::Node& v, const std::string& p) { Int(v, p, &s->sensor_level); }},
        {"sensor_pointer", [&](const YAML::Node& v, const std::string& p) { String(v, p, &s->sensor_pointer); }},
        {"timestamp_pointer",
         [&](const YAML::Node& v, const std::string& p) { String(v, p, &s->timestamp_pointer); }},
        {"points",
         [&](const YAML::Node& v, const std::string& p) {
           Seq(v, p, [&](const YAML::Node& item, const std::string& ip, int line) {
             JsonPointConfig jp;
             jp.line = line;
             if (item.IsNull()) {
               Error(ip, "empty point entry");
               return;
             }
             Map(item, ip, {
                 {"point", [&](const YAML::Node& w, const std::string& q) { String(w, q, &jp.point); }},
                 {"pointer", [&](const YAML::Node& w, const std::string& q) { String(w, q, &jp.pointer); }},
                 {"type", [&](const YAML::Node& w, const std::string& q) { PointTypeOf(w, q, &jp.type); }},
                 {"scale", [&](const YAML::Node& w, const std::string& q) { Double(w, q, &jp.scale); }},
             });
             s->points.push_back(std::move(jp));
           });
         }},
    });
  }

  void HttpIngest(const YAML::Node& node, const std::string& path) {
    HttpIngestConfig& h = config_->drivers.http;
    Map(node, path, {
        {"enabled", [&](const YAML::Node& v, const std::string& p) { Bool(v, p, &h.enabled); }},
        {"bind", [&](const YAML::Node& v, const std::string& p) { String(v, p, &h.bind); }},
        {"port", [&](const YAML::Node& v, const std::string& p) { Int(v, p, &h.port); }},
        {"token", [&](const YAML::Node& v, const std::string& p) { String(v, p, &h.token); }},
        {"token_file", [&](const YAML::Node& v, const std::string& p) { String(v, p, &info_->http_token_file); }},
        {"max_body_bytes", [&](const YAML::Node& v, const std::string& p) { Int(v, p, &h.max_body_bytes); }},
        {"max_readings", [&](const YAML::Node& v, const std::string& p) { Int(v, p, &h.max_readings); }},
        {"max_connections", [&](const YAML::Node& v, const std::string& p) { Int(v, p, &h.max_connections); }},
        {"request_timeout_s", [&](const YAML::Node& v, const std::string& p) { Int(v, p, &h.request_timeout_s); }},
    });
  }

  // drivers.ocpp (drivers/ocpp). authorize is the word "any" or a list of idTags.
  void Ocpp(const YAML::Node& node, const std::string& path) {
    OcppConfig& o = config_->drivers.ocpp;
    auto strings = [&](const YAML::Node& v, const std::string& p, std::vector<std::string>* out) {
      Seq(v, p, [&](const YAML::Node& item, const std::string& ip, int) {
        std::string s;
        if (String(item, ip, &s)) out->push_back(s);
      });
    };
    Map(node, path, {
        {"enabled", [&](const YAML::Node& v, const std::string& p) { Bool(v, p, &o.enabled); }},
        {"listen", [&](const YAML::Node& v, const std::string& p) { String(v, p, &o.listen); }},
        {"port", [&](const YAML::Node& v, const std::string& p) { Int(v, p, &o.port); }},
        {"cert_file", [&](const YAML::Node& v, const std::string& p) { String(v, p, &o.cert_file); }},
        {"key_file", [&](const YAML::Node& v, const std::string& p) { String(v, p, &o.key_file); }},
        {"heartbeat_interval_s",
         [&](const YAML::Node& v, const std::string& p) { Int(v, p, &o.heartbeat_interval_s); }},
        {"allow_unknown", [&](const YAML::Node& v, const std::string& p) { Bool(v, p, &o.allow_unknown); }},
        {"authorize",
         [&](const YAML::Node& v, const std::string& p) {
           if (v.IsSequence()) {
             o.authorize_any = false;
             strings(v, p, &o.id_tags);
             return;
           }
           std::string w;
           if (!String(v, p, &w)) return;
           if (Lower(w) != "any") Error(p, "expected 'any' or a list of idTags, got " + Quoted(w));
         }},
        {"id_tag_salt", [&](const YAML::Node& v, const std::string& p) { String(v, p, &o.id_tag_salt); }},
        {"id_tag_salt_file",
         [&](const YAML::Node& v, const std::string& p) { String(v, p, &info_->ocpp_salt_file); }},
        {"upstream", [&](const YAML::Node& v, const std::string& p) { String(v, p, &o.upstream); }},
        {"upstream_password",
         [&](const YAML::Node& v, const std::string& p) { String(v, p, &o.upstream_password); }},
        {"upstream_ca_file", [&](const YAML::Node& v, const std::string& p) { String(v, p, &o.upstream_ca_file); }},
        {"data_transfer_vendors",
         [&](const YAML::Node& v, const std::string& p) { strings(v, p, &o.data_transfer_vendors); }},
        {"max_frame_bytes", [&](const YAML::Node& v, const std::string& p) { Int(v, p, &o.max_frame_bytes); }},
        {"max_calls_per_minute",
         [&](const YAML::Node& v, const std::string& p) { Int(v, p, &o.max_calls_per_minute); }},
        {"idle_timeout_s", [&](const YAML::Node& v, const std::string& p) { Int(v, p, &o.idle_timeout_s); }},
        {"max_connections", [&](const YAML::Node& v, const std::string& p) { Int(v, p, &o.max_connections); }},
        {"charge_points",
         [&](const YAML::Node& v, const std::string& p) {
           Seq(v, p, [&](const YAML::Node& item, const std::string& ip, int line) {
             OcppChargePointConfig cp;
             cp.line = line;
             Map(item, ip, {
                 {"id", [&](const YAML::Node& w, const std::string& q) { String(w, q, &cp.id); }},
                 {"facility", [&](const YAML::Node& w, const std::string& q) { String(w, q, &cp.facility); }},
                 {"sensor", [&](const YAML::Node& w, const std::string& q) { String(w, q, &cp.sensor); }},
                 {"password", [&](const YAML::Node& w, const std::string& q) { String(w, q, &cp.password); }},
                 {"upstream", [&](const YAML::Node& w, const std::string& q) { String(w, q, &cp.upstream); }},
                 {"upstream_password",
                  [&](const YAML::Node& w, const std::string& q) { String(w, q, &cp.upstream_password); }},
             });
             o.charge_points.push_back(std::move(cp));
           });
         }},
    });
  }

  ParseInfo* info_;
  Config* config_;
  std::vector<ConfigError>* errors_;
};

}  // namespace

const char* FacilityTypeName(FacilityType t) {
  for (const auto& e : kFacilityTypes) {
    if (e.type == t) return e.name;
  }
  return "unknown";
}

std::vector<FeedbackButton> DefaultFeedbackButtons() {
  return {{"very_unhappy", 1}, {"unhappy", 2}, {"happy", 3}, {"very_happy", 4}};
}

const std::vector<FeedbackButton>* FeedbackButtonsOf(const FacilityConfig& facility) {
  for (const auto& s : facility.sensors) {
    if (s.kind == SensorKind::kFeedbackTerminal) return &s.buttons;
  }
  return nullptr;
}

const char* SensorKindName(SensorKind k) {
  for (const auto& e : kSensorKinds) {
    if (e.kind == k) return e.name;
  }
  return "unknown";
}

std::string ConfigError::ToString() const {
  if (line > 0) return file + ":" + std::to_string(line) + ": " + message;
  return file + ": " + message;
}

namespace config_detail {

Result<std::string> ReadSmallFile(const std::string& path, size_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IoError("cannot read '" + path + "': " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Status::IoError("cannot read '" + path + "': " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::IoError("cannot read '" + path + "': not a regular file");
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    ::close(fd);
    return Status::IoError("cannot read '" + path + "': larger than " + std::to_string(max_bytes) + " bytes");
  }
  std::string text;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return Status::IoError("cannot read '" + path + "': " + std::strerror(err));
    }
    if (n == 0) break;
    text.append(buf, size_t(n));
    if (text.size() > max_bytes) {
      ::close(fd);
      return Status::IoError("cannot read '" + path + "': larger than " + std::to_string(max_bytes) + " bytes");
    }
  }
  ::close(fd);
  return text;
}

}  // namespace config_detail

ConfigLoad LoadConfig(const std::string& path) {
  auto text = config_detail::ReadSmallFile(path, kMaxConfigBytes);
  if (!text.ok()) {
    ConfigLoad load;
    load.config.file = path;
    load.errors.push_back({path, 0, text.status().message()});
    return load;
  }
  return LoadConfigText(text.value(), path);
}

ConfigLoad LoadConfigText(const std::string& text, const std::string& path) {
  ConfigLoad load;
  load.config.file = path;
  try {
    ParseInfo info;
    info.file = path;
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      // yaml-cpp's messages describe the syntax, never echo the value, so a secret on
      // the broken line stays out of the report.
      load.errors.push_back({path, e.mark.is_null() ? 0 : e.mark.line + 1, "YAML syntax error: " + e.msg});
      return load;
    }
    if (root.IsDefined() && !root.IsNull() && !root.IsMap()) {
      YAML::Mark m = root.Mark();
      load.errors.push_back({path, m.is_null() ? 1 : m.line + 1,
                             "expected a map of sections (gateway, uplink, facilities, ...), got " + Describe(root)});
      return load;
    }
    Parser(&info, &load.config, &load.errors).Root(root);
    config_detail::ValidateConfig(info, &load.config, &load.errors, &load.warnings);
  } catch (const YAML::Exception& e) {
    load.errors.push_back({path, e.mark.is_null() ? 0 : e.mark.line + 1, "cannot read config: " + e.msg});
  } catch (const std::exception& e) {
    load.errors.push_back({path, 0, std::string("cannot read config: ") + e.what()});
  }
  auto by_line = [](const ConfigError& a, const ConfigError& b) { return a.line < b.line; };
  std::stable_sort(load.errors.begin(), load.errors.end(), by_line);
  std::stable_sort(load.warnings.begin(), load.warnings.end(), by_line);
  return load;
}

}  // namespace gateway
