#include "http_ingest/ingest_body.h"

#include <nlohmann/json.hpp>

#include "common/point_value.h"

namespace http_ingest {

using gateway::PointType;
using gateway::Reading;
using gateway::Result;
using gateway::Status;
using Json = nlohmann::json;

namespace {

constexpr int64_t kMaxFutureMs = 86'400'000;  // a device clock a day ahead is broken
constexpr size_t kMaxIdBytes = 128;

std::string Cut(const std::string& s) { return s.size() > 40 ? s.substr(0, 40) + "..." : s; }

// Bounds checked before a document is built, so that neither its size in memory nor
// what it sends on are the client's to choose. The schema nests three deep
// (body, readings, reading); a DOM node costs about 16 times a one-byte JSON value,
// hence a bound on the count of values too. A string value is kept and re-sent in
// every DBIRTH of its point: 1 KiB is plenty for a status text.
constexpr int kMaxDepth = 4;
constexpr size_t kMaxStringBytes = 1024;
constexpr size_t kValuesPerReading = 8;  // an object, its keys' values, and some slack

// A SAX pass over the body: no document, only the bounds and duplicate keys (which a
// DOM would silently resolve as "last wins", also for "facility").
class Precheck {
 public:
  using number_integer_t = Json::number_integer_t;
  using number_unsigned_t = Json::number_unsigned_t;
  using number_float_t = Json::number_float_t;
  using string_t = Json::string_t;
  using binary_t = Json::binary_t;

  explicit Precheck(size_t max_values) : max_values_(max_values) {}

  bool null() { return Value(); }
  bool boolean(bool) { return Value(); }
  bool number_integer(number_integer_t) { return Value(); }
  bool number_unsigned(number_unsigned_t) { return Value(); }
  bool number_float(number_float_t, const string_t&) { return Value(); }
  bool string(string_t& v) {
    if (v.size() > kMaxStringBytes) {
      return Fail("a string of " + std::to_string(v.size()) + " bytes; at most " + std::to_string(kMaxStringBytes));
    }
    return Value();
  }
  bool binary(binary_t&) { return Fail("binary values are not JSON"); }
  bool start_object(size_t) { return Open(true); }
  bool key(string_t& k) {
    if (k.size() > kMaxStringBytes) return Fail("a key of " + std::to_string(k.size()) + " bytes");
    if (!keys_.back().insert(k).second) return Fail("key '" + Cut(k) + "' given twice");
    return true;
  }
  bool end_object() {
    keys_.pop_back();
    --depth_;
    return true;
  }
  bool start_array(size_t) { return Open(false); }
  bool end_array() {
    --depth_;
    return true;
  }
  bool parse_error(size_t, const std::string&, const nlohmann::detail::exception&) {
    if (problem_.empty()) problem_ = "not valid JSON";
    return false;
  }

  const std::string& problem() const { return problem_; }

 private:
  bool Value() {
    if (++values_ > max_values_) return Fail("more than " + std::to_string(max_values_) + " values");
    return true;
  }
  bool Open(bool object) {
    if (++depth_ > kMaxDepth) return Fail("nested deeper than " + std::to_string(kMaxDepth) + " levels");
    if (object) keys_.emplace_back();
    return Value();
  }
  bool Fail(std::string why) {
    problem_ = std::move(why);
    return false;
  }

