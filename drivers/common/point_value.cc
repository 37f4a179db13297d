#include "common/point_value.h"

#include <date/date.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>

namespace drivers {

using gateway::PointType;
using gateway::Result;
using gateway::Status;
using gateway::Value;

namespace {

bool EndsWith(const std::string& s, const char* suffix) {
  const size_t n = std::char_traits<char>::length(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

std::string Show(const Source& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, bool>) {
          return x ? "true" : "false";
        } else if constexpr (std::is_same_v<T, std::string>) {
          std::string s = x.size() > 40 ? x.substr(0, 40) + "..." : x;
          return "\"" + s + "\"";
        } else if constexpr (std::is_same_v<T, double>) {
          char buf[32];
          std::snprintf(buf, sizeof buf, "%.17g", x);
          return buf;
        } else {
          return std::to_string(x);
        }
      },
      v);
}

std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  }
  return s;
}

// A number from a Source: integers exactly where they fit, otherwise as double.
struct Number {
  bool is_int = false;
  bool negative = false;
  uint64_t magnitude = 0;  // when is_int
  double d = 0;
};

std::optional<Number> AsNumber(const Source& v) {
  Number n;
  if (const auto* b = std::get_if<bool>(&v)) {
    n.is_int = true;
    n.magnitude = *b ? 1 : 0;
    n.d = *b ? 1 : 0;
    return n;
  }
  if (const auto* i = std::get_if<int64_t>(&v)) {
    n.is_int = true;
    n.negative = *i < 0;
    n.magnitude = n.negative ? uint64_t(0) - uint64_t(*i) : uint64_t(*i);
    n.d = double(*i);
    return n;
  }
  if (const auto* u = std::get_if<uint64_t>(&v)) {
    n.is_int = true;
    n.magnitude = *u;
    n.d = double(*u);
    return n;
  }
  if (const auto* d = std::get_if<double>(&v)) {
    if (!std::isfinite(*d)) return std::nullopt;
    n.d = *d;
    // Integral doubles (a scaled register, a JSON 12.0) count as integers.
    if (std::fabs(*d) < 9.0e15 && std::nearbyint(*d) == *d) {
      n.is_int = true;
      n.negative = *d < 0;
      n.magnitude = uint64_t(std::fabs(*d));
    }
    return n;
  }
  const std::string& s = std::get<std::string>(v);
  if (s.empty() || s.size() > 64) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  if (s.find_first_of(".eE") == std::string::npos) {
    if (s[0] == '-') {
      long long x = std::strtoll(s.c_str(), &end, 10);
      if (errno == 0 && end == s.c_str() + s.size()) return AsNumber(Source(int64_t(x)));
    } else {
      unsigned long long x = std::strtoull(s.c_str(), &end, 10);
      if (errno == 0 && end == s.c_str() + s.size() && s[0] != '+' && s[0] != ' ') return AsNumber(Source(uint64_t(x)));
    }
    return std::nullopt;
  }
  double d = std::strtod(s.c_str(), &end);
  if (errno != 0 || end != s.c_str() + s.size() || s[0] == ' ') return std::nullopt;
  return AsNumber(Source(d));
}

template <typename T>
Result<Value> IntegerAs(const Number& n, const Source& v, PointType t) {
  if (!n.is_int) return Status::InvalidArgument(Show(v) + " is not a whole number (" + PointTypeName(t) + ")");
  constexpr uint64_t kMax = uint64_t(std::numeric_limits<T>::max());
  if constexpr (std::is_signed_v<T>) {
    if (n.negative ? n.magnitude > kMax + 1 : n.magnitude > kMax) {
      return Status::InvalidArgument(Show(v) + " is out of range for " + PointTypeName(t));
    }
    return Value(n.negative ? T(int64_t(0) - int64_t(n.magnitude - 1) - 1) : T(n.magnitude));
  } else {
    if (n.negative && n.magnitude != 0) {
      return Status::InvalidArgument(Show(v) + " is negative; " + PointTypeName(t) + " is not");
    }
    if (n.magnitude > kMax) return Status::InvalidArgument(Show(v) + " is out of range for " + PointTypeName(t));
    return Value(T(n.magnitude));
  }
}

}  // namespace

