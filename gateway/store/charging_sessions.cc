#include "store/charging_sessions.h"

#include <type_traits>

namespace gateway::store {

namespace {

constexpr const char kPrefix[] = "connector/";
constexpr const char kSuffix[] = "/transaction";

// n of "connector/{n}/transaction", 0 when the point is not one.
uint32_t TransactionConnector(const std::string& point) {
  const size_t pre = sizeof kPrefix - 1, suf = sizeof kSuffix - 1;
  if (point.size() <= pre + suf || point.compare(0, pre, kPrefix) != 0 ||
      point.compare(point.size() - suf, suf, kSuffix) != 0) {
    return 0;
  }
  uint64_t n = 0;
  for (size_t i = pre; i < point.size() - suf; ++i) {
    const char c = point[i];
    if (c < '0' || c > '9' || n > 1000000) return 0;
    n = n * 10 + uint64_t(c - '0');
  }
  return uint32_t(n);
}

std::optional<int64_t> IntCell(const Scalar& v) {
  return std::visit(
      [](const auto& x) -> std::optional<int64_t> {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
          if constexpr (std::is_same_v<T, uint64_t>) {
            if (x > uint64_t(INT64_MAX)) return std::nullopt;
          }
          return int64_t(x);
        } else {
          return std::nullopt;
        }
      },
      v);
}

std::optional<double> NumberCell(const Scalar& v) {
  if (const auto* d = std::get_if<double>(&v)) return *d;
  if (const auto* f = std::get_if<float>(&v)) return double(*f);
  if (auto i = IntCell(v)) return double(*i);
  return std::nullopt;
}

}  // namespace

Result<std::optional<ChargingSession>> SessionFromReading(const Reading& r) {
  const uint32_t connector = TransactionConnector(r.point);
  if (connector == 0 || r.sensor_id.empty()) return std::optional<ChargingSession>();
  const auto* ds = std::get_if<DataSet>(&r.value);
  if (!ds) return Status::InvalidArgument(r.MetricName() + ": not a DataSet");
  if (ds->rows.size() != 1) {
    return Status::InvalidArgument(r.MetricName() + ": " + std::to_string(ds->rows.size()) + " rows, want 1");
  }
  const auto& row = ds->rows.front();
  auto cell = [&](const char* name) -> const Scalar* {
    for (size_t i = 0; i < ds->columns.size() && i < row.size(); ++i) {
      if (ds->columns[i] == name) return &row[i];
    }
    return nullptr;
  };
  ChargingSession s;
  s.facility = r.facility_id;
  s.sensor = r.sensor_id;
  s.connector = connector;
  std::string missing;
  auto int_col = [&](const char* name, int64_t* out) {
    const Scalar* c = cell(name);
    auto v = c ? IntCell(*c) : std::nullopt;
    if (v) *out = *v; else missing += std::string(missing.empty() ? "" : ", ") + name;
  };
  auto num_col = [&](const char* name, double* out) {
    const Scalar* c = cell(name);
    auto v = c ? NumberCell(*c) : std::nullopt;
    if (v) *out = *v; else missing += std::string(missing.empty() ? "" : ", ") + name;
  };
  auto text_col = [&](const char* name, std::string* out) {
    const Scalar* c = cell(name);
    const auto* v = c ? std::get_if<std::string>(c) : nullptr;
    if (v) *out = *v; else missing += std::string(missing.empty() ? "" : ", ") + name;
  };
  int_col("transaction_id", &s.transaction_id);
  int_col("start_ms", &s.start_ms);
  int_col("stop_ms", &s.stop_ms);
  num_col("meter_start_kwh", &s.meter_start_kwh);
  num_col("meter_stop_kwh", &s.meter_stop_kwh);
  num_col("energy_kwh", &s.energy_kwh);
  text_col("stop_reason", &s.stop_reason);
  text_col("id_tag_hash", &s.id_tag_hash);
  if (!missing.empty()) {
    return Status::InvalidArgument(r.MetricName() + ": missing or mistyped columns: " + missing);
  }
  return std::optional<ChargingSession>(std::move(s));
}

Status InsertSessions(SqliteDb& db, const std::vector<ChargingSession>& sessions) {
  if (sessions.empty()) return Status::Ok();
  auto st = db.Prepare(
      "INSERT OR IGNORE INTO charging_session(facility, sensor, connector, transaction_id, day, start_ms, "
      "stop_ms, meter_start_kwh, meter_stop_kwh, energy_kwh, stop_reason, id_tag_hash) "
      "VALUES(?,?,?,?,?,?,?,?,?,?,?,?)");
  if (!st.ok()) return st.status();
  for (const auto& s : sessions) {
    st->BindText(1, s.facility);
    st->BindText(2, s.sensor);
    st->BindInt(3, s.connector);
    st->BindInt(4, s.transaction_id);
    st->BindInt(5, s.day);
    st->BindInt(6, s.start_ms);
    st->BindInt(7, s.stop_ms);
    st->BindDouble(8, s.meter_start_kwh);
    st->BindDouble(9, s.meter_stop_kwh);
    st->BindDouble(10, s.energy_kwh);
    st->BindText(11, s.stop_reason);
    st->BindText(12, s.id_tag_hash);
    Status r = st->Run();
    st->Reset();
    if (!r.ok()) return r;
  }
  return Status::Ok();
}

Status PurgeSessionsBefore(SqliteDb& db, int64_t day) {
  auto st = db.Prepare("DELETE FROM charging_session WHERE day < ?");
  if (!st.ok()) return st.status();
  st->BindInt(1, day);
  return st->Run();
}

Result<std::vector<ChargingSession>> ReadSessions(SqliteDb& db, const std::string& facility, int64_t day_from,
                                                  int64_t day_to) {
  auto st = db.Prepare(
      "SELECT sensor, connector, transaction_id, day, start_ms, stop_ms, meter_start_kwh, meter_stop_kwh, "
      "energy_kwh, stop_reason, id_tag_hash FROM charging_session "
      "WHERE facility = ? AND day BETWEEN ? AND ? ORDER BY start_ms, sensor, connector");
  if (!st.ok()) return st.status();
  st->BindText(1, facility);
  st->BindInt(2, day_from);
  st->BindInt(3, day_to);
  std::vector<ChargingSession> out;
  for (;;) {
    auto row = st->Step();
    if (!row.ok()) return row.status();
    if (!row.value()) break;
    ChargingSession s;
    s.facility = facility;
    s.sensor = st->Text(0);
    s.connector = uint32_t(st->Int(1));
    s.transaction_id = st->Int(2);
    s.day = st->Int(3);
    s.start_ms = st->Int(4);
    s.stop_ms = st->Int(5);
    s.meter_start_kwh = st->Double(6);
    s.meter_stop_kwh = st->Double(7);
    s.energy_kwh = st->Double(8);
    s.stop_reason = st->Text(9);
    s.id_tag_hash = st->Text(10);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace gateway::store
