// History (see the header). Past 500 lines because the fold of a batch into hourly rows,
// its running state, the daily reports' watermark and revisions, and the reading back
// for the report share one in-memory Impl and one transaction with the Outbox; charging
// sessions are already apart (charging_sessions.cc).
#include "store/history.h"

#include <date/date.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>
#include <unordered_map>

#include "gateway/opening_hours.h"
#include "store/charging_sessions.h"

namespace gateway::store {

namespace {

using Json = nlohmann::json;

constexpr int64_t kNever = std::numeric_limits<int64_t>::min();
constexpr int64_t kMinuteMs = 60'000;
constexpr int64_t kDayMs = 86'400'000;
constexpr int64_t kDefaultSilentMs = 300'000;
constexpr int64_t kDefaultPushSilentMs = 3'600'000;
// A battery call button sleeps until pressed and checks in rarely: zigbee2mqtt itself
// calls such a device offline only after 25 h without a message.
constexpr int64_t kDefaultPushCallButtonSilentMs = 25 * 3'600'000LL;
// Readings stamped this far ahead of the gateway clock are kept out of the history.
constexpr int64_t kFutureSlackMs = 300'000;
// A tick catches up at most this many days per facility, so it stays short.
constexpr int kMaxReportsPerCall = 7;
constexpr int kStateVersion = 2;  // 2: counts and revisions per local day

// Occupied connector states: a car is at the connector, a session is in progress.
bool Occupied(const std::string& s) {
  return s == "Preparing" || s == "Charging" || s == "SuspendedEV" || s == "SuspendedEVSE" ||
         s == "Finishing";
}
bool Charging(const std::string& s) { return s == "Charging" || s == "SuspendedEV" || s == "SuspendedEVSE"; }
bool Available(const std::string& s) { return s != "Faulted" && s != "Unavailable"; }

std::optional<int64_t> AsInt(const Value& v) {
  switch (v.index()) {
    case 0: return std::get<bool>(v) ? 1 : 0;
    case 1: return std::get<int32_t>(v);
    case 2: return std::get<int64_t>(v);
    case 3: return std::get<uint32_t>(v);
    case 4: return int64_t(std::min<uint64_t>(std::get<uint64_t>(v), uint64_t(std::numeric_limits<int64_t>::max())));
    default: return std::nullopt;
  }
}

std::optional<double> AsDouble(const Value& v) {
  if (const auto* f = std::get_if<float>(&v)) return double(*f);
  if (const auto* d = std::get_if<double>(&v)) return *d;
  auto i = AsInt(v);
  if (!i) return std::nullopt;
  return double(*i);
}

using Key = std::tuple<std::string, std::string, int64_t, int>;

bool EndsWith(const std::string& s, const char* tail) {
  const size_t n = std::char_traits<char>::length(tail);
  return s.size() >= n && s.compare(s.size() - n, n, tail) == 0;
}

// feedback/{button}/responses -> the button's name ("" for anything else).
std::string FeedbackButtonOf(const std::string& p) {
  constexpr size_t kHead = 9, kTail = 10;  // "feedback/", "/responses"
  if (p.size() <= kHead + kTail || p.rfind("feedback/", 0) != 0 || !EndsWith(p, "/responses")) return "";
  std::string name = p.substr(kHead, p.size() - kHead - kTail);
  return name.find('/') == std::string::npos ? name : "";
}

// The rows the history reads. Others (status/open, sensors/*/online, occupancy/ratio,
// ...) are left alone and, being stamped with the gateway clock rather than a
// reading's time, must not move a facility's time either.
bool Relevant(const Reading& r) {
  if (!r.sensor_id.empty()) return true;
  const std::string& p = r.point;
  return p == "occupancy/current" || p == "visits/entries" || p == "meals/served" || p == "checkins/count" ||
         (p.rfind("connectors/", 0) == 0 && (EndsWith(p, "/status") || EndsWith(p, "/energy_kwh"))) ||
         (p.rfind("equipment/", 0) == 0 && EndsWith(p, "/in_use")) || !FeedbackButtonOf(p).empty();
}

struct SensorH {
  std::string id;
  SensorKind kind = SensorKind::kDoorCounter;
  int64_t silent_ms = kDefaultSilentMs;
  // Running state.
  int64_t last_heard = kNever;
  bool in_use = false;
  bool in_use_known = false;
  // Scratch for one piece.
  bool reporting = false;
};

struct ConnectorH {
  size_t sensor = 0;
  std::string status;
  bool known = false;
  int64_t session_start = kNever;
  int64_t start_day = 0;
  int start_hour = 0;
  std::optional<double> energy;
};


struct FacilityH {
  explicit FacilityH(TimeZone zone) : tz(std::move(zone)) {}
  std::string id;
  TimeZone tz;
  std::vector<OpeningPeriod> hours;
  uint32_t capacity = 0;
  std::vector<SensorH> sensors;
  std::unordered_map<std::string, size_t> sensor_index;
  std::vector<ConnectorH> connectors;  // facility-wide connector n at [n - 1]

  // Running state.
  int64_t w = kNever;  // watermark
  std::optional<int64_t> occ;
  int64_t reported_through = kNever;
  // The facility model's since-midnight counts, as last seen, per metric and local day
  // (days within history.late_days): a count is differenced within its own day.
  std::map<std::string, std::map<int64_t, int64_t>> counters;
  // Reported days that late readings changed: day -> gateway time of the last change.
  // Their report is made again (revision + 1) once they have been quiet for the delay.
  std::map<int64_t, int64_t> revise;
  std::map<int64_t, int> revision;  // day -> revision of its last report (0: the first)

