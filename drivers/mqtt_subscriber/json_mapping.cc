#include "mqtt_subscriber/json_mapping.h"

#include <nlohmann/json.hpp>

#include "common/point_value.h"
#include "mqtt_subscriber/mqtt_codec.h"

namespace mqtt_subscriber {

using gateway::Reading;

JsonMapping::JsonMapping(const gateway::Config& config) : config_(config) {
  for (const auto& f : config.facilities) {
    for (const auto& s : f.sensors) {
      if (s.driver == "mqtt") sensors_.emplace(f.id, s.id);
    }
  }
}

std::vector<std::string> JsonMapping::Filters() const {
  std::vector<std::string> out;
  for (const auto& s : config_.drivers.mqtt.subscriptions) {
    bool seen = false;
    for (const auto& f : out) seen = seen || f == s.topic;
    if (!seen) out.push_back(s.topic);
  }
  return out;
}

namespace {

std::string TopicLevel(std::string_view topic, int level) {
  size_t start = 0;
  for (int i = 0; i < level; ++i) {
    size_t slash = topic.find('/', start);
    if (slash == std::string_view::npos) return "";
    start = slash + 1;
  }
  size_t end = topic.find('/', start);
  return std::string(topic.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
}

std::string Cut(std::string s) {
  if (s.size() > 64) s = s.substr(0, 64) + "...";
  return s;
}

}  // namespace

MapOutcome JsonMapping::Map(std::string_view topic, std::string_view payload, int64_t now_ms, bool replayed) const {
  MapOutcome out;
  nlohmann::json doc;
  bool parsed = false;
  for (const auto& sub : config_.drivers.mqtt.subscriptions) {
    if (!TopicMatches(sub.topic, topic)) continue;
    out.matched = true;
    if (!parsed) {
      doc = nlohmann::json::parse(payload.begin(), payload.end(), nullptr, /*allow_exceptions=*/false);
      parsed = true;
    }
    if (doc.is_discarded()) {
      out.errors.push_back("payload is not JSON");
      return out;
    }
    std::string sensor = sub.sensor;
    std::string where = "sensor";
    if (sub.sensor_level >= 0) {
      sensor = TopicLevel(topic, sub.sensor_level);
      where = "topic level " + std::to_string(sub.sensor_level);
    } else if (!sub.sensor_pointer.empty()) {
      where = sub.sensor_pointer;
      const nlohmann::json* j = drivers::FindPointer(doc, sub.sensor_pointer);
      if (!j || !j->is_string()) {
        out.errors.push_back(sub.sensor_pointer + ": no sensor id (a string) in the payload");
        continue;
      }
      sensor = j->get<std::string>();
    }
    if (!sensors_.count({sub.facility, sensor})) {
      out.errors.push_back(where + ": '" + Cut(sensor) + "' is not an mqtt sensor of facility '" + sub.facility + "'");
      continue;
    }
    int64_t ts = now_ms;
    if (!sub.timestamp_pointer.empty()) {
      const nlohmann::json* j = drivers::FindPointer(doc, sub.timestamp_pointer);
      if (j) {
        auto t = drivers::TimestampFromJson(*j);
        if (!t.ok()) {
          out.errors.push_back(sub.timestamp_pointer + ": " + t.status().message());
          continue;
        }
        ts = t.value();
      }
    }
    for (const auto& p : sub.points) {
      const nlohmann::json* j = drivers::FindPointer(doc, p.pointer);
      if (!j) {
        ++out.missing;
        continue;
      }
      auto src = drivers::FromJson(*j);
      if (!src.ok()) {
        out.errors.push_back((p.pointer.empty() ? "payload" : p.pointer) + " " + src.status().message());
        continue;
      }
      drivers::Source v = std::move(src.value());
      if (p.scale != 1.0) {
        if (const auto* i = std::get_if<int64_t>(&v)) v = double(*i) * p.scale;
        else if (const auto* u = std::get_if<uint64_t>(&v)) v = double(*u) * p.scale;
        else if (const auto* d = std::get_if<double>(&v)) v = *d * p.scale;
      }
      auto value = drivers::Convert(v, p.type, p.point, gateway::PointType::kAuto);
      if (!value.ok()) {
        out.errors.push_back(p.pointer + ": " + value.status().message());
        continue;
      }
      Reading r;
      r.facility_id = sub.facility;
      r.sensor_id = sensor;
      r.point = p.point;
      r.value = std::move(value.value());
      r.ts_ms = ts;
      r.replayed = replayed;
      out.readings.push_back(std::move(r));
    }
  }
  return out;
}

}  // namespace mqtt_subscriber
