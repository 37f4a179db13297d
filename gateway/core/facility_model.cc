// The FacilityModel's orchestration: it routes each raw reading to the rules of its
// sensor's kind (core/model/sensor_kind.h), keeps each facility's day in event time
// (core/model/model_state.h), and saves and restores the running state. What a kind
// or a facility type counts lives in the files of core/model/.
#include "core/facility_model.h"

#include <date/date.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <numeric>

#include "core/model/facility_type.h"
#include "core/model/model_state.h"
#include "core/model/sensor_kind.h"
#include "core/model/state_json.h"
#include "gateway/opening_hours.h"
#include "store/history.h"

namespace gateway {

using model::Emitter;
using model::FacilityState;
using model::Json;
using model::kNever;
using model::SensorState;

namespace {

// Version 2: daily counts per local day (version 1 kept today's only; it is read).
constexpr int kStateVersion = 2;
// A device whose clock runs this far ahead must not start tomorrow for the whole
// facility (and make today's readings late).
constexpr int64_t kFutureDayMs = 86'400'000;

std::string OnlinePoint(const SensorState& s) { return "sensors/" + s.id + "/online"; }

}  // namespace

struct FacilityModel::Impl {
  std::vector<FacilityState> facilities;
  std::unordered_map<std::string, size_t> facility_index;
  int64_t latest_now_ms = kNever;  // the newest gateway time seen (Tick, EmitAll); not saved

  FacilityState* Find(const std::string& id) {
    auto it = facility_index.find(id);
    return it == facility_index.end() ? nullptr : &facilities[it->second];
  }
  const FacilityState* Find(const std::string& id) const {
    auto it = facility_index.find(id);
    return it == facility_index.end() ? nullptr : &facilities[it->second];
  }
  int64_t ClockDay(const FacilityState& f) const {
    return latest_now_ms == kNever ? f.event_day : f.tz.ToLocal(latest_now_ms).day_number;
  }