  // Caches.
  int64_t max_heard = kNever;  // newest sensor reading (the max of last_heard)
  int64_t local_minute = kNever;  // UTC minute (ms / 60000) of `local`
  LocalDateTime local;
  bool local_open = false;
  uint64_t rows_gen = 0;
  int64_t rows_day = kNever;
  int rows_hour = -1;
  std::vector<HourRow*> rows;  // [0] facility, [1 + i] sensor i

  const LocalDateTime& LocalAt(int64_t utc_ms) {
    int64_t minute = utc_ms >= 0 ? utc_ms / kMinuteMs : -((-utc_ms + kMinuteMs - 1) / kMinuteMs);
    if (minute != local_minute) {
      local_minute = minute;
      local = tz.ToLocal(minute * kMinuteMs);
      local_open = IsOpenAt(hours, local);
    }
    return local;
  }
};

int64_t FloorMinute(int64_t t) {
  int64_t m = t >= 0 ? t / kMinuteMs : -((-t + kMinuteMs - 1) / kMinuteMs);
  return m * kMinuteMs;
}

// Column order shared by the upsert and the select.
constexpr const char* kColumns =
    "open_ms, complete_ms, occ_ms, crowded_ms, full_ms, peak, peak_ts, entries, meals, checkins, "
    "sessions, sessions_ended, session_ms, energy_kwh, connector_ms, charging_ms, available_ms, "
    "reported_ms, in_use_ms, readings, late_readings";

void BindRow(Statement& st, const HourRow& r) {
  int i = 1;
  st.BindText(i++, r.facility);
  st.BindText(i++, r.sensor);
  st.BindInt(i++, r.day);
  st.BindInt(i++, r.hour);
  for (int64_t v : {r.open_ms, r.complete_ms, r.occ_ms, r.crowded_ms, r.full_ms, r.peak, r.peak_ts,
                    r.entries, r.meals, r.checkins, r.sessions, r.sessions_ended, r.session_ms}) {
    st.BindInt(i++, v);
  }
  st.BindDouble(i++, r.energy_kwh);
  for (int64_t v : {r.connector_ms, r.charging_ms, r.available_ms, r.reported_ms, r.in_use_ms, r.readings,
                    r.late_readings}) {
    st.BindInt(i++, v);
  }
}

HourRow ColumnRow(const Statement& st) {
  HourRow r;
  int i = 0;
  r.facility = st.Text(i++);
  r.sensor = st.Text(i++);
  r.day = st.Int(i++);
  r.hour = int(st.Int(i++));
  for (int64_t* p : {&r.open_ms, &r.complete_ms, &r.occ_ms, &r.crowded_ms, &r.full_ms, &r.peak, &r.peak_ts,
                     &r.entries, &r.meals, &r.checkins, &r.sessions, &r.sessions_ended, &r.session_ms}) {
    *p = st.Int(i++);
  }
  r.energy_kwh = st.Double(i++);
  for (int64_t* p : {&r.connector_ms, &r.charging_ms, &r.available_ms, &r.reported_ms, &r.in_use_ms, &r.readings,
                     &r.late_readings}) {
    *p = st.Int(i++);
  }
  return r;
}

// The feedback presses of the pending facility rows, summed into feedback_hour.
Status WriteFeedback(SqliteDb& db, const std::map<Key, HourRow>& pending) {
  std::optional<Statement> st;
  for (const auto& [key, row] : pending) {
    for (const auto& [button, n] : row.feedback) {
      if (!st) {
        auto prepared = db.Prepare(
            "INSERT INTO feedback_hour(facility, day, hour, button, responses) VALUES(?,?,?,?,?) "
            "ON CONFLICT(facility, day, hour, button) DO UPDATE SET responses = responses + excluded.responses");
        if (!prepared.ok()) return prepared.status();
        st.emplace(std::move(prepared.value()));
      }
      st->BindText(1, row.facility);
      st->BindInt(2, row.day);
      st->BindInt(3, row.hour);
      st->BindText(4, button);
      st->BindInt(5, n);
      Status s = st->Run();
      st->Reset();
      if (!s.ok()) return s;
    }
  }
  return Status::Ok();
}

Json TsOrNull(int64_t ts) { return ts == kNever ? Json(nullptr) : Json(ts); }
int64_t TsFrom(const Json& j, const char* key) {
  auto it = j.find(key);
  return it == j.end() || it->is_null() ? kNever : it->get<int64_t>();
}

}  // namespace

void HourRow::Merge(const HourRow& o) {
  open_ms += o.open_ms;
  complete_ms += o.complete_ms;
  occ_ms += o.occ_ms;
  crowded_ms += o.crowded_ms;
  full_ms += o.full_ms;
  if (o.peak > peak || (o.peak == peak && o.peak >= 0 && o.peak_ts < peak_ts)) {
    peak = o.peak;
    peak_ts = o.peak_ts;
  }
  entries += o.entries;
  meals += o.meals;
  checkins += o.checkins;
  sessions += o.sessions;
  sessions_ended += o.sessions_ended;
  session_ms += o.session_ms;
  energy_kwh += o.energy_kwh;
  connector_ms += o.connector_ms;
  charging_ms += o.charging_ms;
  available_ms += o.available_ms;
  reported_ms += o.reported_ms;
  in_use_ms += o.in_use_ms;
  readings += o.readings;
  late_readings += o.late_readings;
  for (const auto& [button, n] : o.feedback) feedback[button] += n;
}

int64_t SensorSilentMs(const Config& config, const SensorConfig& sc) {
  if (sc.silent_after_s > 0) return int64_t(sc.silent_after_s * 1000.0);
  // A simulator sampling less often than the default bound would flap offline between
  // samples; give it three intervals.
  if (sc.driver == "simulator" && config.simulator.interval_s > 0) {
    return std::max<int64_t>(kDefaultSilentMs, int64_t(config.simulator.interval_s * 3000.0));
  }
  // Pushed readings (a zigbee seat sensor, a meal terminal) come when something changes
  // and from periodic reports, often an hour apart: five quiet minutes say nothing.
  if (sc.driver == "mqtt" || sc.driver == "http") {
    return sc.kind == SensorKind::kCallButton ? kDefaultPushCallButtonSilentMs : kDefaultPushSilentMs;
  }
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

struct History::Impl {
  std::vector<FacilityH> facilities;
  std::unordered_map<std::string, size_t> index;
  int retention_days = 365;
  int late_days = 7;
  std::map<std::string, uint64_t> late_total;  // late readings since start, per facility
  std::map<Key, HourRow> pending;
  std::vector<ChargingSession> pending_sessions;  // finished OCPP transactions of the batch
  uint64_t gen = 1;  // bumped whenever `pending` is cleared (row pointers die)
  std::string committed_state;
  std::string written_state;
  int64_t purged_below = kNever;
  int64_t written_purge = kNever;

  FacilityH* Find(const std::string& id) {
    auto it = index.find(id);
    return it == index.end() ? nullptr : &facilities[it->second];
  }

  HourRow& Row(const FacilityH& f, const std::string& sensor, int64_t day, int hour) {
    auto [it, inserted] = pending.try_emplace(Key{f.id, sensor, day, hour});
    if (inserted) {
      it->second.facility = f.id;
      it->second.sensor = sensor;
      it->second.day = day;
      it->second.hour = hour;
    }
    return it->second;
  }

  // The facility row and sensor rows of the local hour containing t.
  std::vector<HourRow*>& RowsAt(FacilityH& f, int64_t t) {
    const LocalDateTime& l = f.LocalAt(t);
    int hour = l.minute_of_day / 60;
    if (f.rows_gen != gen || f.rows_day != l.day_number || f.rows_hour != hour) {
      f.rows.clear();
      f.rows.push_back(&Row(f, "", l.day_number, hour));
      for (const auto& s : f.sensors) f.rows.push_back(&Row(f, s.id, l.day_number, hour));
      f.rows_gen = gen;
      f.rows_day = l.day_number;
      f.rows_hour = hour;
    }
    return f.rows;
  }

  void Advance(FacilityH& f, int64_t to) {
    if (f.w == kNever || to <= f.w) return;
    // A gap longer than the retention (a gateway off for a year, a device clock that
    // jumped) is not walked minute by minute: what lies beyond the retention would be
    // deleted anyway.
    const int64_t keep_from = to - int64_t(retention_days) * kDayMs;
    if (f.w < keep_from) f.w = f.tz.DayStartMs(keep_from);
    int64_t a = f.w;
    while (a < to) {
      int64_t b = std::min(to, FloorMinute(a) + kMinuteMs);
      // Complete: the occupancy is known (the facility model states it at start-up) and
      // every sensor that measures reports. A call button measures nothing of the
      // figures (its calls are the alarm table's, never missing for want of a press),
      // so a silent one leaves the day complete; its own reporting time still counts.
      bool complete = !f.sensors.empty() && f.occ.has_value();
      for (auto& s : f.sensors) {
        s.reporting = s.last_heard != kNever && s.last_heard <= a && a < s.last_heard + s.silent_ms;
        if (s.reporting) {
          b = std::min(b, s.last_heard + s.silent_ms);
        } else if (s.kind != SensorKind::kCallButton) {
          complete = false;
        }
      }
      const int64_t len = b - a;
      std::vector<HourRow*>& rows = RowsAt(f, a);
      const bool open = f.local_open;
      HourRow& fr = *rows[0];
      if (open) {
        fr.open_ms += len;
        if (complete) {
          fr.complete_ms += len;
          if (f.occ) {
            fr.occ_ms += *f.occ * len;
            if (f.capacity > 0 && *f.occ * 10 >= int64_t(f.capacity) * 9) fr.crowded_ms += len;
            if (f.capacity > 0 && *f.occ >= int64_t(f.capacity)) fr.full_ms += len;
          }
        }
        if (f.occ && *f.occ > fr.peak) {
          fr.peak = *f.occ;
          fr.peak_ts = a;
        }
      }
      for (const auto& c : f.connectors) {
        if (!c.known || !f.sensors[c.sensor].reporting) continue;
        fr.connector_ms += len;
        if (Charging(c.status)) fr.charging_ms += len;
        if (Available(c.status)) fr.available_ms += len;
      }
      for (size_t i = 0; i < f.sensors.size(); ++i) {
        const SensorH& s = f.sensors[i];
        if (!s.reporting) continue;
        HourRow& sr = *rows[i + 1];
        sr.reported_ms += len;
        if (s.kind == SensorKind::kEquipment && s.in_use_known && s.in_use) sr.in_use_ms += len;
      }
      a = b;
    }
    f.w = to;
  }

  // A since-midnight count of the facility model, differenced within its own local
  // day; the increase goes to the hour of the reading that made it (a late reading's
  // too). A lower value is an older one arriving late: nothing new.
  int64_t Counter(FacilityH& f, const std::string& name, int64_t value, int64_t ts, int64_t HourRow::*field) {
    int64_t& last = f.counters[name][f.tz.ToLocal(ts).day_number];
    const int64_t delta = value - last;
    if (delta <= 0) return 0;
    last = value;
    if (field) RowsAt(f, ts)[0]->*field += delta;
    return delta;
  }

  // record = false: before the facility's first sensor reading, derived rows (the
  // model's start-up values) only set the running state; nothing is summed, so no
  // day appears in the history before the first real reading.
  void IngestOne(FacilityH& f, const Reading& r, int64_t t, bool record) {
    if (!r.sensor_id.empty()) {
      auto it = f.sensor_index.find(r.sensor_id);
      if (it == f.sensor_index.end()) return;
      SensorH& s = f.sensors[it->second];
      if (s.last_heard == kNever || r.ts_ms > s.last_heard) s.last_heard = r.ts_ms;
      f.max_heard = std::max(f.max_heard, s.last_heard);
      RowsAt(f, r.ts_ms)[1 + it->second]->readings += 1;
      return;
    }
    const std::string& p = r.point;
    if (p == "occupancy/current") {
      auto v = AsInt(r.value);
      if (!v) return;
      f.occ = std::max<int64_t>(0, *v);
      if (!record) return;
      HourRow& fr = *RowsAt(f, t)[0];
      if (f.local_open && *f.occ > fr.peak) {
        fr.peak = *f.occ;
        fr.peak_ts = t;
      }
    } else if (p == "visits/entries" || p == "meals/served" || p == "checkins/count") {
      auto v = AsInt(r.value);
      if (!v) return;
      int64_t HourRow::*field = p == "visits/entries" ? &HourRow::entries
                                : p == "meals/served" ? &HourRow::meals
                                                      : &HourRow::checkins;
      Counter(f, p, *v, r.ts_ms, record ? field : nullptr);
    } else if (std::string button = FeedbackButtonOf(p); !button.empty()) {
      auto v = AsInt(r.value);
      if (!v) return;
      const int64_t delta = Counter(f, p, *v, r.ts_ms, nullptr);
      if (record && delta > 0) RowsAt(f, r.ts_ms)[0]->feedback[button] += delta;
    } else if (p.rfind("connectors/", 0) == 0) {
      size_t slash = p.find('/', 11);
      if (slash == std::string::npos) return;
      size_t n = 0;
      for (size_t i = 11; i < slash; ++i) {
        if (p[i] < '0' || p[i] > '9' || n > 100000) return;
        n = n * 10 + size_t(p[i] - '0');
      }
      if (n < 1 || n > f.connectors.size()) return;
      ConnectorH& c = f.connectors[n - 1];
      const std::string field = p.substr(slash + 1);
      if (field == "status") {
        const auto* v = std::get_if<std::string>(&r.value);
        if (!v) return;
        const bool was = c.known && Occupied(c.status);
        const bool now = Occupied(*v);
        if (!record) {
          // A session already running when history starts has no known start.
          c.session_start = kNever;
        } else if (now && !was) {
          // Counted in the hour it started, by its own time.
          const LocalDateTime l = f.tz.ToLocal(r.ts_ms);
          RowsAt(f, r.ts_ms)[0]->sessions += 1;
          c.session_start = r.ts_ms;
          c.start_day = l.day_number;
          c.start_hour = l.minute_of_day / 60;
        } else if (was && !now && c.session_start != kNever) {
          HourRow& start = Row(f, "", c.start_day, c.start_hour);
          start.sessions_ended += 1;
          start.session_ms += std::max<int64_t>(0, r.ts_ms - c.session_start);
          c.session_start = kNever;
        }
        c.status = *v;
        c.known = true;
      } else if (field == "energy_kwh") {
        auto v = AsDouble(r.value);
        if (!v) return;
        // A register that went down was replaced or reset: a new baseline, no delivery.
        if (record && c.energy && *v > *c.energy) RowsAt(f, r.ts_ms)[0]->energy_kwh += *v - *c.energy;
        c.energy = *v;
      }
    } else if (p.rfind("equipment/", 0) == 0 && p.size() > 17 && p.compare(p.size() - 7, 7, "/in_use") == 0) {
      auto it = f.sensor_index.find(p.substr(10, p.size() - 17));
      if (it == f.sensor_index.end()) return;
      auto v = AsInt(r.value);
      if (!v) return;
      SensorH& s = f.sensors[it->second];
      const bool on = *v != 0;
      if (record && on && !(s.in_use_known && s.in_use)) RowsAt(f, r.ts_ms)[1 + it->second]->sessions += 1;
      s.in_use = on;
      s.in_use_known = true;
    }
  }

  std::string SaveState() const {
    Json root;
    root["version"] = kStateVersion;
    Json& fs = root["facilities"] = Json::object();
    for (const auto& f : facilities) {
      Json jf;
      jf["w"] = TsOrNull(f.w);
      jf["occ"] = f.occ ? Json(*f.occ) : Json(nullptr);
      jf["reported_through"] = TsOrNull(f.reported_through);
      Json& counters = jf["counters"] = Json::object();
      for (const auto& [name, by_day] : f.counters) {
        Json& jc = counters[name] = Json::object();
        for (const auto& [day, value] : by_day) jc[std::to_string(day)] = value;
      }
      Json& revise = jf["revise"] = Json::object();
      for (const auto& [day, at] : f.revise) revise[std::to_string(day)] = at;
      Json& revision = jf["revision"] = Json::object();
      for (const auto& [day, n] : f.revision) revision[std::to_string(day)] = n;
      Json& sensors = jf["sensors"] = Json::object();
      for (const auto& s : f.sensors) {
        Json js{{"last_heard", TsOrNull(s.last_heard)}};
        if (s.in_use_known) js["in_use"] = s.in_use;
        sensors[s.id] = std::move(js);
      }
      Json& cs = jf["connectors"] = Json::array();
      for (const auto& c : f.connectors) {
        Json jc;
        jc["status"] = c.known ? Json(c.status) : Json(nullptr);
        jc["session_start"] = TsOrNull(c.session_start);
        jc["start_day"] = c.start_day;
        jc["start_hour"] = c.start_hour;
        jc["energy"] = c.energy ? Json(*c.energy) : Json(nullptr);
        cs.push_back(std::move(jc));
      }
      fs[f.id] = std::move(jf);
    }
    return root.dump();
  }

  Status LoadState(const std::string& json) {
    std::vector<FacilityH> next = facilities;
    try {
      Json root = Json::parse(json);
      const int version = root.value("version", 0);
      if (version != 1 && version != kStateVersion) return Status::InvalidArgument("history state: unknown version");
      const Json& fs = root.at("facilities");
      for (auto& f : next) {
        // The maps are the state's alone (a rollback must not keep what the batch added).
        f.counters.clear();
        f.revise.clear();
        f.revision.clear();
        auto it = fs.find(f.id);
        if (it == fs.end()) continue;  // a facility added since: starts fresh
        const Json& jf = *it;
        f.w = TsFrom(jf, "w");
        if (auto o = jf.find("occ"); o != jf.end() && !o->is_null()) f.occ = o->get<int64_t>();
        f.reported_through = TsFrom(jf, "reported_through");
        if (auto c = jf.find("counters"); c != jf.end()) {
          for (const auto& [name, jc] : c->items()) {
            if (version == 1) {  // [day, value] of the current day only
              if (!jc.at(0).is_null()) f.counters[name][jc.at(0).get<int64_t>()] = jc.at(1).get<int64_t>();
              continue;
            }
            for (const auto& [day, value] : jc.items()) f.counters[name][std::stoll(day)] = value.get<int64_t>();
          }
        }
        if (auto rv = jf.find("revise"); rv != jf.end()) {
          for (const auto& [day, at] : rv->items()) f.revise[std::stoll(day)] = at.get<int64_t>();
        }
        if (auto rv = jf.find("revision"); rv != jf.end()) {
          for (const auto& [day, n] : rv->items()) f.revision[std::stoll(day)] = n.get<int>();
        }
        if (auto ss = jf.find("sensors"); ss != jf.end()) {
          for (auto& s : f.sensors) {
            auto js = ss->find(s.id);
            if (js == ss->end()) continue;
            s.last_heard = TsFrom(*js, "last_heard");
            if (auto u = js->find("in_use"); u != js->end()) {
              s.in_use = u->get<bool>();
              s.in_use_known = true;
            }
          }
        }
        if (auto cs = jf.find("connectors"); cs != jf.end() && cs->is_array()) {
          for (size_t n = 0; n < f.connectors.size() && n < cs->size(); ++n) {
            const Json& jc = (*cs)[n];
            ConnectorH& c = f.connectors[n];
            if (!jc.at("status").is_null()) {
              c.status = jc.at("status").get<std::string>();
              c.known = true;
            }
            c.session_start = TsFrom(jc, "session_start");
            c.start_day = jc.value("start_day", int64_t(0));
            c.start_hour = jc.value("start_hour", 0);
            if (!jc.at("energy").is_null()) c.energy = jc.at("energy").get<double>();
          }
        }
      }
    } catch (const std::exception& e) {
      return Status::Corruption(std::string("history state: ") + e.what());
    }
    facilities = std::move(next);
    for (auto& f : facilities) {
      f.rows_gen = 0;
      f.max_heard = kNever;
      for (const auto& s : f.sensors) f.max_heard = std::max(f.max_heard, s.last_heard);
    }
    return Status::Ok();
  }
};

History::History() : impl_(std::make_unique<Impl>()) {}
History::~History() = default;

Result<std::unique_ptr<History>> History::Create(const Config& config) {
  std::unique_ptr<History> h(new History());
  Impl& impl = *h->impl_;
  impl.retention_days = config.history.retention_days;
  impl.late_days = config.history.late_days;
  impl.facilities.reserve(config.facilities.size());
  for (const auto& fc : config.facilities) {
    auto tz = TimeZone::Load(fc.timezone.empty() ? config.timezone : fc.timezone);
    if (!tz.ok()) return Status::InvalidArgument("facility '" + fc.id + "': " + tz.status().message());
    FacilityH f(tz.value());
    f.id = fc.id;
    f.hours = fc.opening_hours;
    f.capacity = EffectiveCapacity(fc);
    for (const auto& sc : fc.sensors) {
      SensorH s;
      s.id = sc.id;
      s.kind = sc.kind;
      s.silent_ms = SensorSilentMs(config, sc);
      // Connectors are numbered facility-wide in config order, as the facility model does.
      if (sc.kind == SensorKind::kChargePoint) {
        for (uint32_t n = 0; n < sc.connectors; ++n) {
          ConnectorH c;
          c.sensor = f.sensors.size();
          f.connectors.push_back(std::move(c));
        }
      }
      f.sensor_index.emplace(s.id, f.sensors.size());
      f.sensors.push_back(std::move(s));
    }
    impl.index.emplace(f.id, impl.facilities.size());
    impl.facilities.push_back(std::move(f));
  }
  impl.committed_state = impl.SaveState();
  return h;
}

Status History::Load(SqliteDb& db) {
  auto st = db.Prepare("SELECT value FROM meta WHERE key = 'history_state'");
  if (!st.ok()) return st.status();
  auto row = st->Step();
  if (!row.ok()) return row.status();
  if (row.value()) {
    Status s = impl_->LoadState(st->Text(0));
    if (!s.ok()) spdlog::warn("history: running state not restored ({}); starting afresh", s.ToString());
  }
  impl_->committed_state = impl_->SaveState();
  return Status::Ok();
}

void History::Ingest(const std::vector<Reading>& rows, int64_t now_ms) {
  std::vector<size_t> order(rows.size());
  std::iota(order.begin(), order.end(), size_t(0));
  // Time order; at one instant the sensors' readings before what was derived from them.
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (rows[a].ts_ms != rows[b].ts_ms) return rows[a].ts_ms < rows[b].ts_ms;
    return !rows[a].sensor_id.empty() && rows[b].sensor_id.empty();
  });
  // The newest sensor reading of each facility in this batch: derived rows up to it
  // carry event time (the model derived them from these readings).
  std::unordered_map<const FacilityH*, int64_t> batch_heard;
  auto heard_in_batch = [&](const FacilityH* f) {
    auto it = batch_heard.find(f);
    return it == batch_heard.end() ? kNever : it->second;
  };
  for (const Reading& r : rows) {
    if (r.sensor_id.empty() || r.ts_ms > now_ms + kFutureSlackMs) continue;
    if (const FacilityH* f = impl_->Find(r.facility_id)) {
      auto [it, inserted] = batch_heard.try_emplace(f, r.ts_ms);
      if (!inserted) it->second = std::max(it->second, r.ts_ms);
    }
  }
  for (size_t i : order) {
    const Reading& r = rows[i];
    FacilityH* f = impl_->Find(r.facility_id);
    if (!f || !Relevant(r)) continue;
    if (std::holds_alternative<DataSet>(r.value)) {
      // A finished charging session: a record of its own, not a step of any rollup.
      auto session = SessionFromReading(r);
      if (!session.ok()) {
        ++bad_sessions_;
        spdlog::warn("history: charging session not kept: {}", session.status().message());
      } else if (session.value()) {
        session.value()->day = f->tz.ToLocal(session.value()->start_ms).day_number;
        impl_->pending_sessions.push_back(std::move(*session.value()));
      }
      continue;
    }
    if (r.ts_ms > now_ms + kFutureSlackMs ||
        (f->w == kNever && r.ts_ms < now_ms - int64_t(impl_->retention_days) * kDayMs)) {
      // Beyond the clock's reach either way (a device with a wrong clock): a future
      // stamp would drag the facility's time ahead, a first reading from before the
      // retention would make it walk years of empty time.
      ++ignored_future_;
      continue;
    }
    if (f->w == kNever) {
      if (r.sensor_id.empty()) {
        if (r.ts_ms <= heard_in_batch(f)) impl_->IngestOne(*f, r, r.ts_ms, false);
        continue;
      }
      // The first sensor reading ever: the day it falls in is history from its start
      // (the hours before count as open but not complete), and reported from then on.
      f->w = f->tz.DayStartMs(r.ts_ms);
      f->reported_through = f->tz.ToLocal(r.ts_ms).day_number - 1;
    }
    if (r.sensor_id.empty() && r.ts_ms > std::max(f->max_heard, heard_in_batch(f))) {
      // Stamped by the gateway clock ahead of every reading (the announcement of a
      // midnight no reading has crossed yet): not event time. The facility model
      // states the same values again, at the same instant, with the first reading of
      // the new day, and only then do they count.
      continue;
    }
    if (!r.sensor_id.empty()) {
      const int64_t day = f->tz.ToLocal(r.ts_ms).day_number;
      if (f->reported_through != kNever && day <= f->reported_through) {
        // Its day was reported already: counted in its own day all the same, marked, and
        // the day's report is made again (DueReports).
        impl_->RowsAt(*f, r.ts_ms)[0]->late_readings += 1;
        f->revise[day] = now_ms;
        ++impl_->late_total[f->id];
      }
    }
    impl_->Advance(*f, r.ts_ms);
    impl_->IngestOne(*f, r, std::max(r.ts_ms, f->w), true);
  }
}