const char* PointTypeName(PointType t) {
  switch (t) {
    case PointType::kAuto: return "auto";
    case PointType::kBool: return "bool";
    case PointType::kInt32: return "int32";
    case PointType::kInt64: return "int64";
    case PointType::kUInt32: return "uint32";
    case PointType::kUInt64: return "uint64";
    case PointType::kFloat: return "float";
    case PointType::kDouble: return "double";
    case PointType::kString: return "string";
  }
  return "?";
}

PointType AutoType(const std::string& point) {
  if (point == "entries_total" || point == "exits_total" || point == "meals_total" || point == "checkins_total") {
    return PointType::kUInt64;
  }
  // A feedback terminal's per-button counters (button/{name}_total).
  if (point.rfind("button/", 0) == 0 && EndsWith(point, "_total")) return PointType::kUInt64;
  if (point == "occupancy") return PointType::kUInt32;
  if (point == "occupied" || point == "in_use") return PointType::kBool;
  // Call buttons and alarm points (docs/wire-format.md, "Alarms"): a Modbus input's 0/1
  // or a JSON "on" is still a Boolean, and a zigbee2mqtt action a String.
  if (point == "pressed" || point.rfind("alarm/", 0) == 0) return PointType::kBool;
  if (point == "action") return PointType::kString;
  if (point.rfind("connector/", 0) == 0) {
    if (EndsWith(point, "/status")) return PointType::kString;
    if (EndsWith(point, "/power_kw")) return PointType::kFloat;
    if (EndsWith(point, "/energy_kwh")) return PointType::kDouble;
  }
  return PointType::kAuto;
}

PointType NaturalType(const Source& v) {
  switch (v.index()) {
    case 0: return PointType::kBool;
    case 1: return PointType::kInt64;
    case 2: return PointType::kUInt64;
    case 3: return PointType::kDouble;
    default: return PointType::kString;
  }
}

Result<Value> Convert(const Source& v, PointType type, const std::string& point, PointType natural) {
  PointType t = type;
  if (t == PointType::kAuto) t = AutoType(point);
  if (t == PointType::kAuto) t = natural == PointType::kAuto ? NaturalType(v) : natural;
  if (t == PointType::kString) {
    if (const auto* s = std::get_if<std::string>(&v)) return Value(*s);
    if (const auto* b = std::get_if<bool>(&v)) return Value(std::string(*b ? "true" : "false"));
    if (const auto* d = std::get_if<double>(&v)) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.17g", *d);
      return Value(std::string(buf));
    }
    return Value(Show(v));
  }
  if (t == PointType::kBool) {
    if (const auto* b = std::get_if<bool>(&v)) return Value(*b);
    if (const auto* s = std::get_if<std::string>(&v)) {
      std::string l = Lower(*s);
      if (l == "true" || l == "on" || l == "yes" || l == "1") return Value(true);
      if (l == "false" || l == "off" || l == "no" || l == "0") return Value(false);
      return Status::InvalidArgument(Show(v) + " is not a boolean (true/false, on/off, yes/no, 1/0)");
    }
    auto n = AsNumber(v);
    if (!n || !n->is_int) return Status::InvalidArgument(Show(v) + " is not a boolean");
    return Value(n->magnitude != 0);
  }
  auto n = AsNumber(v);
  if (!n) return Status::InvalidArgument(Show(v) + " is not a number (" + PointTypeName(t) + ")");
  switch (t) {
    case PointType::kInt32: return IntegerAs<int32_t>(*n, v, t);
    case PointType::kInt64: return IntegerAs<int64_t>(*n, v, t);
    case PointType::kUInt32: return IntegerAs<uint32_t>(*n, v, t);
    case PointType::kUInt64: return IntegerAs<uint64_t>(*n, v, t);
    case PointType::kFloat:
      if (std::fabs(n->d) > double(std::numeric_limits<float>::max())) {
        return Status::InvalidArgument(Show(v) + " is out of range for float");
      }
      return Value(float(n->d));
    case PointType::kDouble: return Value(n->d);
    default: break;
  }
  return Status::InvalidArgument("unsupported type");
}

Result<Source> FromJson(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::boolean: return Source(j.get<bool>());
    case nlohmann::json::value_t::number_integer: return Source(j.get<int64_t>());
    case nlohmann::json::value_t::number_unsigned: return Source(j.get<uint64_t>());
    case nlohmann::json::value_t::number_float: {
      double d = j.get<double>();
      if (!std::isfinite(d)) return Status::InvalidArgument("not a finite number");
      return Source(d);
    }
    case nlohmann::json::value_t::string: return Source(j.get<std::string>());
    case nlohmann::json::value_t::null: return Status::InvalidArgument("is null");
    case nlohmann::json::value_t::object: return Status::InvalidArgument("is an object, not a value");
    case nlohmann::json::value_t::array: return Status::InvalidArgument("is an array, not a value");
    default: return Status::InvalidArgument("is not a value");
  }
}

