#include "core/facility_model.h"

#include <date/date.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include "gateway/opening_hours.h"

namespace gateway {

namespace {

using Json = nlohmann::json;

constexpr int64_t kNever = std::numeric_limits<int64_t>::min();
// A 32-bit counter that goes down from its top sixteenth wrapped; from anywhere lower
// it was reset (device reboot, battery change) and counted again from 0.
constexpr uint64_t kWrapZone = 0xF0000000ull;
constexpr uint64_t kTwoPow32 = 1ull << 32;
constexpr uint64_t kTwoPow16 = 1ull << 16;
constexpr uint64_t kWrapZone16 = kTwoPow16 - 1024;
// More than this in one step is not people walking through a door but a swapped or
// re-programmed device: counting it would put thousands of phantom visits in a report.
constexpr uint64_t kMaxCounterStep = 100000;
constexpr int64_t kDefaultSilentMs = 300'000;
constexpr int64_t kDefaultPushSilentMs = 3'600'000;
constexpr int kStateVersion = 1;

enum class OccupancySource { kNone, kOccupancySensors, kDoorCounters, kSeats, kConnectors, kEquipment };

// Connector states in which a car is at the connector (occupancy of a charging station).
bool ConnectorOccupied(const std::string& s) {
  return s == "Preparing" || s == "Charging" || s == "SuspendedEV" || s == "SuspendedEVSE" ||
         s == "Finishing";
}

// Connector states that make up a charging session; leaving them completes it.
bool SessionActive(const std::string& s) {
  return s == "Charging" || s == "SuspendedEV" || s == "SuspendedEVSE";
}

std::optional<int64_t> AsInteger(const Value& v) {
  return std::visit(
      [](const auto& x) -> std::optional<int64_t> {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, int32_t> || std::is_same_v<T, int64_t> ||
                      std::is_same_v<T, uint32_t>) {
          return int64_t(x);
        } else if constexpr (std::is_same_v<T, uint64_t>) {
          if (x > uint64_t(std::numeric_limits<int64_t>::max())) return std::nullopt;
          return int64_t(x);
        } else {
          return std::nullopt;
        }
      },
      v);
}

// Cumulative counters: any non-negative integer alternative.
std::optional<uint64_t> AsCounter(const Value& v) {
  if (const auto* u = std::get_if<uint64_t>(&v)) return *u;
  auto i = AsInteger(v);
  if (!i || *i < 0) return std::nullopt;
  return uint64_t(*i);
}

// Drivers that read a coil or a register give 0/1 rather than a bool.
std::optional<bool> AsBool(const Value& v) {
  if (const auto* b = std::get_if<bool>(&v)) return *b;
  auto i = AsInteger(v);
  if (!i) return std::nullopt;
  return *i != 0;
}

std::optional<double> AsNumber(const Value& v) {
  if (const auto* f = std::get_if<float>(&v)) return double(*f);
  if (const auto* d = std::get_if<double>(&v)) return *d;
  if (const auto* u = std::get_if<uint64_t>(&v)) return double(*u);
  auto i = AsInteger(v);
  if (!i) return std::nullopt;
  return double(*i);
}

template <typename T>
struct Latest {
  std::optional<T> value;
  int64_t ts = kNever;
  // Keeps the newest by timestamp: a late sample must not undo a newer one.
  bool Offer(T v, int64_t at) {
    if (value && at < ts) return false;
    value = std::move(v);
    ts = at;
    return true;
  }
};

struct CounterState {
  uint64_t last = 0;
  int64_t ts = kNever;
};

struct ConnectorState {
  Latest<std::string> status;
  Latest<float> power_kw;
  Latest<double> energy_kwh;
};

struct SensorState {
  // From the config.
  std::string id;
  SensorKind kind = SensorKind::kDoorCounter;
  int64_t silent_ms = kDefaultSilentMs;
  uint32_t connector_base = 0;  // facility-wide number of this charge point's connector 0

