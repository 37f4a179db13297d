// Facility patterns (see the header). Past 500 lines because every facility type's day
// (arrivals, meals, check-ins, charging sessions, equipment use, feedback presses) is
// drawn here from one set of seeded streams, so that the ground-truth totals and the
// readings cannot drift apart; a new type that needs more would get a file of its own.
#include "simulator/facility_patterns.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <utility>

#include "gateway/opening_hours.h"

namespace simulator {

using gateway::FacilityType;
using gateway::LocalDateTime;
using gateway::Reading;
using gateway::SensorKind;

namespace {

constexpr int64_t kMinuteMs = 60'000;
constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

// Stream numbers keep the facility's own draws, each sensor's values and each sensor's
// dropouts apart, so that e.g. a dropout never changes what a counter counts.
constexpr uint64_t kFacilityStream = 1;
constexpr uint64_t kValueStream = 2;
constexpr uint64_t kDropoutStream = 3;
constexpr uint64_t kNoSensor = 0xffffffffull;

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// A bell around `centre` (minutes after midnight) with width `sigma` minutes.
double Bump(double minute, double centre, double sigma) {
  double z = (minute - centre) / sigma;
  return std::exp(-0.5 * z * z);
}

double Minute(const LocalDateTime& l) { return double(l.ms_of_day) / double(kMinuteMs); }

bool Weekend(const LocalDateTime& l) { return l.weekday >= 5; }

}  // namespace

// ---------------------------------------------------------------------------------------
// Patterns

double PeopleArrivalRatePerHour(FacilityType type, const LocalDateTime& local) {
  double m = Minute(local);
  switch (type) {
    case FacilityType::kCanteen: {
      // Lunch 11:00-12:30 and supper 17:00-18:00; a trickle in between (tea, late eaters).
      // At ~30 min per stay, a lunch peak of 2 x capacity per hour fills the room.
      double base = (m >= 600 && m < 1140) ? 0.05 : 0.0;
      return base + 2.0 * Bump(m, 705, 28) + 1.3 * Bump(m, 1050, 22);
    }
    case FacilityType::kElderlyStation: {
      // Day-care: most arrive 08:00-10:00 and stay the day; a few short visits late morning
      // and early afternoon (rehab, bathing). The integral of the bell is ~0.85 x capacity.
      double visits = (m >= 600 && m < 900) ? 0.04 : 0.0;
      return 0.58 * Bump(m, 540, 35) + visits;
    }
    case FacilityType::kFitnessPoint: {
      // Morning exercise 06:00-08:30, evening 18:00-20:30, a little during the day.
      double base = (m >= 360 && m < 1320) ? 0.08 : 0.0;
      return base + 1.0 * Bump(m, 435, 40) + 1.1 * Bump(m, 1155, 45);
    }
    case FacilityType::kChargingStation:
      // Cars, when a charging station has no simulated charge points but counts at a gate.
      return ChargingArrivalPerHour(local, false) * 0.6;
  }
  return 0.0;
}

double ChargingArrivalPerHour(const LocalDateTime& local, bool dc) {
  double m = Minute(local);
  // Spread over 07:00-23:00, a small morning bump (before work) and the main peak after
  // work; almost nothing overnight. Fast (DC) chargers turn over more cars.
  double h = (m >= 420 && m < 1380) ? 0.10 : 0.015;
  h += 0.22 * Bump(m, 510, 45) + 0.55 * Bump(m, 1110, 80);
  return dc ? h * 1.6 : h;
}

uint32_t DefaultCapacity(FacilityType type) {
  switch (type) {
    case FacilityType::kCanteen: return 60;
    case FacilityType::kElderlyStation: return 40;
    case FacilityType::kChargingStation: return 10;
    case FacilityType::kFitnessPoint: return 30;
  }
  return 20;
}

const char* ConnectorStatusName(ConnectorStatus s) {
  switch (s) {
    case ConnectorStatus::kAvailable: return "Available";
    case ConnectorStatus::kPreparing: return "Preparing";
    case ConnectorStatus::kCharging: return "Charging";
    case ConnectorStatus::kSuspendedEV: return "SuspendedEV";
    case ConnectorStatus::kFinishing: return "Finishing";
    case ConnectorStatus::kFaulted: return "Faulted";
    case ConnectorStatus::kUnavailable: return "Unavailable";
  }
  return "Unavailable";
}

// ---------------------------------------------------------------------------------------
// Rng

Rng Rng::For(uint64_t seed, uint64_t a, uint64_t b, uint64_t stream) {
  uint64_t h = SplitMix64(seed);
  h = SplitMix64(h ^ a);
  h = SplitMix64(h ^ (b * 0x100000001b3ull));
  h = SplitMix64(h ^ stream);
  return Rng(h);
}

double Rng::Uniform() { return double(engine_() >> 11) * 0x1.0p-53; }

double Rng::Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }

