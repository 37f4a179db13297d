#include "ocpp/ocpp_session.h"

#include <cmath>
#include <cstdlib>

#include "ocpp/ocpp_protocol.h"

namespace ocpp {

using gateway::DataSet;
using gateway::DataType;
using gateway::Reading;
using nlohmann::json;

int32_t TransactionBook::Allocate() {
  const int32_t id = next_id_;
  next_id_ = next_id_ >= INT32_MAX - 1 ? 1 : next_id_ + 1;  // wraps after 2^31 sessions
  return id;
}

std::optional<OpenTransaction> TransactionBook::Close(int32_t id) {
  auto it = open_.find(id);
  if (it == open_.end()) return std::nullopt;
  OpenTransaction t = std::move(it->second);
  open_.erase(it);
  return t;
}

const OpenTransaction* TransactionBook::Find(int32_t id) const {
  auto it = open_.find(id);
  return it == open_.end() ? nullptr : &it->second;
}

std::string TransactionBook::ToJson() const {
  json open = json::array();
  for (const auto& [id, t] : open_) {
    open.push_back({{"id", t.id},
                    {"charge_point", t.charge_point},
                    {"connector", t.connector},
                    {"start_ms", t.start_ms},
                    {"meter_start_kwh", t.meter_start_kwh},
                    {"id_tag_hash", t.id_tag_hash}});
  }
  return json{{"next_transaction_id", next_id_}, {"open", open}}.dump(1, ' ', false, json::error_handler_t::replace) +
         "\n";
}

std::optional<TransactionBook> TransactionBook::FromJson(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("next_transaction_id") || !j["next_transaction_id"].is_number_integer()) {
    return std::nullopt;
  }
  TransactionBook book(j["next_transaction_id"].get<int32_t>());
  if (j.contains("open") && j["open"].is_array()) {
    for (const auto& o : j["open"]) {
      if (!o.is_object()) continue;
      OpenTransaction t;
      t.id = o.value("id", 0);
      t.charge_point = o.value("charge_point", "");
      t.connector = o.value("connector", 0);
      t.start_ms = o.value("start_ms", int64_t(0));
      t.meter_start_kwh = o.value("meter_start_kwh", 0.0);
      t.id_tag_hash = o.value("id_tag_hash", "");
      if (t.id != 0) book.Open(std::move(t));
    }
  }
  return book;
}

int64_t PlausibleTime(const json& timestamp, int64_t now_ms) {
  if (!timestamp.is_string()) return now_ms;
  auto t = ParseDateTime(timestamp.get_ref<const std::string&>());
  if (!t || *t < now_ms - 24 * 3600 * 1000LL || *t > now_ms + 5 * 60 * 1000LL) return now_ms;
  return *t;
}

namespace {

std::optional<int64_t> IntOf(const json& v) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::isfinite(d) && std::fabs(d) < 9e15) return int64_t(d);
  }
  return std::nullopt;
}

std::optional<double> Number(const std::string& s) {
  if (s.empty() || s.size() > 40) return std::nullopt;
  char* end = nullptr;
  double d = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(d)) return std::nullopt;
  return d;
}

}  // namespace

ChargePointModel::ChargePointModel(std::string charge_point, std::string facility, std::string sensor, int connectors,
                                   Hasher hash)
    : charge_point_(std::move(charge_point)),
      facility_(std::move(facility)),
      sensor_(std::move(sensor)),
      connectors_(size_t(connectors < 0 ? 0 : connectors)),
      hash_(std::move(hash)) {}

Reading ChargePointModel::Make(const std::string& point, gateway::Value v, int64_t ts) const {
  Reading r;
  r.facility_id = facility_;
  r.sensor_id = sensor_;
  r.point = point;
  r.value = std::move(v);
  r.ts_ms = ts;
  return r;
}

Reading ChargePointModel::Online(bool online, int64_t now_ms) const { return Make("online", online, now_ms); }