  // Running state (SaveState/LoadState).
  int64_t last_heard_ms = kNever;
  bool online = false;
  std::map<std::string, CounterState> counters;  // by point; present = has a baseline
  Latest<int64_t> occupancy;                      // occupancy sensors
  Latest<bool> flag;                              // seat occupied, equipment in_use
  uint32_t sessions_today = 0;                    // equipment
  std::vector<ConnectorState> connectors;         // charge points, sized from the config

  // Not persisted: only spares the log.
  bool reset_logged = false;

  void ResetRunning() {
    last_heard_ms = kNever;
    online = false;
    counters.clear();
    occupancy = {};
    flag = {};
    sessions_today = 0;
    for (auto& c : connectors) c = {};
  }
};

struct FacilityState {
  explicit FacilityState(TimeZone zone) : tz(std::move(zone)) {}

  // From the config.
  std::string id;
  std::string name;
  FacilityType type = FacilityType::kCanteen;
  uint32_t capacity = 0;
  TimeZone tz;
  std::vector<OpeningPeriod> opening_hours;
  OccupancySource source = OccupancySource::kNone;
  std::vector<SensorState> sensors;
  std::unordered_map<std::string, size_t> sensor_index;
  bool has_meals = false;     // reports meals/served
  bool has_checkins = false;  // reports checkins/count
  bool has_sessions = false;  // reports sessions/* and connectors/*

  // Running state (SaveState/LoadState).
  int64_t day = kNever;  // local day number the daily counts belong to
  std::optional<bool> open;
  int64_t door_occupancy = 0;
  uint64_t entries_today = 0;
  uint32_t meals_today = 0;
  uint32_t checkins_today = 0;
  uint32_t sessions_completed_today = 0;

  // Cache of [start, end) of `day` in UTC ms, so most readings need no zone lookup.
  int64_t day_start_ms = 0;
  int64_t day_end_ms = 0;

  void ResetRunning() {
    day = kNever;
    open.reset();
    door_occupancy = 0;
    entries_today = 0;
    meals_today = checkins_today = sessions_completed_today = 0;
    day_start_ms = day_end_ms = 0;
    for (auto& s : sensors) s.ResetRunning();
  }

  void SetDay(int64_t day_number, int64_t some_ms_of_day) {
    day = day_number;
    day_start_ms = tz.DayStartMs(some_ms_of_day);
    day_end_ms = tz.NextMidnightMs(some_ms_of_day);
  }

  int64_t DayOf(int64_t utc_ms) const {
    if (day != kNever && utc_ms >= day_start_ms && utc_ms < day_end_ms) return day;
    return tz.ToLocal(utc_ms).day_number;
  }

  uint32_t CurrentOccupancy() const {
    uint64_t n = 0;
    switch (source) {
      case OccupancySource::kNone:
        break;
      case OccupancySource::kOccupancySensors:
        for (const auto& s : sensors) {
          if (s.kind == SensorKind::kOccupancy && s.occupancy.value) n += uint64_t(*s.occupancy.value);
        }
        break;
      case OccupancySource::kDoorCounters:
        n = uint64_t(std::max<int64_t>(0, door_occupancy));
        break;
      case OccupancySource::kSeats:
      case OccupancySource::kEquipment: {
        SensorKind k = source == OccupancySource::kSeats ? SensorKind::kSeat : SensorKind::kEquipment;
        for (const auto& s : sensors) {
          if (s.kind == k && s.flag.value && *s.flag.value) ++n;
        }
        break;
      }
      case OccupancySource::kConnectors:
        for (const auto& s : sensors) {
          for (const auto& c : s.connectors) {
            if (c.status.value && ConnectorOccupied(*c.status.value)) ++n;
          }
        }
        break;
    }
    return uint32_t(std::min<uint64_t>(n, std::numeric_limits<uint32_t>::max()));
  }

  uint32_t ActiveSessions() const {
    uint32_t n = 0;
    for (const auto& s : sensors) {
      for (const auto& c : s.connectors) {
        if (c.status.value && SessionActive(*c.status.value)) ++n;
      }
    }
    return n;
  }