void History::AdvanceTo(const std::string& facility, int64_t ts) {
  if (FacilityH* f = impl_->Find(facility)) impl_->Advance(*f, ts);
}

Status History::WriteInTxn(SqliteDb& db) {
  Impl& m = *impl_;
  if (!m.pending.empty()) {
    std::string sql = std::string("INSERT INTO history_hour(facility, sensor, day, hour, ") + kColumns +
                      ") VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
                      "ON CONFLICT(facility, sensor, day, hour) DO UPDATE SET "
                      "open_ms = open_ms + excluded.open_ms, complete_ms = complete_ms + excluded.complete_ms, "
                      "occ_ms = occ_ms + excluded.occ_ms, crowded_ms = crowded_ms + excluded.crowded_ms, "
                      "full_ms = full_ms + excluded.full_ms, "
                      "peak_ts = CASE WHEN excluded.peak > peak THEN excluded.peak_ts ELSE peak_ts END, "
                      "peak = max(peak, excluded.peak), "
                      "entries = entries + excluded.entries, meals = meals + excluded.meals, "
                      "checkins = checkins + excluded.checkins, sessions = sessions + excluded.sessions, "
                      "sessions_ended = sessions_ended + excluded.sessions_ended, "
                      "session_ms = session_ms + excluded.session_ms, energy_kwh = energy_kwh + excluded.energy_kwh, "
                      "connector_ms = connector_ms + excluded.connector_ms, "
                      "charging_ms = charging_ms + excluded.charging_ms, "
                      "available_ms = available_ms + excluded.available_ms, "
                      "reported_ms = reported_ms + excluded.reported_ms, in_use_ms = in_use_ms + excluded.in_use_ms, "
                      "readings = readings + excluded.readings, "
                      "late_readings = late_readings + excluded.late_readings";
    auto st = db.Prepare(sql);
    if (!st.ok()) return st.status();
    for (const auto& [key, row] : m.pending) {
      BindRow(st.value(), row);
      Status s = st->Run();
      st->Reset();
      if (!s.ok()) return s;
    }
    Status s = WriteFeedback(db, m.pending);
    if (!s.ok()) return s;
  }
  Status sessions = InsertSessions(db, m.pending_sessions);
  if (!sessions.ok()) return sessions;
  // The per-day counters reach back as far as a reading may (history.late_days), also
  // when no daily report prunes them (history.daily_report: false).
  for (auto& f : m.facilities) {
    if (f.w == kNever) continue;
    const int64_t keep_from = f.tz.ToLocal(f.w).day_number - m.late_days - 1;
    for (auto& [name, by_day] : f.counters) {
      while (!by_day.empty() && by_day.begin()->first < keep_from) by_day.erase(by_day.begin());
    }
  }
  m.written_state = m.SaveState();
  Status s;
  // Unchanged, it is not written again: every page a commit touches is a page of flash.
  if (m.written_state != m.committed_state) {
    auto put = db.Prepare("INSERT INTO meta(key, value) VALUES('history_state', ?) "
                          "ON CONFLICT(key) DO UPDATE SET value=excluded.value");
    if (!put.ok()) return put.status();
    put->BindText(1, PaddedForOverwrite(m.written_state));
    s = put->Run();
    if (!s.ok()) return s;
  }
  // Retention, counted back from the newest local day any facility has reached.
  int64_t newest = kNever;
  for (const auto& f : m.facilities) {
    if (f.w != kNever) newest = std::max(newest, f.w / kDayMs);
  }
  m.written_purge = m.purged_below;
  if (newest != kNever && newest - m.retention_days > m.purged_below) {
    for (const char* sql : {"DELETE FROM history_hour WHERE day < ?", "DELETE FROM feedback_hour WHERE day < ?"}) {
      auto del = db.Prepare(sql);
      if (!del.ok()) return del.status();
      del->BindInt(1, newest - m.retention_days);
      s = del->Run();
      if (!s.ok()) return s;
    }
    s = PurgeSessionsBefore(db, newest - m.retention_days);
    if (!s.ok()) return s;
    m.written_purge = newest - m.retention_days;
  }
  return Status::Ok();
}