int32_t ChargePointModel::transaction_on(int connector) const {
  return Valid(connector) ? connectors_[size_t(connector - 1)].transaction_id : 0;
}

void ChargePointModel::MeterValues(int connector, const json& meter_values, int64_t now_ms, CallEffect* out,
                                   std::optional<double>* last_energy_kwh) const {
  if (!meter_values.is_array()) return;
  const std::string prefix = "connector/" + std::to_string(connector) + "/";
  for (const auto& mv : meter_values) {
    if (!mv.is_object() || !mv.contains("sampledValue") || !mv["sampledValue"].is_array()) continue;
    const int64_t ts = PlausibleTime(mv.value("timestamp", json()), now_ms);
    std::optional<double> power_total, power_phases, energy;
    for (const auto& sv : mv["sampledValue"]) {
      if (!sv.is_object() || !sv.contains("value") || !sv["value"].is_string()) continue;
      if (sv.value("format", "Raw") != "Raw" || sv.value("location", "Outlet") == "EV") continue;
      auto v = Number(sv["value"].get<std::string>());
      if (!v) continue;
      const std::string measurand = sv.value("measurand", "Energy.Active.Import.Register");
      const std::string phase = sv.value("phase", "");
      if (measurand == "Power.Active.Import") {
        const std::string unit = sv.value("unit", "W");
        double kw = unit == "kW" ? *v : unit == "W" ? *v / 1000.0 : NAN;
        if (std::isnan(kw)) continue;
        if (phase.empty()) {
          power_total = kw;
        } else if (phase == "L1" || phase == "L2" || phase == "L3" || phase == "L1-N" || phase == "L2-N" ||
                   phase == "L3-N") {
          power_phases = power_phases.value_or(0) + kw;
        }
      } else if (measurand == "Energy.Active.Import.Register" && phase.empty()) {
        const std::string unit = sv.value("unit", "Wh");
        double kwh = unit == "kWh" ? *v : unit == "Wh" ? *v / 1000.0 : NAN;
        if (!std::isnan(kwh)) energy = kwh;
      }
    }
    if (!power_total) power_total = power_phases;
    if (power_total) out->readings.push_back(Make(prefix + "power_kw", float(*power_total), ts));
    if (energy) {
      out->readings.push_back(Make(prefix + "energy_kwh", *energy, ts));
      if (last_energy_kwh) *last_energy_kwh = energy;
    }
  }
}