int64_t Rng::UniformInt(int64_t lo, int64_t hi) {
  if (hi <= lo) return lo;
  uint64_t span = uint64_t(hi - lo) + 1;
  return lo + int64_t(engine_() % span);
}

uint32_t Rng::Poisson(double lambda) {
  if (!(lambda > 0)) return 0;
  if (lambda < 30) {
    // Knuth: multiply uniforms until the product drops below e^-lambda.
    double limit = std::exp(-lambda);
    double p = 1.0;
    uint32_t k = 0;
    do {
      ++k;
      p *= Uniform();
    } while (p > limit);
    return k - 1;
  }
  // Large means (long intervals): the normal approximation is close enough for a demo.
  double u1 = std::max(Uniform(), 1e-300);
  double u2 = Uniform();
  double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  double v = std::round(lambda + std::sqrt(lambda) * z);
  return v < 0 ? 0 : uint32_t(v);
}

// ---------------------------------------------------------------------------------------
// One facility

namespace {

struct Connector {
  ConnectorStatus status = ConnectorStatus::kAvailable;
  int64_t until_ms = 0;         // when the current phase ends
  int64_t charge_start_ms = 0;
  int64_t charge_ms = 0;        // planned time in Charging
  int64_t tail_ms = 0;          // SuspendedEV after charging (battery full); 0 = none
  double session_kw = 0;        // AC: the car's rate; DC: the peak of the taper
  double energy_kwh = 0;        // meter register
  float power_kw = 0;
  bool in_session = false;      // a car is plugged in (Preparing .. Finishing)
};

struct SensorSim {
  gateway::SensorConfig cfg;
  Rng values;
  Rng dropout;
  int silent_left = 0;
  uint64_t entries = 0;  // door counter
  uint64_t exits = 0;
  uint64_t total = 0;    // meals or check-ins
  std::vector<uint64_t> presses;  // feedback terminal: per configured button
  bool on = false;       // seat occupied, equipment in use
  bool dc = false;
  std::vector<Connector> connectors;
};

struct Person {
  int64_t leave_ms = 0;
  int door = -1;        // index into doors_, -1 when no door counter is simulated
  int64_t slot = -1;    // the connector a car occupies, -1 for people
};

}  // namespace