  void ProcessOne(FacilityState& f, SensorState& s, const Reading& r, Emitter& em);
};

void FacilityModel::Impl::ProcessOne(FacilityState& f, SensorState& s, const Reading& r, Emitter& em) {
  const int64_t ts = r.ts_ms;
  if (r.point == "online") {
    // A driver's own verdict (a Modbus device that stopped answering): it is stored as
    // the raw metric sensors/{id}/online, so the model only follows it, emitting nothing.
    auto v = model::AsBool(r.value);
    if (!v) return;
    if (*v && (s.last_heard_ms == kNever || ts > s.last_heard_ms)) s.last_heard_ms = ts;
    s.online = *v;
    return;
  }
  if (s.last_heard_ms == kNever || ts > s.last_heard_ms) s.last_heard_ms = ts;
  if (!s.online) {
    s.online = true;
    em.Emit(f.id, OnlinePoint(s), true, ts);
  }
  if (latest_now_ms == kNever || ts <= latest_now_ms + kFutureDayMs) {
    f.ObserveTime(ts, em);
  } else {
    spdlog::debug("facility {}: {}/{} is stamped {} ms ahead of the gateway clock; it does not start a day", f.id,
                  s.id, r.point, ts - latest_now_ms);
  }
  // An alarm point is the same on any kind of sensor (a radar's fall detection).
  if (model::ConsumeAlarmPoint(f, s, r)) return;
  model::RulesFor(s.kind).Consume(f, s, r, em);
}

FacilityModel::FacilityModel() : impl_(std::make_unique<Impl>()) {}
FacilityModel::~FacilityModel() = default;

Result<std::unique_ptr<FacilityModel>> FacilityModel::Create(const Config& config) {
  std::unique_ptr<FacilityModel> m(new FacilityModel());
  Impl& impl = *m->impl_;
  impl.facilities.reserve(config.facilities.size());
  for (const auto& fc : config.facilities) {
    if (impl.facility_index.count(fc.id)) return Status::InvalidArgument("facility '" + fc.id + "' is configured twice");
    const std::string& zone = fc.timezone.empty() ? config.timezone : fc.timezone;
    auto tz = TimeZone::Load(zone);
    if (!tz.ok()) return Status::InvalidArgument("facility '" + fc.id + "': " + tz.status().message());
    FacilityState f(tz.value());
    f.id = fc.id;
    f.name = fc.name;
    f.type = fc.type;
    f.opening_hours = fc.opening_hours;
    f.keep_days = config.history.late_days + 1;
    f.feedback.min_responses = fc.feedback_min_responses;
    // Every facility has always carried visits/entries on the wire.
    f.DeclareDaily("visits/entries", true);
    std::optional<int> best_rank;
    for (const auto& sc : fc.sensors) {
      if (f.sensor_index.count(sc.id)) {
        return Status::InvalidArgument("facility '" + fc.id + "': sensor '" + sc.id + "' is configured twice");
      }
      SensorState s;
      s.id = sc.id;
      s.kind = sc.kind;
      s.silent_ms = store::SensorSilentMs(config, sc);
      s.location = sc.location;
      const model::SensorKindRules& rules = model::RulesFor(sc.kind);
      rules.Configure(sc, f, s);
      if (auto rank = rules.OccupancyRank(); rank && (!best_rank || *rank < *best_rank)) {
        best_rank = rank;
        f.occupancy_source = sc.kind;
      }
      f.sensor_index.emplace(s.id, f.sensors.size());
      f.sensors.push_back(std::move(s));
    }
    const model::FacilityTypeRules& type = model::RulesFor(fc.type);
    type.Configure(fc, f);
    if (!f.occupancy_source) {
      auto fallback = type.FallbackOccupancy();
      if (fallback && std::any_of(fc.sensors.begin(), fc.sensors.end(),
                                  [&](const SensorConfig& sc) { return sc.kind == *fallback; })) {
        f.occupancy_source = fallback;
      }
    }
    f.capacity = store::EffectiveCapacity(fc);
    impl.facility_index.emplace(f.id, impl.facilities.size());
    impl.facilities.push_back(std::move(f));
  }
  return m;
}

bool FacilityModel::MayRaiseAlarm(const Reading& r) const {
  const FacilityState* f = impl_->Find(r.facility_id);
  if (!f) return false;
  auto it = f->sensor_index.find(r.sensor_id);
  if (it == f->sensor_index.end()) return false;
  const SensorState& s = f->sensors[it->second];
  if (r.point.rfind(model::kAlarmPointPrefix, 0) == 0) return model::AsBool(r.value).value_or(false);
  return s.kind == SensorKind::kCallButton && model::CallButtonMayPress(s, r);
}

void FacilityModel::Process(const std::vector<Reading>& raw, std::vector<Reading>& out,
                            std::vector<AlarmPress>* presses) {
  // Counters are differenced in time order, and the entries of a door sample go before
  // its exits, so that the clamp at 0 never eats people who came in at the same instant.
  // A driver's "online" goes first, so that its data at the same instant does not make
  // the model announce the sensor online a second time.
  auto rank = [](const Reading& r) { return r.point == "online" ? -1 : r.point == "exits_total" ? 1 : 0; };
  std::vector<size_t> order(raw.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (raw[a].ts_ms != raw[b].ts_ms) return raw[a].ts_ms < raw[b].ts_ms;
    return rank(raw[a]) < rank(raw[b]);
  });
  Emitter em(out);
  for (size_t i : order) {
    const Reading& r = raw[i];
    FacilityState* f = impl_->Find(r.facility_id);
    if (!f) continue;
    auto it = f->sensor_index.find(r.sensor_id);
    if (it == f->sensor_index.end()) continue;
    f->presses = presses;
    impl_->ProcessOne(*f, f->sensors[it->second], r, em);
    f->presses = nullptr;
  }
}

void FacilityModel::Tick(int64_t now_ms, std::vector<Reading>& out) {
  impl_->latest_now_ms = std::max(impl_->latest_now_ms, now_ms);
  Emitter em(out);
  for (auto& f : impl_->facilities) {
    const int64_t clock_day = f.tz.ToLocal(now_ms).day_number;
    // A midnight the clock has passed and no reading has crossed yet: announced, stamped
    // at the midnight, without touching the event-time state, so that a late reading of
    // the day before is still counted in its day (the first reading of the new day
    // states the same values again at the same instant).
    if (f.event_day != kNever && clock_day > f.event_day &&
        (f.announced_day == kNever || clock_day > f.announced_day)) {
      const int64_t midnight = f.tz.DayStartMs(now_ms);
      f.EmitDayStart(midnight, em);
      if (f.occupancy_source == SensorKind::kDoorCounter && f.ClosedAtStartOf(midnight)) {
        em.Emit(f.id, "occupancy/current", uint32_t(0), midnight);
        em.Emit(f.id, "occupancy/ratio", 0.0f, midnight);
      }
      f.announced_day = clock_day;
    }
    f.PruneDays(std::max(f.event_day, clock_day));
    // Whether the opening hours say open is a fact of the present moment.
    bool open = IsOpenAt(f.opening_hours, f.tz.ToLocal(now_ms));
    if (!f.open || *f.open != open) {
      f.open = open;
      em.Emit(f.id, "status/open", open, now_ms);
    }
    for (auto& s : f.sensors) {
      if (s.online && (s.last_heard_ms == kNever || now_ms - s.last_heard_ms > s.silent_ms)) {
        s.online = false;
        em.Emit(f.id, OnlinePoint(s), false, now_ms);
      }
    }
  }
}