CallEffect ChargePointModel::OnCall(const std::string& action, const json& req, const json& conf, int64_t now_ms,
                                    TransactionBook& book) {
  CallEffect out;
  if (action == "StatusNotification") {
    auto n = IntOf(req.value("connectorId", json()));
    const std::string status = req.value("status", "");
    const int64_t ts = PlausibleTime(req.value("timestamp", json()), now_ms);
    if (!n || status.empty()) return out;
    if (*n == 0) {
      if (status != "Unavailable" && status != "Faulted") return out;
      for (size_t i = 0; i < connectors_.size(); ++i) {
        connectors_[i].status = status;
        out.readings.push_back(Make("connector/" + std::to_string(i + 1) + "/status", status, ts));
      }
      out.note = "charge point " + status;
      return out;
    }
    if (!Valid(int(*n))) {
      out.note = "no connector " + std::to_string(*n) + " in the config; status ignored";
      return out;
    }
    connectors_[size_t(*n - 1)].status = status;
    out.readings.push_back(Make("connector/" + std::to_string(*n) + "/status", status, ts));
    return out;
  }
  if (action == "MeterValues") {
    auto n = IntOf(req.value("connectorId", json()));
    if (!n || !Valid(int(*n))) return out;  // connector 0 is the main meter: not a connector's
    MeterValues(int(*n), req.value("meterValue", json()), now_ms, &out, nullptr);
    return out;
  }
  if (action == "StartTransaction") {
    auto n = IntOf(req.value("connectorId", json()));
    auto tx = IntOf(conf.value("transactionId", json()));
    auto meter = IntOf(req.value("meterStart", json()));
    if (!n || !tx || !meter || *tx < INT32_MIN || *tx > INT32_MAX) return out;
    OpenTransaction t;
    t.id = int32_t(*tx);
    t.charge_point = charge_point_;
    t.connector = int(*n);
    t.start_ms = PlausibleTime(req.value("timestamp", json()), now_ms);
    t.meter_start_kwh = double(*meter) / 1000.0;
    t.id_tag_hash = hash_(req.value("idTag", ""));
    out.note = "transaction " + std::to_string(t.id) + " started on connector " + std::to_string(*n) + " by idTag #" +
               t.id_tag_hash;
    if (Valid(int(*n))) {
      connectors_[size_t(*n - 1)].transaction_id = t.id;
      const std::string prefix = "connector/" + std::to_string(*n) + "/";
      out.readings.push_back(Make(prefix + "transaction_id", t.id, t.start_ms));
      out.readings.push_back(Make(prefix + "energy_kwh", t.meter_start_kwh, t.start_ms));
    }
    book.Open(std::move(t));
    out.book_changed = true;
    return out;
  }
  if (action == "StopTransaction") {
    auto tx = IntOf(req.value("transactionId", json()));
    auto meter = IntOf(req.value("meterStop", json()));
    if (!tx || !meter || *tx < INT32_MIN || *tx > INT32_MAX) return out;
    const int64_t stop_ms = PlausibleTime(req.value("timestamp", json()), now_ms);
    auto open = book.Close(int32_t(*tx));
    out.book_changed = open.has_value();
    int connector = open ? open->connector : 0;
    if (!open) {  // not in the book (lost): the connector that runs it, if any
      for (size_t i = 0; i < connectors_.size(); ++i) {
        if (connectors_[i].transaction_id == *tx) connector = int(i + 1);
      }
    }
    if (!Valid(connector)) {
      out.note =
          "StopTransaction of transaction " + std::to_string(*tx) + " the gateway never saw start: no session row";
      return out;
    }
    const std::string prefix = "connector/" + std::to_string(connector) + "/";
    std::optional<double> last;
    MeterValues(connector, req.value("transactionData", json()), now_ms, &out, &last);
    const double stop_kwh = double(*meter) / 1000.0;
    const double start_kwh = open ? open->meter_start_kwh : stop_kwh;
    const std::string reason = req.value("reason", "Local");
    std::string tag_hash = open ? open->id_tag_hash : "";
    if (req.contains("idTag") && tag_hash.empty()) tag_hash = hash_(req["idTag"].get<std::string>());
    connectors_[size_t(connector - 1)].transaction_id = 0;
    out.readings.push_back(Make(prefix + "energy_kwh", stop_kwh, stop_ms));
    out.readings.push_back(Make(prefix + "power_kw", 0.0f, stop_ms));
    out.readings.push_back(Make(prefix + "transaction_id", int32_t(0), stop_ms));
    DataSet row;
    row.columns = {"transaction_id", "start_ms",   "stop_ms",     "meter_start_kwh",
                   "meter_stop_kwh", "energy_kwh", "stop_reason", "id_tag_hash"};
    row.types = {DataType::kInt32,  DataType::kInt64,  DataType::kInt64,  DataType::kDouble,
                 DataType::kDouble, DataType::kDouble, DataType::kString, DataType::kString};
    row.rows.push_back({int32_t(*tx), int64_t(open ? open->start_ms : stop_ms), int64_t(stop_ms), start_kwh, stop_kwh,
                        std::max(0.0, stop_kwh - start_kwh), reason, tag_hash});
    out.readings.push_back(Make(prefix + "transaction", std::move(row), stop_ms));
    out.note = "transaction " + std::to_string(*tx) + " stopped on connector " + std::to_string(connector) + " (" +
               reason + ", " + std::to_string(stop_kwh - start_kwh) + " kWh)";
    return out;
  }
  return out;
}

}  // namespace ocpp