class FacilitySim {
 public:
  FacilitySim(const gateway::FacilityConfig& cfg, size_t index, gateway::TimeZone tz,
              const SimulationOptions& options)
      : id_(cfg.id),
        type_(cfg.type),
        capacity_(cfg.capacity ? cfg.capacity : DefaultCapacity(cfg.type)),
        opening_(cfg.opening_hours),
        tz_(std::move(tz)),
        interval_ms_(std::max<int64_t>(1, options.interval_ms)),
        dropout_probability_(options.dropout_probability),
        rng_(Rng::For(options.seed, index, kNoSensor, kFacilityStream)) {
    for (size_t si = 0; si < cfg.sensors.size(); ++si) {
      const auto& sc = cfg.sensors[si];
      if (sc.driver != "simulator") continue;
      SensorSim s;
      s.cfg = sc;
      s.values = Rng::For(options.seed, index, si, kValueStream);
      s.dropout = Rng::For(options.seed, index, si, kDropoutStream);
      // Counters have been running for a while before the simulation starts, as a real
      // device's would; the facility starts empty, so exits equal entries.
      switch (sc.kind) {
        case SensorKind::kDoorCounter:
          s.entries = s.exits = uint64_t(s.values.UniformInt(2000, 30000));
          doors_.push_back(sensors_.size());
          break;
        case SensorKind::kMealTerminal:
          s.total = uint64_t(s.values.UniformInt(5000, 60000));
          meal_terminals_.push_back(sensors_.size());
          break;
        case SensorKind::kCheckinTerminal:
          s.total = uint64_t(s.values.UniformInt(1000, 20000));
          checkin_terminals_.push_back(sensors_.size());
          break;
        case SensorKind::kSeat:
          seats_.push_back(sensors_.size());
          break;
        case SensorKind::kEquipment:
          equipment_.push_back(sensors_.size());
          break;
        case SensorKind::kChargePoint: {
          double max_kw = sc.max_power_kw > 0 ? sc.max_power_kw : 7.0;
          s.dc = max_kw >= 50;
          s.connectors.resize(sc.connectors);
          for (auto& c : s.connectors) {
            c.energy_kwh = std::round(s.values.Uniform(800, 25000) * 1000) / 1000;
          }
          if (sc.connectors > 0) charge_points_.push_back(sensors_.size());
          break;
        }
        case SensorKind::kFeedbackTerminal:
          for (size_t b = 0; b < sc.buttons.size(); ++b) s.presses.push_back(uint64_t(s.values.UniformInt(100, 3000)));
          feedback_terminals_.push_back(sensors_.size());
          break;
        case SensorKind::kCallButton:  // idle: nobody calls in a simulation
        case SensorKind::kOccupancy:
          break;
      }
      sensors_.push_back(std::move(s));
    }
    cars_at_connectors_ = type_ == FacilityType::kChargingStation && !charge_points_.empty();
  }

  const std::string& id() const { return id_; }
  uint32_t present() const { return uint32_t(people_.size()); }

  void Step(int64_t t, std::vector<Reading>& out, FacilityStepResult* result) {
    LocalDateTime local = tz_.ToLocal(t);
    bool open = gateway::IsOpenAt(opening_, local);
    if (local.day_number != day_) {
      day_ = local.day_number;
      day_factor_ = DrawDayFactor(local);
    }
    FacilityEvents ev;

    // Charge points first: at a charging station their sessions are the "people".
    for (size_t idx : charge_points_) {
      SensorSim& s = sensors_[idx];
      for (size_t n = 0; n < s.connectors.size(); ++n) {
        auto [started, ended] = StepConnector(s, s.connectors[n], t, open, local);
        int64_t slot = int64_t(idx) * 1024 + int64_t(n);
        if (ended && cars_at_connectors_) Leave(slot, ev);
        if (started) {
          ++ev.charging_sessions;
          if (cars_at_connectors_) Arrive(kNever, slot, ev);
        }
      }
    }

    // Departures: those whose stay is over, and everybody once the facility is closed.
    for (size_t i = 0; i < people_.size();) {
      const Person& p = people_[i];
      if (p.slot < 0 && (!open || p.leave_ms <= t)) {
        Exit(i, ev);
      } else {
        ++i;
      }
    }

    // Arrivals: nobody comes while the facility is closed.
    if (open && !cars_at_connectors_) {
      double hours = double(interval_ms_) / 3.6e6;
      double lambda = PeopleArrivalRatePerHour(type_, local) * capacity_ * day_factor_ * hours;
      uint32_t n = rng_.Poisson(lambda);
      for (uint32_t i = 0; i < n; ++i) Arrive(t + DrawStayMs(local), -1, ev);
    }

    UpdateSeats();
    UpdateEquipment(ev);
    Emit(t, out, ev);

    if (result) {
      result->local_day = local.day_number;
      result->events = ev;
    }
  }