  float Ratio(uint32_t current) const { return capacity > 0 ? float(current) / float(capacity) : 0.0f; }
};

// Collects derived readings so that one call emits a metric at most once per
// (facility, metric, ts): a later write at the same key replaces the value in place.
class Emitter {
 public:
  explicit Emitter(std::vector<Reading>& out) : out_(out) {}

  void Emit(const std::string& facility_id, const std::string& point, Value value, int64_t ts) {
    std::string key;
    key.reserve(facility_id.size() + point.size() + 24);
    key.append(facility_id).push_back('\x1f');
    key.append(point).push_back('\x1f');
    key.append(std::to_string(ts));
    auto [it, inserted] = index_.try_emplace(std::move(key), out_.size());
    if (!inserted) {
      out_[it->second].value = std::move(value);
      return;
    }
    Reading r;
    r.facility_id = facility_id;
    r.point = point;
    r.value = std::move(value);
    r.ts_ms = ts;
    out_.push_back(std::move(r));
  }

 private:
  std::vector<Reading>& out_;
  std::unordered_map<std::string, size_t> index_;
};

std::string OnlinePoint(const SensorState& s) { return "sensors/" + s.id + "/online"; }
std::string ConnectorPoint(uint32_t n, const char* what) {
  return "connectors/" + std::to_string(n) + "/" + what;
}

void EmitOccupancy(const FacilityState& f, Emitter& em, int64_t ts) {
  uint32_t current = f.CurrentOccupancy();
  em.Emit(f.id, "occupancy/current", current, ts);
  em.Emit(f.id, "occupancy/ratio", f.Ratio(current), ts);
}

// Local midnight passed: the daily counts start again from 0, stamped at the midnight
// instant so that each local day's series begins at its own start.
void StartDay(FacilityState& f, int64_t utc_ms, Emitter& em) {
  LocalDateTime local = f.tz.ToLocal(utc_ms);
  f.SetDay(local.day_number, utc_ms);
  const int64_t midnight = f.day_start_ms;
  f.entries_today = 0;
  f.meals_today = f.checkins_today = f.sessions_completed_today = 0;
  em.Emit(f.id, "visits/entries", uint64_t(0), midnight);
  if (f.has_meals) em.Emit(f.id, "meals/served", uint32_t(0), midnight);
  if (f.has_checkins) em.Emit(f.id, "checkins/count", uint32_t(0), midnight);
  if (f.has_sessions) em.Emit(f.id, "sessions/completed", uint32_t(0), midnight);
  for (auto& s : f.sensors) {
    if (s.kind != SensorKind::kEquipment) continue;
    s.sessions_today = 0;
    em.Emit(f.id, "equipment/" + s.id + "/sessions", uint32_t(0), midnight);
  }
  // People counters drift (a missed exit stays forever); an empty building at midnight
  // is the moment to start again from a known 0.
  if (f.source == OccupancySource::kDoorCounters && !IsOpenAt(f.opening_hours, f.tz.ToLocal(midnight))) {
    f.door_occupancy = 0;
    EmitOccupancy(f, em, midnight);
  }
}

// Brings the facility's day up to the local day of utc_ms (never backwards).
void AdvanceDay(FacilityState& f, int64_t utc_ms, Emitter& em) {
  if (f.day == kNever) {
    f.SetDay(f.tz.ToLocal(utc_ms).day_number, utc_ms);
    return;
  }
  if (utc_ms < f.day_end_ms) return;
  if (f.DayOf(utc_ms) > f.day) StartDay(f, utc_ms, em);
}

int64_t SilentMs(const Config& config, const SensorConfig& sc) {
  if (sc.silent_after_s > 0) return int64_t(sc.silent_after_s * 1000.0);
  // A simulator sampling less often than the default bound would flap offline between
  // samples; give it three intervals.
  if (sc.driver == "simulator" && config.simulator.interval_s > 0) {
    return std::max<int64_t>(kDefaultSilentMs, int64_t(config.simulator.interval_s * 3000.0));
  }
  // Pushed readings (a zigbee seat sensor, a meal terminal) come when something changes
  // and from periodic reports, often an hour apart: five quiet minutes say nothing.
  if (sc.driver == "mqtt" || sc.driver == "http") return kDefaultPushSilentMs;
  if (sc.driver == "modbus") {
    int64_t ms = kDefaultSilentMs;
    for (const auto& d : config.drivers.modbus.devices) {
      for (const auto& r : d.registers) {
        if ((r.sensor.empty() ? d.sensor : r.sensor) == sc.id) ms = std::max<int64_t>(ms, 3 * int64_t(d.poll_interval_ms));
      }
    }
    return ms;
  }
  return kDefaultSilentMs;
}

}  // namespace