const nlohmann::json* FindPointer(const nlohmann::json& doc, const std::string& pointer) {
  const nlohmann::json* cur = &doc;
  size_t pos = 0;
  if (pointer.empty()) return cur;
  if (pointer[0] != '/') return nullptr;
  while (pos < pointer.size()) {
    size_t next = pointer.find('/', pos + 1);
    std::string token = pointer.substr(pos + 1, next == std::string::npos ? std::string::npos : next - pos - 1);
    std::string key;
    for (size_t i = 0; i < token.size(); ++i) {
      if (token[i] == '~') {
        if (i + 1 >= token.size()) return nullptr;
        if (token[i + 1] == '0') key.push_back('~');
        else if (token[i + 1] == '1') key.push_back('/');
        else return nullptr;
        ++i;
      } else {
        key.push_back(token[i]);
      }
    }
    if (cur->is_object()) {
      auto it = cur->find(key);
      if (it == cur->end()) return nullptr;
      cur = &*it;
    } else if (cur->is_array()) {
      if (key.empty() || key.size() > 9 || (key.size() > 1 && key[0] == '0')) return nullptr;
      size_t idx = 0;
      for (char c : key) {
        if (c < '0' || c > '9') return nullptr;
        idx = idx * 10 + size_t(c - '0');
      }
      if (idx >= cur->size()) return nullptr;
      cur = &(*cur)[idx];
    } else {
      return nullptr;
    }
    if (next == std::string::npos) break;
    pos = next;
  }
  return cur;
}

Result<int64_t> TimestampFromJson(const nlohmann::json& j) {
  if (j.is_number()) {
    double d = j.get<double>();
    if (!std::isfinite(d) || d < 0 || d > 1.0e14) return Status::InvalidArgument("timestamp out of range");
    // Seconds until the year 5138, milliseconds after: a sensor sends one or the other.
    return d < 1.0e11 ? int64_t(std::llround(d * 1000.0)) : int64_t(std::llround(d));
  }
  if (!j.is_string()) return Status::InvalidArgument("timestamp is neither a number nor an RFC 3339 string");
  const std::string& s = j.get_ref<const std::string&>();
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, used = 0;
  if (s.size() < 20 || std::sscanf(s.c_str(), "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &used) != 6 ||
      used != 19) {
    return Status::InvalidArgument("timestamp '" + s.substr(0, 40) + "' is not RFC 3339");
  }
  size_t pos = 19;
  int64_t frac_ms = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < 3) frac_ms = frac_ms * 10 + (s[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return Status::InvalidArgument("timestamp '" + s.substr(0, 40) + "' has an empty fraction");
    for (int k = digits; k < 3; ++k) frac_ms *= 10;
  }
  int64_t offset_min = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z') && pos + 1 == s.size()) {
  } else if (pos + 6 == s.size() && (s[pos] == '+' || s[pos] == '-') && s[pos + 3] == ':') {
    int oh = 0, om = 0;
    if (std::sscanf(s.c_str() + pos + 1, "%2d:%2d", &oh, &om) != 2 || oh > 23 || om > 59) {
      return Status::InvalidArgument("timestamp '" + s.substr(0, 40) + "' has a bad offset");
    }
    offset_min = (s[pos] == '+' ? 1 : -1) * (oh * 60 + om);
  } else {
    return Status::InvalidArgument("timestamp '" + s.substr(0, 40) + "' needs Z or an offset");
  }
  date::year_month_day ymd{date::year{y}, date::month{unsigned(mo)}, date::day{unsigned(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || sec > 60) {
    return Status::InvalidArgument("timestamp '" + s.substr(0, 40) + "' is out of range");
  }
  const int64_t days = date::sys_days(ymd).time_since_epoch().count();
  int64_t ms = ((days * 24 + h) * 60 + mi) * 60'000 + int64_t(sec) * 1000 + frac_ms - offset_min * 60'000;
  if (ms < 0) return Status::InvalidArgument("timestamp before 1970");
  return ms;
}

}  // namespace drivers