 private:
  double DrawDayFactor(const LocalDateTime& local) {
    double weekday = 1.0;
    if (Weekend(local)) {
      switch (type_) {
        case FacilityType::kCanteen: weekday = 0.85; break;
        case FacilityType::kElderlyStation: weekday = 0.6; break;
        case FacilityType::kChargingStation: weekday = 0.9; break;
        case FacilityType::kFitnessPoint: weekday = 1.25; break;
      }
    }
    return weekday * rng_.Uniform(0.8, 1.2);
  }

  int64_t DrawStayMs(const LocalDateTime& local) {
    double m = Minute(local);
    switch (type_) {
      case FacilityType::kCanteen:
        return int64_t(rng_.Uniform(20, 40) * kMinuteMs);
      case FacilityType::kElderlyStation: {
        if (m < 12 * 60 && !rng_.Chance(0.15)) {
          // Stays for the day and is picked up between 15:30 and 17:30.
          double leave = rng_.Uniform(15.5 * 60, 17.5 * 60);
          return int64_t((leave - m) * kMinuteMs);
        }
        return int64_t(rng_.Uniform(60, m < 12 * 60 ? 300 : 150) * kMinuteMs);
      }
      case FacilityType::kFitnessPoint:
        return int64_t((rng_.Chance(0.1) ? rng_.Uniform(60, 120) : rng_.Uniform(20, 60)) * kMinuteMs);
      case FacilityType::kChargingStation:
        return int64_t(rng_.Uniform(30, 240) * kMinuteMs);
    }
    return 30 * kMinuteMs;
  }

  void Arrive(int64_t leave_ms, int64_t slot, FacilityEvents& ev) {
    Person p;
    p.leave_ms = leave_ms;
    p.slot = slot;
    if (!doors_.empty()) {
      p.door = int(rng_.UniformInt(0, int64_t(doors_.size()) - 1));
      ++sensors_[doors_[size_t(p.door)]].entries;
      ++ev.entries;
    }
    // Most canteen visitors buy a meal; nearly every day-care visitor checks in.
    if (!meal_terminals_.empty() && slot < 0 && rng_.Chance(0.85)) {
      ++sensors_[meal_terminals_[size_t(rng_.UniformInt(0, int64_t(meal_terminals_.size()) - 1))]].total;
      ++ev.meals;
    }
    if (!checkin_terminals_.empty() && slot < 0 && rng_.Chance(0.95)) {
      ++sensors_[checkin_terminals_[size_t(rng_.UniformInt(0, int64_t(checkin_terminals_.size()) - 1))]]
            .total;
      ++ev.checkins;
    }
    // About one visitor in four answers, mostly content. Drawn only where a terminal
    // is simulated, so that facilities without one see the same sequence as before.
    if (!feedback_terminals_.empty() && slot < 0 && rng_.Chance(0.25)) {
      SensorSim& t = sensors_[feedback_terminals_[size_t(rng_.UniformInt(0, int64_t(feedback_terminals_.size()) - 1))]];
      const size_t n = t.presses.size();
      if (n >= 2) {
        const int64_t r = rng_.UniformInt(0, 9);
        const size_t b = r == 0 ? 0 : (r == 1 && n > 2) ? 1 : n - 2 + size_t(r % 2);
        ++t.presses[b];
        ++ev.feedback;
      }
    }
    people_.push_back(p);
  }

  // People leave by the door they came in, so a door's exits never pass its entries.
  void Exit(size_t i, FacilityEvents& ev) {
    if (people_[i].door >= 0) {
      ++sensors_[doors_[size_t(people_[i].door)]].exits;
      ++ev.exits;
    }
    people_.erase(people_.begin() + std::ptrdiff_t(i));
  }