struct FacilityModel::Impl {
  std::vector<FacilityState> facilities;
  std::unordered_map<std::string, size_t> facility_index;
  // Latest gateway time seen (Tick, EmitAll); not persisted.
  int64_t latest_now_ms = kNever;

  FacilityState* Find(const std::string& id) {
    auto it = facility_index.find(id);
    return it == facility_index.end() ? nullptr : &facilities[it->second];
  }
  const FacilityState* Find(const std::string& id) const {
    auto it = facility_index.find(id);
    return it == facility_index.end() ? nullptr : &facilities[it->second];
  }

  void ProcessOne(FacilityState& f, SensorState& s, const Reading& r, Emitter& em);
  // Returns the increment, or nullopt when the sample is older than the last one.
  std::optional<uint64_t> CountStep(const FacilityState& f, SensorState& s, const Reading& r,
                                    uint64_t value);
};

std::optional<uint64_t> FacilityModel::Impl::CountStep(const FacilityState& f, SensorState& s,
                                                       const Reading& r, uint64_t value) {
  auto [it, first] = s.counters.try_emplace(r.point);
  CounterState& c = it->second;
  if (first) {
    // Nothing is known of what the device counted before we first heard it.
    c.last = value;
    c.ts = r.ts_ms;
    return 0;
  }
  if (r.ts_ms < c.ts) {
    spdlog::debug("facility {}: {}/{} sample at {} is older than the last one; not counted", f.id,
                  s.id, r.point, r.ts_ms);
    return std::nullopt;
  }
  uint64_t delta = 0;
  if (value >= c.last) {
    delta = value - c.last;
  } else if (c.last >= kWrapZone && c.last < kTwoPow32 && value < kTwoPow32) {
    delta = kTwoPow32 - c.last + value;
  } else if (c.last >= kWrapZone16 && c.last < kTwoPow16 && value < kTwoPow16 - kWrapZone16) {
    // A 16-bit register counter (Modbus) wraps often. The zone is narrow, since such a
    // counter is polled every few seconds: a reset near the top is rarely mistaken for it.
    delta = kTwoPow16 - c.last + value;
  } else {
    delta = value;
    if (!s.reset_logged) {
      spdlog::info("facility {}: counter {}/{} went back from {} to {}: device reset, counting "
                   "from 0 (further resets of this sensor are logged at debug)",
                   f.id, s.id, r.point, c.last, value);
      s.reset_logged = true;
    } else {
      spdlog::debug("facility {}: counter {}/{} reset ({} -> {})", f.id, s.id, r.point, c.last, value);
    }
  }
  if (delta > kMaxCounterStep) {
    spdlog::warn("facility {}: counter {}/{} jumped by {} in one step ({} -> {}); not counted, "
                 "new baseline",
                 f.id, s.id, r.point, delta, c.last, value);
    delta = 0;
  }
  c.last = value;
  c.ts = r.ts_ms;
  return delta;
}