void FacilityModel::EmitAll(int64_t now_ms, std::vector<Reading>& out) {
  impl_->latest_now_ms = std::max(impl_->latest_now_ms, now_ms);
  Emitter em(out);
  // Only what is taken now: the configured capacity, type and name, and what the opening
  // hours say of this moment. Values that came from readings keep the timestamps they were taken at:
  // the buffer's latest values (and so the births) still hold them, and re-stamping
  // them would make a platform see a meter go back or a sensor speak that did not.
  for (auto& f : impl_->facilities) {
    f.open = IsOpenAt(f.opening_hours, f.tz.ToLocal(now_ms));
    em.Emit(f.id, "occupancy/capacity", f.capacity, now_ms);
    em.Emit(f.id, "status/open", *f.open, now_ms);
    // What the facility is, for a town host that groups facilities by type and names them.
    em.Emit(f.id, "facility/type", std::string(FacilityTypeName(f.type)), now_ms);
    em.Emit(f.id, "facility/name", f.name, now_ms);
    // The scores and the minimum the index stands on, so that a town host can add the
    // buttons' counts of many days and facilities up and judge the sum as the gateway would.
    if (!f.feedback.buttons.empty()) {
      em.Emit(f.id, "feedback/min_responses", f.feedback.min_responses, now_ms);
      for (const auto& b : f.feedback.buttons) {
        std::string point = "feedback/";
        point.append(b.name).append("/score");
        em.Emit(f.id, point, int32_t(b.score), now_ms);
      }
    }
  }
}

bool FacilityModel::KnowsSensor(const std::string& facility_id, const std::string& sensor_id) const {
  const FacilityState* f = impl_->Find(facility_id);
  return f && f->sensor_index.count(sensor_id) > 0;
}

std::string FacilityModel::SaveState() const {
  Json root;
  root["version"] = kStateVersion;
  Json& facilities = root["facilities"] = Json::object();
  for (const auto& f : impl_->facilities) facilities[f.id] = model::SaveFacility(f);
  return root.dump();
}

Status FacilityModel::LoadState(const std::string& json) {
  // Built on a copy and swapped in only when all of it parsed, so a damaged state
  // leaves the model as it was.
  std::vector<FacilityState> next = impl_->facilities;
  try {
    Json root = Json::parse(json);
    if (!root.is_object()) return Status::Corruption("facility state: not a JSON object");
    int version = root.value("version", 0);
    if (version != 1 && version != kStateVersion) {
      return Status::InvalidArgument("facility state: version " + std::to_string(version) + ", expected " +
                                     std::to_string(kStateVersion));
    }
    const Json& facilities = root.at("facilities");
    if (!facilities.is_object()) return Status::Corruption("facility state: 'facilities' is not an object");
    for (auto& f : next) {
      f.ResetRunning();
      auto it = facilities.find(f.id);
      if (it == facilities.end()) continue;  // a facility added since: starts fresh
      Status s = model::LoadFacility(*it, version, f);
      if (!s.ok()) return s;
    }
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("facility state: ") + e.what());
  }
  impl_->facilities = std::move(next);
  return Status::Ok();
}

std::vector<FacilitySnapshot> FacilityModel::Snapshot() const {
  std::vector<FacilitySnapshot> out;
  out.reserve(impl_->facilities.size());
  for (const auto& f : impl_->facilities) {
    FacilitySnapshot s;
    s.id = f.id;
    s.name = f.name;
    s.type = f.type;
    s.capacity = f.capacity;
    // Today is the gateway clock's day: the page shows what the wire announced.
    const int64_t day = impl_->ClockDay(f);
    const bool announced_reset = day != kNever && f.event_day != kNever && day > f.event_day &&
                                 f.occupancy_source == SensorKind::kDoorCounter &&
                                 f.ClosedAtStartOf(f.DayStartOf(day));
    s.occupancy = announced_reset ? 0 : f.CurrentOccupancy();
    s.open = f.open.value_or(false);
    s.entries_today = f.DayCount(day, "visits/entries");
    s.meals_today = uint32_t(std::min<uint64_t>(f.DayCount(day, "meals/served"), UINT32_MAX));
    s.checkins_today = uint32_t(std::min<uint64_t>(f.DayCount(day, "checkins/count"), UINT32_MAX));
    s.sensors_total = uint32_t(f.sensors.size());
    for (const auto& sensor : f.sensors) {
      s.sensors_online += sensor.online ? 1 : 0;
      s.sensors.push_back({sensor.id, sensor.kind, sensor.online,
                           sensor.last_heard_ms == kNever ? int64_t{-1} : sensor.last_heard_ms});
      model::RulesFor(sensor.kind).Describe(f, sensor, day, s);
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace gateway