  void Leave(int64_t slot, FacilityEvents& ev) {
    for (size_t i = 0; i < people_.size(); ++i) {
      if (people_[i].slot == slot) {
        Exit(i, ev);
        return;
      }
    }
  }

  // Sets `count` of the given on/off sensors on, changing as few as possible and picking
  // which ones at random.
  void SetOnCount(const std::vector<size_t>& group, size_t count) {
    std::vector<size_t> on, off;
    for (size_t idx : group) (sensors_[idx].on ? on : off).push_back(idx);
    while (on.size() < count && !off.empty()) {
      size_t j = size_t(rng_.UniformInt(0, int64_t(off.size()) - 1));
      sensors_[off[j]].on = true;
      on.push_back(off[j]);
      off.erase(off.begin() + std::ptrdiff_t(j));
    }
    while (on.size() > count) {
      size_t j = size_t(rng_.UniformInt(0, int64_t(on.size()) - 1));
      sensors_[on[j]].on = false;
      on.erase(on.begin() + std::ptrdiff_t(j));
    }
  }

  void UpdateSeats() {
    if (seats_.empty()) return;
    double seated = 0.5;
    switch (type_) {
      case FacilityType::kCanteen: seated = 0.85; break;
      case FacilityType::kElderlyStation: seated = 0.5; break;
      case FacilityType::kFitnessPoint: seated = 0.3; break;
      case FacilityType::kChargingStation: seated = 0.2; break;
    }
    size_t target = size_t(std::lround(double(people_.size()) * seated));
    SetOnCount(seats_, std::min(target, seats_.size()));
  }

  void UpdateEquipment(FacilityEvents& ev) {
    if (equipment_.empty()) return;
    std::vector<bool> before;
    for (size_t idx : equipment_) before.push_back(sensors_[idx].on);
    // Sets end after ~15 min on average and someone else may take the machine, so the
    // sessions turn over even when the number of people stays the same.
    double p_end = 1.0 - std::exp(-double(interval_ms_) / double(15 * kMinuteMs));
    for (size_t idx : equipment_) {
      if (sensors_[idx].on && rng_.Chance(p_end)) sensors_[idx].on = false;
    }
    size_t target = size_t(std::lround(double(people_.size()) * 0.5));
    SetOnCount(equipment_, std::min(target, equipment_.size()));
    for (size_t i = 0; i < equipment_.size(); ++i) {
      if (!before[i] && sensors_[equipment_[i]].on) ++ev.equipment_sessions;
    }
  }