void History::Committed() {
  impl_->pending.clear();
  impl_->pending_sessions.clear();
  ++impl_->gen;
  impl_->committed_state = std::move(impl_->written_state);
  impl_->purged_below = impl_->written_purge;
}

void History::RolledBack() {
  impl_->pending.clear();
  impl_->pending_sessions.clear();
  ++impl_->gen;
  Status s = impl_->LoadState(impl_->committed_state);
  if (!s.ok()) spdlog::error("history: cannot return to the committed state: {}", s.ToString());
}

std::vector<DueReport> History::DueReports(int64_t now_ms, int64_t delay_ms) const {
  std::vector<DueReport> out;
  auto day_end = [](const FacilityH& f, int64_t day) {
    date::year_month_day ymd{date::sys_days{date::days{day + 1}}};
    return f.tz.FromLocal(int(ymd.year()), int(unsigned(ymd.month())), int(unsigned(ymd.day())), 0);
  };
  for (const auto& f : impl_->facilities) {
    if (f.reported_through == kNever) continue;
    const int64_t today = f.tz.ToLocal(now_ms).day_number;
    int64_t day = std::max(f.reported_through + 1, today - impl_->retention_days);
    int n = 0;
    for (; n < kMaxReportsPerCall && day < today; ++n, ++day) {
      const int64_t end = day_end(f, day);
      if (now_ms < end + delay_ms) break;
      out.push_back(DueReport{f.id, day, end, day_end(f, day - 1), 0});
    }
    // Revisions: a reported day that late readings changed, once they have stopped for
    // the delay (a device catching up on a day makes one revision, not one per reading).
    for (const auto& [d, changed_at] : f.revise) {
      if (n >= kMaxReportsPerCall) break;
      if (d > f.reported_through || now_ms < changed_at + delay_ms) continue;
      auto rev = f.revision.find(d);
      // A day without a report of its own (before the facility's first reading) gets its first.
      out.push_back(
          DueReport{f.id, d, day_end(f, d), day_end(f, d - 1), rev == f.revision.end() ? 0 : rev->second + 1});
      ++n;
    }
  }
  return out;
}

