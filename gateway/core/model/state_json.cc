#include "core/model/state_json.h"

namespace gateway::model {

namespace {

Json TsOrNull(int64_t ts) { return ts == kNever ? Json(nullptr) : Json(ts); }

int64_t TsFrom(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return kNever;
  return it->get<int64_t>();
}

template <typename T>
Json LatestToJson(const Latest<T>& l) {
  if (!l.value) return nullptr;
  return Json{{"v", *l.value}, {"ts", l.ts}};
}

template <typename T>
void LatestFromJson(const Json& j, const char* key, Latest<T>& l) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  l.value = it->at("v").template get<T>();
  l.ts = it->at("ts").template get<int64_t>();
}

template <typename T>
void Get(const Json& j, const char* key, T& v) {
  auto it = j.find(key);
  if (it != j.end() && !it->is_null()) v = it->get<T>();
}

}  // namespace

Json SaveFacility(const FacilityState& f) {
  Json jf;
  jf["event_day"] = TsOrNull(f.event_day);
  jf["open"] = f.open ? Json(*f.open) : Json(nullptr);
  jf["door_occupancy"] = f.door_occupancy;
  jf["door_reset"] = TsOrNull(f.door_reset_ms);
  jf["announced_day"] = TsOrNull(f.announced_day);
  Json& days = jf["days"] = Json::object();
  for (const auto& [day, counts] : f.days) {
    Json& jd = days[std::to_string(day)] = Json::object();
    for (const auto& [metric, n] : counts) {
      if (n > 0) jd[metric] = n;
    }
  }
  Json& sensors = jf["sensors"] = Json::object();
  for (const auto& s : f.sensors) {
    Json js;
    js["last_heard"] = TsOrNull(s.last_heard_ms);
    js["online"] = s.online;
    if (!s.counters.empty()) {
      Json& counters = js["counters"] = Json::object();
      for (const auto& [point, c] : s.counters) counters[point] = Json{{"last", c.last}, {"ts", c.ts}};
    }
    if (s.occupancy.value) js["occupancy"] = LatestToJson(s.occupancy);
    if (s.flag.value) js["flag"] = LatestToJson(s.flag);
    if (!s.presses.empty()) js["presses"] = s.presses;
    if (!s.alarm_points.empty()) js["alarm_points"] = s.alarm_points;
    if (!s.connectors.empty()) {
      Json& cs = js["connectors"] = Json::array();
      for (const auto& c : s.connectors) {
        cs.push_back(Json{{"status", LatestToJson(c.status)},
                          {"power_kw", LatestToJson(c.power_kw)},
                          {"energy_kwh", LatestToJson(c.energy_kwh)}});
      }
    }
    sensors[s.id] = std::move(js);
  }
  return jf;
}

Status LoadFacility(const Json& jf, int version, FacilityState& f) {
  if (!jf.is_object()) return Status::Corruption("facility state: '" + f.id + "' is not an object");
  const int64_t day = TsFrom(jf, version == 1 ? "day" : "event_day");
  if (day != kNever) f.SetEventDay(day, f.DayStartOf(day));
  auto open_it = jf.find("open");
  if (open_it != jf.end() && !open_it->is_null()) f.open = open_it->get<bool>();
  Get(jf, "door_occupancy", f.door_occupancy);
  f.door_reset_ms = TsFrom(jf, "door_reset");
  f.announced_day = TsFrom(jf, "announced_day");
  if (version == 1) {
    const std::pair<const char*, const char*> kToday[] = {{"entries_today", "visits/entries"},
                                                          {"meals_today", "meals/served"},
                                                          {"checkins_today", "checkins/count"},
                                                          {"sessions_completed_today", "sessions/completed"}};
    for (const auto& [key, metric] : kToday) {
      uint64_t n = 0;
      Get(jf, key, n);
      if (n > 0 && day != kNever) f.days[day][metric] = n;
    }
  } else if (auto days = jf.find("days"); days != jf.end() && days->is_object()) {
    for (const auto& [key, jd] : days->items()) {
      auto& counts = f.days[std::stoll(key)];
      for (const auto& [metric, n] : jd.items()) counts[metric] = n.get<uint64_t>();
    }
  }
  auto sensors_it = jf.find("sensors");
  if (sensors_it == jf.end() || !sensors_it->is_object()) return Status::Ok();
  for (auto& s : f.sensors) {
    auto js_it = sensors_it->find(s.id);
    if (js_it == sensors_it->end()) continue;  // a sensor added since
    const Json& js = *js_it;
    s.last_heard_ms = TsFrom(js, "last_heard");
    Get(js, "online", s.online);
    if (auto c_it = js.find("counters"); c_it != js.end() && c_it->is_object()) {
      for (const auto& [point, jc] : c_it->items()) {
        CounterState c;
        c.last = jc.at("last").get<uint64_t>();
        c.ts = jc.at("ts").get<int64_t>();
        s.counters[point] = c;
      }
    }
    LatestFromJson(js, "occupancy", s.occupancy);
    LatestFromJson(js, "flag", s.flag);
    Get(js, "presses", s.presses);
    Get(js, "alarm_points", s.alarm_points);
    if (version == 1 && day != kNever) {
      uint64_t n = 0;
      if (Get(js, "sessions_today", n); n) f.days[day]["equipment/" + s.id + "/sessions"] = n;
    }
    if (auto cs_it = js.find("connectors"); cs_it != js.end() && cs_it->is_array()) {
      // A charge point re-configured with fewer connectors keeps the first ones.
      for (size_t n = 0; n < s.connectors.size() && n < cs_it->size(); ++n) {
        const Json& jc = (*cs_it)[n];
        LatestFromJson(jc, "status", s.connectors[n].status);
        LatestFromJson(jc, "power_kw", s.connectors[n].power_kw);
        LatestFromJson(jc, "energy_kwh", s.connectors[n].energy_kwh);
      }
    }
  }
  return Status::Ok();
}

}  // namespace gateway::model