  // One OCPP connector. Returns whether a session started and whether one ended.
  std::pair<bool, bool> StepConnector(SensorSim& s, Connector& c, int64_t t, bool open,
                                      const LocalDateTime& local) {
    Rng& r = s.values;
    const double hours = double(interval_ms_) / 3.6e6;
    bool started = false;
    bool ended = false;
    c.power_kw = 0;

    if (!open) {
      // Closing ends the sessions at once (the car park closes); free connectors show
      // Unavailable until opening, a fault runs its course.
      if (c.in_session) {
        c.in_session = false;
        ended = true;
      }
      if (c.status == ConnectorStatus::kFaulted && t < c.until_ms) return {started, ended};
      c.status = ConnectorStatus::kUnavailable;
      return {started, ended};
    }
    if (c.status == ConnectorStatus::kUnavailable) c.status = ConnectorStatus::kAvailable;

    switch (c.status) {
      case ConnectorStatus::kUnavailable:
      case ConnectorStatus::kAvailable: {
        if (r.Chance(1.0 - std::exp(-0.002 * hours))) {
          c.status = ConnectorStatus::kFaulted;
          c.until_ms = t + int64_t(r.Uniform(30, 240) * kMinuteMs);
          break;
        }
        double hazard = ChargingArrivalPerHour(local, s.dc) * day_factor_;
        if (r.Chance(1.0 - std::exp(-hazard * hours))) {
          double max_kw = s.cfg.max_power_kw > 0 ? s.cfg.max_power_kw : 7.0;
          c.status = ConnectorStatus::kPreparing;
          c.in_session = true;
          c.until_ms = t + int64_t(r.Uniform(1, 4) * kMinuteMs);
          if (s.dc) {
            c.charge_ms = int64_t(r.Uniform(15, 50) * kMinuteMs);
            c.tail_ms = r.Chance(0.2) ? int64_t(r.Uniform(2, 8) * kMinuteMs) : 0;
            c.session_kw = max_kw * r.Uniform(0.6, 0.98);
          } else {
            c.charge_ms = int64_t(r.Uniform(45, 180) * kMinuteMs);
            c.tail_ms = r.Chance(0.6) ? int64_t(r.Uniform(10, 45) * kMinuteMs) : 0;
            // Some cars take only single-phase 3.7 kW whatever the wallbox offers.
            c.session_kw = r.Chance(0.2) ? std::min(max_kw, 3.7) : max_kw * r.Uniform(0.88, 0.99);
          }
          started = true;
        }
        break;
      }
      case ConnectorStatus::kPreparing:
        if (t < c.until_ms) break;
        c.status = ConnectorStatus::kCharging;
        c.charge_start_ms = t;
        c.until_ms = t + c.charge_ms;
        [[fallthrough]];
      case ConnectorStatus::kCharging: {
        if (r.Chance(1.0 - std::exp(-0.003 * hours))) {
          c.status = ConnectorStatus::kFaulted;
          c.until_ms = t + int64_t(r.Uniform(30, 240) * kMinuteMs);
          c.in_session = false;
          ended = true;
          break;
        }
        if (t >= c.until_ms && t > c.charge_start_ms) {
          if (c.tail_ms > 0) {
            c.status = ConnectorStatus::kSuspendedEV;
            c.until_ms = t + c.tail_ms;
          } else {
            c.status = ConnectorStatus::kFinishing;
            c.until_ms = t + int64_t(r.Uniform(1, 3) * kMinuteMs);
          }
          break;
        }
        double kw = c.session_kw;
        if (s.dc) {
          // DC taper: power falls as the battery fills.
          double progress = std::clamp(double(t - c.charge_start_ms) / double(std::max<int64_t>(1, c.charge_ms)), 0.0, 1.0);
          kw *= 1.0 - 0.6 * std::pow(progress, 1.5);
        }
        kw *= r.Uniform(0.98, 1.02);
        c.power_kw = float(std::round(kw * 100) / 100);
        c.energy_kwh += double(c.power_kw) * hours;
        break;
      }
      case ConnectorStatus::kSuspendedEV:
        if (t < c.until_ms) break;
        c.status = ConnectorStatus::kFinishing;
        c.until_ms = t + int64_t(r.Uniform(1, 3) * kMinuteMs);
        break;
      case ConnectorStatus::kFinishing:
        if (t < c.until_ms) break;
        c.status = ConnectorStatus::kAvailable;
        c.in_session = false;
        ended = true;
        break;
      case ConnectorStatus::kFaulted:
        if (t < c.until_ms) break;
        c.status = ConnectorStatus::kAvailable;
        break;
    }
    return {started, ended};
  }

  bool Silent(SensorSim& s) {
    if (s.silent_left > 0) {
      --s.silent_left;
      return true;
    }
    if (dropout_probability_ > 0 && s.dropout.Chance(dropout_probability_)) {
      s.silent_left = int(s.dropout.UniformInt(3, 30)) - 1;
      return true;
    }
    return false;
  }