void History::MarkReported(const std::string& facility, int64_t day, int revision) {
  FacilityH* f = impl_->Find(facility);
  if (!f) return;
  f->reported_through = std::max(f->reported_through, day);
  f->revision[day] = revision;
  f->revise.erase(day);
  // What is kept per day reaches back as far as a reading may (history.late_days).
  const int64_t keep_from = f->reported_through - impl_->late_days - 1;
  while (!f->revision.empty() && f->revision.begin()->first < keep_from) f->revision.erase(f->revision.begin());
  while (!f->revise.empty() && f->revise.begin()->first < keep_from) f->revise.erase(f->revise.begin());
  for (auto& [name, by_day] : f->counters) {
    while (!by_day.empty() && by_day.begin()->first < keep_from) by_day.erase(by_day.begin());
  }
}

void History::ReviseDayOf(const std::string& facility, int64_t ts_ms, int64_t now_ms) {
  FacilityH* f = impl_->Find(facility);
  if (!f || f->reported_through == kNever) return;
  const int64_t day = f->tz.ToLocal(ts_ms).day_number;
  // Only days that were reported, and no further back than MarkReported keeps.
  if (day > f->reported_through || day < f->reported_through - impl_->late_days - 1) return;
  f->revise[day] = now_ms;
}

uint64_t History::late_readings(const std::string& facility) const {
  auto it = impl_->late_total.find(facility);
  return it == impl_->late_total.end() ? 0 : it->second;
}