  size_t max_values_;
  size_t values_ = 0;
  int depth_ = 0;
  std::vector<std::set<std::string>> keys_;  // of the open objects, at most kMaxDepth
  std::string problem_;
};


Result<std::string> IdField(const Json& obj, const char* key, const std::string& path, const std::string& fallback) {
  auto it = obj.find(key);
  if (it == obj.end()) {
    if (fallback.empty()) return Status::InvalidArgument(path + "." + key + ": required");
    return fallback;
  }
  if (!it->is_string()) return Status::InvalidArgument(path + "." + key + ": must be a string");
  const std::string& s = it->get_ref<const std::string&>();
  if (s.empty() || s.size() > kMaxIdBytes) {
    return Status::InvalidArgument(path + "." + key + ": must be 1.." + std::to_string(kMaxIdBytes) + " bytes");
  }
  return s;
}

bool ValidPoint(const std::string& p) {
  if (p.empty() || p.size() > 200 || p.front() == '/' || p.back() == '/' || p.find("//") != std::string::npos) {
    return false;
  }
  for (unsigned char c : p) {
    if (c < 0x21 || c == 0x7f || c == '+' || c == '#') return false;
  }
  return p != "online";
}

const std::pair<const char*, PointType> kTypes[] = {
    {"bool", PointType::kBool},     {"int32", PointType::kInt32},   {"int64", PointType::kInt64},
    {"uint32", PointType::kUInt32}, {"uint64", PointType::kUInt64}, {"float", PointType::kFloat},
    {"double", PointType::kDouble}, {"string", PointType::kString},
};

}  // namespace

IngestBodyParser::IngestBodyParser(const gateway::Config& config)
    : max_readings_(config.drivers.http.max_readings),
      max_age_ms_((int64_t(config.history.late_days) + 1) * 86'400'000LL),
      late_days_(config.history.late_days) {
  for (const auto& f : config.facilities) {
    for (const auto& s : f.sensors) {
      if (s.driver == "http") sensors_.emplace(f.id, s.id);
    }
  }
}

IngestBodyParser::IngestBodyParser(std::set<std::pair<std::string, std::string>> sensors, uint32_t max_readings)
    : sensors_(std::move(sensors)), max_readings_(max_readings) {}

Result<std::vector<Reading>> IngestBodyParser::Parse(std::string_view body, int64_t now_ms) const {
  Precheck pre(size_t(max_readings_) * kValuesPerReading + 16);
  if (!Json::sax_parse(body.begin(), body.end(), &pre, nlohmann::detail::input_format_t::json, /*strict=*/true)) {
    return Status::InvalidArgument("body: " + (pre.problem().empty() ? std::string("not valid JSON") : pre.problem()));
  }
  Json doc = Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Status::InvalidArgument("body: not valid JSON");
  if (!doc.is_object()) return Status::InvalidArgument("body: must be a JSON object with \"readings\"");
  for (const auto& [key, _] : doc.items()) {
    if (key != "facility" && key != "sensor" && key != "readings") {
      return Status::InvalidArgument(Cut(key) + ": unknown key (expected facility, sensor, readings)");
    }
  }
  std::string facility, sensor;
  if (doc.contains("facility")) {
    auto f = IdField(doc, "facility", "", "");
    if (!f.ok()) return Status::InvalidArgument(f.status().message().substr(1));
    facility = f.value();
  }
  if (doc.contains("sensor")) {
    auto s = IdField(doc, "sensor", "", "");
    if (!s.ok()) return Status::InvalidArgument(s.status().message().substr(1));
    sensor = s.value();
  }
  auto rit = doc.find("readings");
  if (rit == doc.end()) return Status::InvalidArgument("readings: required (a list of readings)");
  if (!rit->is_array()) return Status::InvalidArgument("readings: must be a list");
  if (rit->empty()) return Status::InvalidArgument("readings: must not be empty");
  if (rit->size() > max_readings_) {
    return Status::InvalidArgument("readings: " + std::to_string(rit->size()) + " readings, at most " +
                                   std::to_string(max_readings_) + " per request");
  }
  std::vector<Reading> out;
  out.reserve(rit->size());
  for (size_t i = 0; i < rit->size(); ++i) {
    const Json& r = (*rit)[i];
    const std::string path = "readings[" + std::to_string(i) + "]";
    if (!r.is_object()) return Status::InvalidArgument(path + ": must be an object");
    for (const auto& [key, _] : r.items()) {
      if (key != "facility" && key != "sensor" && key != "point" && key != "value" && key != "ts" && key != "type") {
        return Status::InvalidArgument(path + "." + Cut(key) +
                                       ": unknown key (expected facility, sensor, point, value, ts, type)");
      }
    }
    auto f = IdField(r, "facility", path, facility);
    if (!f.ok()) return f.status();
    auto s = IdField(r, "sensor", path, sensor);
    if (!s.ok()) return s.status();
    if (!sensors_.count({f.value(), s.value()})) {
      return Status::InvalidArgument(path + ".sensor: '" + Cut(s.value()) + "' is not an http sensor of facility '" +
                                     Cut(f.value()) + "'");
    }
    auto pit = r.find("point");
    if (pit == r.end()) return Status::InvalidArgument(path + ".point: required");
    if (!pit->is_string() || !ValidPoint(pit->get_ref<const std::string&>())) {
      return Status::InvalidArgument(path + ".point: must be a name like meals_total (no '+', '#', spaces; not 'online')");
    }
    const std::string& point = pit->get_ref<const std::string&>();
    PointType type = PointType::kAuto;
    if (auto tit = r.find("type"); tit != r.end()) {
      bool known = false;
      if (tit->is_string()) {
        for (const auto& [name, t] : kTypes) {
          if (*tit == name) {
            type = t;
            known = true;
          }
        }
      }
      if (!known) return Status::InvalidArgument(path + ".type: must be one of bool, int32, int64, uint32, uint64, float, double, string");
    }
    auto vit = r.find("value");
    if (vit == r.end()) return Status::InvalidArgument(path + ".value: required");
    auto src = drivers::FromJson(*vit);
    if (!src.ok()) return Status::InvalidArgument(path + ".value: " + src.status().message());
    auto value = drivers::Convert(src.value(), type, point, PointType::kAuto);
    if (!value.ok()) return Status::InvalidArgument(path + ".value: " + value.status().message());
    int64_t ts = now_ms;
    if (auto tsit = r.find("ts"); tsit != r.end()) {
      auto t = drivers::TimestampFromJson(*tsit);
      if (!t.ok()) return Status::InvalidArgument(path + ".ts: " + t.status().message());
      if (t.value() > now_ms + kMaxFutureMs) return Status::InvalidArgument(path + ".ts: more than a day in the future");
      if (t.value() < now_ms - max_age_ms_) {
        std::string msg = path;
        msg.append(".ts: older than the gateway accepts (history.late_days: ")
            .append(std::to_string(late_days_))
            .append(" days before today)");
        return Status::InvalidArgument(msg);
      }
      ts = t.value();
    }
    Reading reading;
    reading.facility_id = f.value();
    reading.sensor_id = s.value();
    reading.point = point;
    reading.value = std::move(value.value());
    reading.ts_ms = ts;
    out.push_back(std::move(reading));
  }
  return out;
}

}  // namespace http_ingest