  void Emit(int64_t t, std::vector<Reading>& out, FacilityEvents& ev) {
    size_t before = out.size();
    auto add = [&](const SensorSim& s, std::string point, gateway::Value v) {
      Reading r;
      r.facility_id = id_;
      r.sensor_id = s.cfg.id;
      r.point = std::move(point);
      r.value = std::move(v);
      r.ts_ms = t;
      r.quality = gateway::Quality::kGood;
      out.push_back(std::move(r));
    };
    for (SensorSim& s : sensors_) {
      if (Silent(s)) continue;
      switch (s.cfg.kind) {
        case SensorKind::kDoorCounter:
          add(s, "entries_total", uint64_t(s.entries));
          add(s, "exits_total", uint64_t(s.exits));
          break;
        case SensorKind::kOccupancy:
          add(s, "occupancy", uint32_t(people_.size()));
          break;
        case SensorKind::kSeat:
        case SensorKind::kEquipment:
          add(s, s.cfg.kind == SensorKind::kSeat ? "occupied" : "in_use", bool(s.on));
          break;
        case SensorKind::kMealTerminal:
          add(s, "meals_total", uint64_t(s.total));
          break;
        case SensorKind::kCheckinTerminal:
          add(s, "checkins_total", uint64_t(s.total));
          break;
        case SensorKind::kFeedbackTerminal:
          for (size_t b = 0; b < s.presses.size() && b < s.cfg.buttons.size(); ++b) {
            std::string point = "button/";
            point.append(s.cfg.buttons[b].name).append("_total");
            add(s, std::move(point), uint64_t(s.presses[b]));
          }
          break;
        case SensorKind::kCallButton:
          // An idle cord reports its state like a polled input; the simulator never calls.
          add(s, "pressed", false);
          break;
        case SensorKind::kChargePoint:
          for (size_t n = 0; n < s.connectors.size(); ++n) {
            const Connector& c = s.connectors[n];
            std::string prefix = "connector/" + std::to_string(n + 1) + "/";
            add(s, prefix + "status", std::string(ConnectorStatusName(c.status)));
            add(s, prefix + "power_kw", float(c.power_kw));
            // Whole Wh, as a meter register shows; rounding keeps it monotonic.
            add(s, prefix + "energy_kwh", double(std::floor(c.energy_kwh * 1000) / 1000));
          }
          break;
      }
    }
    ev.readings += out.size() - before;
  }

  std::string id_;
  FacilityType type_;
  uint32_t capacity_;
  std::vector<gateway::OpeningPeriod> opening_;
  gateway::TimeZone tz_;
  int64_t interval_ms_;
  double dropout_probability_;
  Rng rng_;
  std::vector<SensorSim> sensors_;
  std::vector<size_t> doors_, meal_terminals_, checkin_terminals_, seats_, equipment_, charge_points_,
      feedback_terminals_;
  bool cars_at_connectors_ = false;
  std::vector<Person> people_;
  int64_t day_ = std::numeric_limits<int64_t>::min();
  double day_factor_ = 1.0;
};

// ---------------------------------------------------------------------------------------
// Simulation

gateway::Result<std::unique_ptr<Simulation>> Simulation::Create(const gateway::Config& config,
                                                                const SimulationOptions& options) {
  std::unique_ptr<Simulation> sim(new Simulation());
  for (size_t i = 0; i < config.facilities.size(); ++i) {
    const auto& f = config.facilities[i];
    const std::string& zone = f.timezone.empty() ? config.timezone : f.timezone;
    auto tz = gateway::TimeZone::Load(zone);
    if (!tz.ok()) {
      return gateway::Status::InvalidArgument("facility " + f.id + ": " + tz.status().message());
    }
    sim->facilities_.push_back(std::make_unique<FacilitySim>(f, i, tz.value(), options));
  }
  return sim;
}

Simulation::~Simulation() = default;

void Simulation::Step(int64_t t_ms, std::vector<Reading>& out, std::vector<FacilityStepResult>* results) {
  for (size_t i = 0; i < facilities_.size(); ++i) {
    FacilityStepResult r;
    r.facility_index = i;
    facilities_[i]->Step(t_ms, out, &r);
    if (results) results->push_back(r);
  }
}

const std::string& Simulation::facility_id(size_t i) const { return facilities_[i]->id(); }

uint32_t Simulation::present(size_t i) const { return facilities_[i]->present(); }

}  // namespace simulator