Result<std::vector<HourRow>> History::ReadDay(SqliteDb& db, const std::string& facility, int64_t day) {
  auto rows = ReadHourRows(db, {facility}, day, day);
  if (!rows.ok()) return rows;
  std::map<std::tuple<std::string, int>, HourRow> merged;
  for (auto& r : rows.value()) merged[{r.sensor, r.hour}] = std::move(r);
  for (const auto& [key, r] : impl_->pending) {
    if (std::get<0>(key) != facility || std::get<2>(key) != day) continue;
    auto [it, inserted] = merged.try_emplace({r.sensor, r.hour}, r);
    if (!inserted) it->second.Merge(r);
  }
  std::vector<HourRow> out;
  for (auto& [k, r] : merged) out.push_back(std::move(r));
  return out;
}

std::vector<HourRow> History::PendingRows() const {
  std::vector<HourRow> out;
  for (const auto& [k, r] : impl_->pending) out.push_back(r);
  return out;
}

Result<std::vector<HourRow>> ReadHourRows(SqliteDb& db, const std::vector<std::string>& facilities,
                                          int64_t day_from, int64_t day_to) {
  std::vector<HourRow> out;
  std::string base = std::string("SELECT facility, sensor, day, hour, ") + kColumns +
                     " FROM history_hour WHERE day BETWEEN ? AND ?";
  auto run = [&](const std::string* facility) -> Status {
    auto st = db.Prepare(base + (facility ? " AND facility = ?" : "") + " ORDER BY facility, sensor, day, hour");
    if (!st.ok()) return st.status();
    st->BindInt(1, day_from);
    st->BindInt(2, day_to);
    if (facility) st->BindText(3, *facility);
    for (;;) {
      auto row = st->Step();
      if (!row.ok()) return row.status();
      if (!row.value()) break;
      out.push_back(ColumnRow(st.value()));
    }
    return Status::Ok();
  };
  if (facilities.empty()) {
    Status s = run(nullptr);
    if (!s.ok()) return s;
  } else {
    for (const auto& f : facilities) {
      Status s = run(&f);
      if (!s.ok()) return s;
    }
  }
  // The feedback presses go to their facility rows (written in the same commits).
  std::map<std::tuple<std::string, int64_t, int>, HourRow*> facility_rows;
  for (auto& r : out) {
    if (r.sensor.empty()) facility_rows[{r.facility, r.day, r.hour}] = &r;
  }
  auto st = db.Prepare("SELECT facility, day, hour, button, responses FROM feedback_hour WHERE day BETWEEN ? AND ?");
  if (!st.ok()) return st.status();
  st->BindInt(1, day_from);
  st->BindInt(2, day_to);
  for (;;) {
    auto row = st->Step();
    if (!row.ok()) return row.status();
    if (!row.value()) break;
    auto it = facility_rows.find({st->Text(0), st->Int(1), int(st->Int(2))});
    if (it != facility_rows.end()) it->second->feedback[st->Text(3)] += st->Int(4);
  }
  return out;
}

uint32_t EffectiveCapacity(const FacilityConfig& fc) {
  if (fc.capacity > 0) return fc.capacity;
  // The facility model's rule: what is counted one by one is its own capacity.
  bool occupancy = false, door = false;
  uint32_t seats = 0, connectors = 0, equipment = 0;
  for (const auto& s : fc.sensors) {
    switch (s.kind) {
      case SensorKind::kOccupancy: occupancy = true; break;
      case SensorKind::kDoorCounter: door = true; break;
      case SensorKind::kSeat: ++seats; break;
      case SensorKind::kChargePoint: connectors += s.connectors; break;
      case SensorKind::kEquipment: ++equipment; break;
      default: break;
    }
  }
  if (occupancy || door) return 0;
  if (seats > 0) return seats;
  if (fc.type == FacilityType::kChargingStation && connectors > 0) return connectors;
  if (fc.type == FacilityType::kFitnessPoint && equipment > 0) return equipment;
  return 0;
}

}  // namespace gateway::store