void FacilityModel::Impl::ProcessOne(FacilityState& f, SensorState& s, const Reading& r, Emitter& em) {
  const int64_t ts = r.ts_ms;
  if (r.point == "online") {
    // A driver's own verdict (a Modbus device that stopped answering): it is stored as
    // the raw metric sensors/{id}/online, so the model only follows it, emitting nothing.
    auto v = AsBool(r.value);
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
  // A device whose clock runs a day or more ahead must not start tomorrow for the
  // whole facility (and freeze today's counts until the real tomorrow).
  if (latest_now_ms == kNever || ts <= latest_now_ms + 86'400'000) {
    AdvanceDay(f, ts, em);
  } else {
    spdlog::debug("facility {}: {}/{} is stamped {} ms ahead of the gateway clock; not counted "
                  "in a day",
                  f.id, s.id, r.point, ts - latest_now_ms);
  }
  // A late sample from a local day already closed still moves occupancy and state, but
  // that day's counts were reported: it is not added to today's.
  const bool today = f.DayOf(ts) == f.day;
  auto wrong_type = [&] {
    spdlog::debug("facility {}: {}/{} has a value of type {} that does not fit; ignored", f.id,
                  s.id, r.point, DataTypeName(DataTypeOf(r.value)));
  };

  switch (s.kind) {
    case SensorKind::kDoorCounter: {
      const bool entries = r.point == "entries_total";
      if (!entries && r.point != "exits_total") return;
      auto v = AsCounter(r.value);
      if (!v) return wrong_type();
      auto delta = CountStep(f, s, r, *v);
      if (!delta) return;
      if (entries) {
        f.door_occupancy += int64_t(*delta);
        if (today) f.entries_today += *delta;
      } else {
        f.door_occupancy = std::max<int64_t>(0, f.door_occupancy - int64_t(*delta));
      }
      if (f.source == OccupancySource::kDoorCounters) EmitOccupancy(f, em, ts);
      if (today) em.Emit(f.id, "visits/entries", f.entries_today, ts);
      return;
    }
    case SensorKind::kOccupancy: {
      if (r.point != "occupancy") return;
      auto v = AsInteger(r.value);
      if (!v || *v < 0) return wrong_type();
      if (!s.occupancy.Offer(*v, ts)) return;
      if (f.source == OccupancySource::kOccupancySensors) EmitOccupancy(f, em, ts);
      return;
    }
    case SensorKind::kSeat: {
      if (r.point != "occupied") return;
      auto v = AsBool(r.value);
      if (!v) return wrong_type();
      if (!s.flag.Offer(*v, ts)) return;
      if (f.source == OccupancySource::kSeats) EmitOccupancy(f, em, ts);
      return;
    }
    case SensorKind::kMealTerminal:
    case SensorKind::kCheckinTerminal: {
      const bool meals = s.kind == SensorKind::kMealTerminal;
      if (r.point != (meals ? "meals_total" : "checkins_total")) return;
      auto v = AsCounter(r.value);
      if (!v) return wrong_type();
      auto delta = CountStep(f, s, r, *v);
      if (!delta || !today) return;
      uint32_t& count = meals ? f.meals_today : f.checkins_today;
      count = uint32_t(std::min<uint64_t>(uint64_t(count) + *delta, std::numeric_limits<uint32_t>::max()));
      em.Emit(f.id, meals ? "meals/served" : "checkins/count", count, ts);
      return;
    }
    case SensorKind::kChargePoint: {
      // connector/{n}/{status|power_kw|energy_kwh}
      static const std::string kPrefix = "connector/";
      if (r.point.compare(0, kPrefix.size(), kPrefix) != 0) return;
      size_t slash = r.point.find('/', kPrefix.size());
      if (slash == std::string::npos || slash == kPrefix.size()) return;
      uint32_t n = 0;
      for (size_t i = kPrefix.size(); i < slash; ++i) {
        char c = r.point[i];
        if (c < '0' || c > '9' || n > 100000) return;
        n = n * 10 + uint32_t(c - '0');
      }
      if (n < 1 || n > s.connectors.size()) {
        spdlog::debug("facility {}: {} has no connector {} in the config; {} ignored", f.id, s.id, n,
                      r.point);
        return;
      }
      ConnectorState& c = s.connectors[n - 1];
      const uint32_t global = s.connector_base + n;
      const std::string field = r.point.substr(slash + 1);
      if (field == "status") {
        const auto* v = std::get_if<std::string>(&r.value);
        if (!v) return wrong_type();
        const bool was_active = c.status.value && SessionActive(*c.status.value);
        if (!c.status.Offer(*v, ts)) return;
        if (was_active && !SessionActive(*v) && today) ++f.sessions_completed_today;
        em.Emit(f.id, ConnectorPoint(global, "status"), *v, ts);
        em.Emit(f.id, "sessions/active", f.ActiveSessions(), ts);
        if (today) em.Emit(f.id, "sessions/completed", f.sessions_completed_today, ts);
        if (f.source == OccupancySource::kConnectors) EmitOccupancy(f, em, ts);
      } else if (field == "power_kw") {
        auto v = AsNumber(r.value);
        if (!v) return wrong_type();
        if (!c.power_kw.Offer(float(*v), ts)) return;
        em.Emit(f.id, ConnectorPoint(global, "power_kw"), float(*v), ts);
      } else if (field == "energy_kwh") {
        auto v = AsNumber(r.value);
        if (!v) return wrong_type();
        if (!c.energy_kwh.Offer(*v, ts)) return;
        em.Emit(f.id, ConnectorPoint(global, "energy_kwh"), *v, ts);
      }
      return;
    }
    case SensorKind::kEquipment: {
      if (r.point != "in_use") return;
      auto v = AsBool(r.value);
      if (!v) return wrong_type();
      const bool was_in_use = s.flag.value && *s.flag.value;
      if (!s.flag.Offer(*v, ts)) return;
      // A first sample that says "in use" is a session we had not seen start.
      if (*v && !was_in_use && today) ++s.sessions_today;
      em.Emit(f.id, "equipment/" + s.id + "/in_use", *v, ts);
      if (today) em.Emit(f.id, "equipment/" + s.id + "/sessions", s.sessions_today, ts);
      if (f.source == OccupancySource::kEquipment) EmitOccupancy(f, em, ts);
      return;
    }
  }
}

FacilityModel::FacilityModel() : impl_(std::make_unique<Impl>()) {}
FacilityModel::~FacilityModel() = default;

Result<std::unique_ptr<FacilityModel>> FacilityModel::Create(const Config& config) {
  std::unique_ptr<FacilityModel> model(new FacilityModel());
  Impl& impl = *model->impl_;
  impl.facilities.reserve(config.facilities.size());
  for (const auto& fc : config.facilities) {
    if (impl.facility_index.count(fc.id)) {
      return Status::InvalidArgument("facility '" + fc.id + "' is configured twice");
    }
    const std::string& zone = fc.timezone.empty() ? config.timezone : fc.timezone;
    auto tz = TimeZone::Load(zone);
    if (!tz.ok()) return Status::InvalidArgument("facility '" + fc.id + "': " + tz.status().message());
    FacilityState f(tz.value());
    f.id = fc.id;
    f.name = fc.name;
    f.type = fc.type;
    f.opening_hours = fc.opening_hours;
    bool any_occupancy = false, any_door = false, any_seat = false, any_cp = false, any_equipment = false;
    uint32_t seats = 0, connectors = 0, equipment = 0;
    for (const auto& sc : fc.sensors) {
      if (f.sensor_index.count(sc.id)) {
        return Status::InvalidArgument("facility '" + fc.id + "': sensor '" + sc.id + "' is configured twice");
      }
      SensorState s;
      s.id = sc.id;
      s.kind = sc.kind;
      s.silent_ms = SilentMs(config, sc);
      switch (sc.kind) {
        case SensorKind::kOccupancy: any_occupancy = true; break;
        case SensorKind::kDoorCounter: any_door = true; break;
        case SensorKind::kSeat: any_seat = true; ++seats; break;
        case SensorKind::kMealTerminal: f.has_meals = true; break;
        case SensorKind::kCheckinTerminal: f.has_checkins = true; break;
        case SensorKind::kChargePoint:
          any_cp = true;
          s.connector_base = connectors;
          s.connectors.resize(sc.connectors);
          connectors += sc.connectors;
          break;
        case SensorKind::kEquipment: any_equipment = true; ++equipment; break;
      }
      f.sensor_index.emplace(s.id, f.sensors.size());
      f.sensors.push_back(std::move(s));
    }
    if (fc.type == FacilityType::kCanteen) f.has_meals = true;
    if (fc.type == FacilityType::kElderlyStation) f.has_checkins = true;
    f.has_sessions = fc.type == FacilityType::kChargingStation || any_cp;

    if (any_occupancy) {
      f.source = OccupancySource::kOccupancySensors;
    } else if (any_door) {
      f.source = OccupancySource::kDoorCounters;
    } else if (any_seat) {
      f.source = OccupancySource::kSeats;
    } else if (fc.type == FacilityType::kChargingStation && any_cp) {
      f.source = OccupancySource::kConnectors;
    } else if (fc.type == FacilityType::kFitnessPoint && any_equipment) {
      f.source = OccupancySource::kEquipment;
    }
    // Without a configured capacity, what is counted one by one is its own capacity.
    f.capacity = fc.capacity;
    if (f.capacity == 0) {
      if (f.source == OccupancySource::kSeats) f.capacity = seats;
      if (f.source == OccupancySource::kConnectors) f.capacity = connectors;
      if (f.source == OccupancySource::kEquipment) f.capacity = equipment;
    }
    impl.facility_index.emplace(f.id, impl.facilities.size());
    impl.facilities.push_back(std::move(f));
  }
  return model;
}

void FacilityModel::Process(const std::vector<Reading>& raw, std::vector<Reading>& out) {
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
    impl_->ProcessOne(*f, f->sensors[it->second], r, em);
  }
}

