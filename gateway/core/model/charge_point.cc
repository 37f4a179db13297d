// charge_point: connector/{n}/status (OCPP 1.6 ChargePointStatus), power_kw and
// energy_kwh per connector, republished as the facility-wide connectors/{N}/...; a
// session is a run of Charging/SuspendedEV/SuspendedEVSE, completed in the day it
// ends (sessions/completed). A connector has no status until its charge point sends
// one: nothing is published for it before, so no figure counts a status nobody sent.
#include <spdlog/spdlog.h>

#include "core/model/sensor_kind.h"

namespace gateway::model {

namespace {

// Connector states in which a car is at the connector (a charging station's occupancy).
bool ConnectorOccupied(const std::string& s) {
  return s == "Preparing" || s == "Charging" || s == "SuspendedEV" || s == "SuspendedEVSE" || s == "Finishing";
}

// Connector states that make up a charging session; leaving them completes it.
bool SessionActive(const std::string& s) { return s == "Charging" || s == "SuspendedEV" || s == "SuspendedEVSE"; }

std::string ConnectorPoint(uint32_t n, const char* what) {
  std::string p = "connectors/";
  p.append(std::to_string(n)).push_back('/');
  p.append(what);
  return p;
}

uint32_t ActiveSessions(const FacilityState& f) {
  uint32_t n = 0;
  for (const auto& s : f.sensors) {
    for (const auto& c : s.connectors) {
      if (c.status.value && SessionActive(*c.status.value)) ++n;
    }
  }
  return n;
}

class ChargePoint final : public SensorKindRules {
 public:
  void Configure(const SensorConfig& sc, FacilityState& f, SensorState& s) const override {
    uint32_t base = 0;
    for (const auto& other : f.sensors) base += uint32_t(other.connectors.size());
    s.connector_base = base;
    s.connectors.resize(sc.connectors);
    f.DeclareDaily("sessions/completed", false);
  }

  void Consume(FacilityState& f, SensorState& s, const Reading& r, Emitter& em) const override {
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
      spdlog::debug("facility {}: {} has no connector {} in the config; {} ignored", f.id, s.id, n, r.point);
      return;
    }
    ConnectorState& c = s.connectors[n - 1];
    const uint32_t global = s.connector_base + n;
    const std::string field = r.point.substr(slash + 1);
    const int64_t ts = r.ts_ms;
    if (field == "status") {
      const auto* v = std::get_if<std::string>(&r.value);
      if (!v) return LogWrongType(f, s, r);
      const bool was_active = c.status.value && SessionActive(*c.status.value);
      if (!c.status.Offer(*v, ts)) return;
      em.Emit(f.id, ConnectorPoint(global, "status"), *v, ts);
      em.Emit(f.id, "sessions/active", ActiveSessions(f), ts);
      f.AddToDay("sessions/completed", ts, was_active && !SessionActive(*v) ? 1 : 0, em);
      if (f.occupancy_source == SensorKind::kChargePoint) f.EmitOccupancy(em, ts);
    } else if (field == "power_kw") {
      auto v = AsNumber(r.value);
      if (!v) return LogWrongType(f, s, r);
      if (!c.power_kw.Offer(float(*v), ts)) return;
      em.Emit(f.id, ConnectorPoint(global, "power_kw"), float(*v), ts);
    } else if (field == "energy_kwh") {
      auto v = AsNumber(r.value);
      if (!v) return LogWrongType(f, s, r);
      if (!c.energy_kwh.Offer(*v, ts)) return;
      em.Emit(f.id, ConnectorPoint(global, "energy_kwh"), *v, ts);
    }
  }

  uint64_t SensorOccupancy(const SensorState& s) const override {
    uint64_t n = 0;
    for (const auto& c : s.connectors) {
      if (c.status.value && ConnectorOccupied(*c.status.value)) ++n;
    }
    return n;
  }

  void Describe(const FacilityState&, const SensorState& s, int64_t, FacilitySnapshot& out) const override {
    for (size_t n = 0; n < s.connectors.size(); ++n) {
      const ConnectorState& c = s.connectors[n];
      out.connectors.push_back({s.connector_base + uint32_t(n) + 1, s.id, c.status.value.value_or(""),
                                double(c.power_kw.value.value_or(0.0f))});
    }
  }
};

}  // namespace

const SensorKindRules& ChargePointRules() {
  static const ChargePoint rules;
  return rules;
}

}  // namespace gateway::model