void FacilityModel::Tick(int64_t now_ms, std::vector<Reading>& out) {
  impl_->latest_now_ms = std::max(impl_->latest_now_ms, now_ms);
  Emitter em(out);
  for (auto& f : impl_->facilities) {
    AdvanceDay(f, now_ms, em);
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
  for (auto& f : impl_->facilities) {
    AdvanceDay(f, now_ms, em);
    f.open = IsOpenAt(f.opening_hours, f.tz.ToLocal(now_ms));
    const std::string& id = f.id;
    EmitOccupancy(f, em, now_ms);
    em.Emit(id, "occupancy/capacity", f.capacity, now_ms);
    em.Emit(id, "visits/entries", f.entries_today, now_ms);
    em.Emit(id, "status/open", *f.open, now_ms);
    if (f.has_meals) em.Emit(id, "meals/served", f.meals_today, now_ms);
    if (f.has_checkins) em.Emit(id, "checkins/count", f.checkins_today, now_ms);
    if (f.has_sessions) {
      em.Emit(id, "sessions/active", f.ActiveSessions(), now_ms);
      em.Emit(id, "sessions/completed", f.sessions_completed_today, now_ms);
    }
    for (const auto& s : f.sensors) {
      em.Emit(id, OnlinePoint(s), s.online, now_ms);
      if (s.kind == SensorKind::kEquipment) {
        em.Emit(id, "equipment/" + s.id + "/in_use", s.flag.value.value_or(false), now_ms);
        em.Emit(id, "equipment/" + s.id + "/sessions", s.sessions_today, now_ms);
      }
      for (size_t n = 0; n < s.connectors.size(); ++n) {
        const ConnectorState& c = s.connectors[n];
        const uint32_t global = s.connector_base + uint32_t(n) + 1;
        // Before a charge point has said anything its connector is not available to
        // anyone; an energy register is left out until read, since a made-up 0 would
        // turn the first real value into a huge delivery.
        em.Emit(id, ConnectorPoint(global, "status"), c.status.value.value_or("Unavailable"), now_ms);
        em.Emit(id, ConnectorPoint(global, "power_kw"), c.power_kw.value.value_or(0.0f), now_ms);
        if (c.energy_kwh.value) em.Emit(id, ConnectorPoint(global, "energy_kwh"), *c.energy_kwh.value, now_ms);
      }
    }
  }
}

bool FacilityModel::KnowsSensor(const std::string& facility_id, const std::string& sensor_id) const {
  const FacilityState* f = impl_->Find(facility_id);
  return f && f->sensor_index.count(sensor_id) > 0;
}

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

std::string FacilityModel::SaveState() const {
  Json root;
  root["version"] = kStateVersion;
  Json& facilities = root["facilities"] = Json::object();
  for (const auto& f : impl_->facilities) {
    Json jf;
    jf["day"] = TsOrNull(f.day);
    jf["open"] = f.open ? Json(*f.open) : Json(nullptr);
    jf["door_occupancy"] = f.door_occupancy;
    jf["entries_today"] = f.entries_today;
    jf["meals_today"] = f.meals_today;
    jf["checkins_today"] = f.checkins_today;
    jf["sessions_completed_today"] = f.sessions_completed_today;
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
      if (s.kind == SensorKind::kEquipment) js["sessions_today"] = s.sessions_today;
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
    facilities[f.id] = std::move(jf);
  }
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
    if (version != kStateVersion) {
      return Status::InvalidArgument("facility state: version " + std::to_string(version) +
                                     ", expected " + std::to_string(kStateVersion));
    }
    const Json& facilities = root.at("facilities");
    if (!facilities.is_object()) return Status::Corruption("facility state: 'facilities' is not an object");
    for (auto& f : next) f.ResetRunning();
    for (auto& f : next) {
      auto jf_it = facilities.find(f.id);
      if (jf_it == facilities.end()) continue;  // a facility added since: starts fresh
      const Json& jf = *jf_it;
      if (!jf.is_object()) return Status::Corruption("facility state: '" + f.id + "' is not an object");
      int64_t day = TsFrom(jf, "day");
      if (day != kNever) {
        date::year_month_day ymd{date::sys_days{date::days{day}}};
        f.SetDay(day, f.tz.FromLocal(int(ymd.year()), int(unsigned(ymd.month())),
                                     int(unsigned(ymd.day())), 0));
      }
      auto open_it = jf.find("open");
      if (open_it != jf.end() && !open_it->is_null()) f.open = open_it->get<bool>();
      Get(jf, "door_occupancy", f.door_occupancy);
      Get(jf, "entries_today", f.entries_today);
      Get(jf, "meals_today", f.meals_today);
      Get(jf, "checkins_today", f.checkins_today);
      Get(jf, "sessions_completed_today", f.sessions_completed_today);
      auto sensors_it = jf.find("sensors");
      if (sensors_it == jf.end() || !sensors_it->is_object()) continue;
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
        Get(js, "sessions_today", s.sessions_today);
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
    s.occupancy = f.CurrentOccupancy();
    s.open = f.open.value_or(false);
    s.entries_today = f.entries_today;
    s.sensors_total = uint32_t(f.sensors.size());
    s.meals_today = f.meals_today;
    s.checkins_today = f.checkins_today;
    for (const auto& sensor : f.sensors) {
      s.sensors_online += sensor.online ? 1 : 0;
      s.sensors.push_back({sensor.id, sensor.kind, sensor.online,
                           sensor.last_heard_ms == kNever ? int64_t{-1} : sensor.last_heard_ms});
      for (size_t n = 0; n < sensor.connectors.size(); ++n) {
        const ConnectorState& c = sensor.connectors[n];
        s.connectors.push_back({sensor.connector_base + uint32_t(n) + 1, sensor.id,
                                c.status.value.value_or("Unavailable"), double(c.power_kw.value.value_or(0.0f))});
      }
      if (sensor.kind == SensorKind::kEquipment) {
        s.equipment.push_back({sensor.id, sensor.flag.value.value_or(false), sensor.sessions_today});
      }
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace gateway
