#include "pg_store.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

#include "daily_report_row.h"
#include "migrations.h"
#include "pg_connect.h"

namespace host {

namespace {

constexpr int64_t kDayMs = 86400000;

int64_t DayOf(int64_t ts_ms) { return ts_ms >= 0 ? ts_ms / kDayMs : (ts_ms - kDayMs + 1) / kDayMs; }

std::string PartitionName(int64_t day) {
  // Days since 1970-01-01 as a civil date (Howard Hinnant's algorithm).
  int64_t z = day + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
  char buf[80];
  std::snprintf(buf, sizeof buf, "samples_p%04lld%02lld%02lld", (long long)y, (long long)m, (long long)d);
  return buf;
}

// COPY text format: backslash, tab, newline and carriage return escaped.
void AppendCopyText(std::string& out, std::string_view s) {
  for (char c : s) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      default: out += c;
    }
  }
}

// The value columns v_bool, v_int, v_double, v_text of one sample, tab-separated. A
// UInt64 above the bigint range goes into v_text as decimal digits.
void AppendValue(std::string& out, const gateway::Value& v) {
  const char* n = "\\N";
  auto cols = [&](const std::string& b, const std::string& i, const std::string& d, const std::string& t) {
    out += b; out += '\t'; out += i; out += '\t'; out += d; out += '\t'; out += t;
  };
  switch (v.index()) {
    case 0: cols(std::get<bool>(v) ? "t" : "f", n, n, n); break;
    case 1: cols(n, std::to_string(std::get<int32_t>(v)), n, n); break;
    case 2: cols(n, std::to_string(std::get<int64_t>(v)), n, n); break;
    case 3: cols(n, std::to_string(std::get<uint32_t>(v)), n, n); break;
    case 4: {
      uint64_t u = std::get<uint64_t>(v);
      if (u > uint64_t(std::numeric_limits<int64_t>::max())) cols(n, n, n, std::to_string(u));
      else cols(n, std::to_string(u), n, n);
      break;
    }
    case 5:
    case 6: {
      double d = v.index() == 5 ? double(std::get<float>(v)) : std::get<double>(v);
      char buf[40];
      if (std::isnan(d)) std::snprintf(buf, sizeof buf, "NaN");
      else if (std::isinf(d)) std::snprintf(buf, sizeof buf, d > 0 ? "Infinity" : "-Infinity");
      else std::snprintf(buf, sizeof buf, "%.17g", d);
      cols(n, n, buf, n);
      break;
    }
    case 7: {
      std::string t;
      AppendCopyText(t, std::get<std::string>(v));
      cols(n, n, n, t);
      break;
    }
    case 8: {
      std::string t;
      AppendCopyText(t, gateway::DataSetToJson(std::get<gateway::DataSet>(v)));
      cols(n, n, n, t);
      break;
    }
  }
}

// A PostgreSQL array literal of text (for unnest), quoted and escaped.
std::string TextArray(const std::vector<std::string>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    out += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

}  // namespace

PgStore::PgStore(std::string conninfo, std::string password, std::string host_id)
    : conninfo_(std::move(conninfo)), password_(std::move(password)), host_id_(std::move(host_id)) {}

PgStore::~PgStore() {
  if (conn_) PQfinish(conn_);
}

bool PgStore::connected() const { return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK; }

gateway::Status PgStore::Fail(const std::string& what) {
  std::string msg = what;
  msg += ": ";
  msg += conn_ ? PQerrorMessage(conn_) : "no connection";
  while (!msg.empty() && msg.back() == '\n') msg.pop_back();
  if (conn_ && PQstatus(conn_) != CONNECTION_OK) {
    PQfinish(conn_);
    conn_ = nullptr;
  }
  return gateway::Status::Unavailable(msg);
}

gateway::Status PgStore::Exec(const char* sql) {
  PgResult r(PQexec(conn_, sql));
  if (r.status() != PGRES_COMMAND_OK && r.status() != PGRES_TUPLES_OK) return Fail("PostgreSQL");
  return gateway::Status::Ok();
}

gateway::Status PgStore::Ensure() {
  if (connected()) return gateway::Status::Ok();
  if (conn_) PQfinish(conn_);
  conn_ = OpenPg(conninfo_, password_, "community-host");
  if (PQstatus(conn_) != CONNECTION_OK) return Fail("cannot connect to PostgreSQL");
  partitions_.clear();
  if (auto s = Migrate(); !s.ok()) return s;
  auto s = Exec(
      "CREATE TEMP TABLE samples_stage (group_id text, edge_node text, device text, metric text, ts_ms bigint,"
      " datatype smallint, v_bool boolean, v_int bigint, v_double double precision, v_text text,"
      " historical boolean) ON COMMIT DELETE ROWS");
  if (!s.ok()) return s;
  // The board's acknowledge requests wake the host loop (alarm_commands.h).
  return Exec("LISTEN alarm_ack");
}

gateway::Status PgStore::Migrate() {
  // Several instances may start together over one database: one migrates at a time.
  if (auto s = Exec("SELECT pg_advisory_lock(727274001)"); !s.ok()) return s;
  if (auto s = Exec("CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY,"
                    " applied_at timestamptz NOT NULL DEFAULT now())");
      !s.ok())
    return s;
  for (const Migration& m : Migrations()) {
    std::string v = std::to_string(m.version);
    const char* params[] = {v.c_str()};
    PgResult r(PQexecParams(conn_, "SELECT 1 FROM schema_migrations WHERE version = $1", 1, nullptr, params, nullptr,
                       nullptr, 0));
    if (r.status() != PGRES_TUPLES_OK) return Fail("reading schema_migrations");
    if (PQntuples(r.r) > 0) continue;
    if (auto s = Exec("BEGIN"); !s.ok()) return s;
    PgResult a(PQexec(conn_, m.sql));
    if (a.status() != PGRES_COMMAND_OK) {
      auto st = Fail("migration " + v);
      if (conn_) PgResult(PQexec(conn_, "ROLLBACK"));
      return st;
    }
    PgResult b(PQexecParams(conn_, "INSERT INTO schema_migrations (version) VALUES ($1)", 1, nullptr, params, nullptr,
                       nullptr, 0));
    if (b.status() != PGRES_COMMAND_OK) return Fail("recording migration " + v);
    if (auto s = Exec("COMMIT"); !s.ok()) return s;
    spdlog::info("PostgreSQL: migration {} applied", m.version);
  }
  return Exec("SELECT pg_advisory_unlock(727274001)");
}

gateway::Status PgStore::EnsurePartitions(const std::vector<SampleRow>& samples) {
  std::set<int64_t> want;
  for (const auto& s : samples) {
    int64_t d = DayOf(s.ts_ms);
    if (!partitions_.count(d)) want.insert(d);
  }
  for (int64_t d : want) {
    std::string sql = "CREATE TABLE IF NOT EXISTS ";
    sql += PartitionName(d);
    sql += " PARTITION OF samples FOR VALUES FROM (";
    sql += std::to_string(d * kDayMs);
    sql += ") TO (";
    sql += std::to_string((d + 1) * kDayMs);
    sql += ")";
    PgResult r(PQexec(conn_, sql.c_str()));
    if (r.status() != PGRES_COMMAND_OK) {
      // Another host instance created it at the same moment: fine once it exists.
      const char* state = PQresultErrorField(r.r, PG_DIAG_SQLSTATE);
      if (!(state && (std::strcmp(state, "42P07") == 0 || std::strcmp(state, "23505") == 0)))
        return Fail("creating partition " + PartitionName(d));
    }
    partitions_.insert(d);
  }
  return gateway::Status::Ok();
}

gateway::Result<CommitResult> PgStore::Commit(const std::vector<SampleRow>& samples,
                                              const std::vector<LifecycleEvent>& events,
                                              const std::vector<AlarmRow>& alarms, int64_t now_ms) {
  if (auto s = Ensure(); !s.ok()) return s;
  if (auto s = EnsurePartitions(samples); !s.ok()) return s;
  CommitResult result;
  auto abort = [&](const std::string& what) -> gateway::Status {
    auto st = Fail(what);
    if (conn_) {
      PgResult r(PQexec(conn_, "ROLLBACK"));
    }
    return st;
  };
  if (auto s = Exec("BEGIN"); !s.ok()) return s;

  if (!samples.empty()) {
    PgResult c(PQexec(conn_,
                 "COPY samples_stage (group_id, edge_node, device, metric, ts_ms, datatype, v_bool, v_int, v_double,"
                 " v_text, historical) FROM STDIN"));
    if (c.status() != PGRES_COPY_IN) return abort("COPY into the staging table");
    std::string buf;
    buf.reserve(1 << 16);
    for (const auto& s : samples) {
      AppendCopyText(buf, s.group); buf += '\t';
      AppendCopyText(buf, s.edge_node); buf += '\t';
      AppendCopyText(buf, s.device); buf += '\t';
      AppendCopyText(buf, s.metric); buf += '\t';
      buf += std::to_string(s.ts_ms); buf += '\t';
      buf += std::to_string(uint32_t(gateway::DataTypeOf(s.value))); buf += '\t';
      AppendValue(buf, s.value); buf += '\t';
      buf += s.historical ? "t\n" : "f\n";
      if (buf.size() > (1 << 16)) {
        if (PQputCopyData(conn_, buf.data(), int(buf.size())) != 1) return abort("COPY data");
        buf.clear();
      }
    }
    if (!buf.empty() && PQputCopyData(conn_, buf.data(), int(buf.size())) != 1) return abort("COPY data");
    if (PQputCopyEnd(conn_, nullptr) != 1) return abort("COPY end");
    PgResult end(PQgetResult(conn_));
    if (end.status() != PGRES_COMMAND_OK) return abort("COPY into the staging table");
    while (PGresult* extra = PQgetResult(conn_)) PQclear(extra);

    const std::string now = std::to_string(now_ms);
    const char* params[] = {now.c_str()};
    PgResult ins(PQexecParams(conn_,
                         "INSERT INTO samples (group_id, edge_node, device, metric, ts_ms, datatype, v_bool, v_int,"
                         " v_double, v_text, historical, received_ms)"
                         " SELECT group_id, edge_node, device, metric, ts_ms, datatype, v_bool, v_int, v_double, v_text,"
                         " historical, $1 FROM samples_stage ON CONFLICT DO NOTHING",
                         1, nullptr, params, nullptr, nullptr, 0));
    if (ins.status() != PGRES_COMMAND_OK) return abort("moving samples from the staging table");
    result.inserted = std::strtoull(PQcmdTuples(ins.r), nullptr, 10);
    result.duplicates = samples.size() - result.inserted;

    // Historical samples never become the live value, and an older sample never
    // replaces a newer one.
    PgResult live(PQexec(conn_,
                    "INSERT INTO live_values (group_id, edge_node, device, metric, ts_ms, datatype, v_bool, v_int,"
                    " v_double, v_text)"
                    " SELECT DISTINCT ON (group_id, edge_node, device, metric) group_id, edge_node, device, metric,"
                    " ts_ms, datatype, v_bool, v_int, v_double, v_text FROM samples_stage WHERE NOT historical"
                    " ORDER BY group_id, edge_node, device, metric, ts_ms DESC"
                    " ON CONFLICT (group_id, edge_node, device, metric) DO UPDATE SET ts_ms = excluded.ts_ms,"
                    " datatype = excluded.datatype, v_bool = excluded.v_bool, v_int = excluded.v_int,"
                    " v_double = excluded.v_double, v_text = excluded.v_text"
                    " WHERE live_values.ts_ms < excluded.ts_ms"));
    if (live.status() != PGRES_COMMAND_OK) return abort("updating live values");
    {
      const char* p[] = {now.c_str()};
      PgResult heard(PQexecParams(conn_,
                             "UPDATE edge_nodes e SET last_heard_ms = $1::bigint FROM"
                             " (SELECT DISTINCT group_id, edge_node FROM samples_stage) s"
                             " WHERE (e.group_id, e.edge_node) = (s.group_id, s.edge_node)",
                             1, nullptr, p, nullptr, nullptr, 0));
      if (heard.status() != PGRES_COMMAND_OK) return abort("updating last heard");
    }

    for (const auto& s : samples) {
      if (s.metric != "reports/daily" || s.value.index() != 8) continue;
      auto rep = ParseDailyReport(std::get<gateway::DataSet>(s.value));
      if (!rep) continue;
      std::string rev = std::to_string(rep->revision), ts = std::to_string(s.ts_ms);
      std::string late = rep->late_readings ? std::to_string(*rep->late_readings) : "";
      const char* p[] = {s.group.c_str(), s.edge_node.c_str(), s.device.c_str(), rep->date.c_str(), rev.c_str(),
                         rep->late_readings ? late.c_str() : nullptr, ts.c_str(), rep->json.c_str(), now.c_str()};
      PgResult d(PQexecParams(conn_,
                         "INSERT INTO daily_reports (group_id, edge_node, device, day, revision, late_readings, ts_ms,"
                         " report, received_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9)"
                         " ON CONFLICT (group_id, edge_node, device, day) DO UPDATE SET revision = excluded.revision,"
                         " late_readings = excluded.late_readings, ts_ms = excluded.ts_ms, report = excluded.report,"
                         " received_ms = excluded.received_ms WHERE daily_reports.revision < excluded.revision",
                         9, nullptr, p, nullptr, nullptr, 0));
      if (d.status() != PGRES_COMMAND_OK) return abort("storing a daily report");
      result.daily_reports += std::strtoull(PQcmdTuples(d.r), nullptr, 10);
    }
  }

  for (const auto& e : events) {
    std::string ts = std::to_string(e.ts_ms), bd = std::to_string(e.bd_seq);
    const bool birth = e.kind == LifecycleEvent::kNodeBirth || e.kind == LifecycleEvent::kDeviceBirth;
    const bool node = e.kind == LifecycleEvent::kNodeBirth || e.kind == LifecycleEvent::kNodeDeath;
    if (node) {
      const char* p[] = {e.group.c_str(), e.edge_node.c_str(), birth ? "t" : "f", bd.c_str(), ts.c_str(),
                         host_id_.c_str()};
      PgResult r(PQexecParams(conn_,
                         birth ? "INSERT INTO edge_nodes (group_id, edge_node, online, bd_seq, birth_ms, host_id)"
                                 " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (group_id, edge_node) DO UPDATE SET"
                                 " online = true, bd_seq = excluded.bd_seq, birth_ms = excluded.birth_ms,"
                                 " host_id = excluded.host_id"
                               : "INSERT INTO edge_nodes (group_id, edge_node, online, bd_seq, death_ms, host_id)"
                                 " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (group_id, edge_node) DO UPDATE SET"
                                 " online = false, death_ms = excluded.death_ms",
                         6, nullptr, p, nullptr, nullptr, 0));
      if (r.status() != PGRES_COMMAND_OK) return abort("storing an edge node");
      if (!birth) {
        const char* q[] = {e.group.c_str(), e.edge_node.c_str(), ts.c_str()};
        PgResult f(PQexecParams(conn_,
                           "UPDATE facilities SET online = false, death_ms = $3 WHERE group_id = $1 AND edge_node = $2"
                           " AND online",
                           3, nullptr, q, nullptr, nullptr, 0));
        if (f.status() != PGRES_COMMAND_OK) return abort("marking facilities offline");
      }
    } else {
      const char* p[] = {e.group.c_str(), e.edge_node.c_str(), e.device.c_str(), birth ? "t" : "f", ts.c_str()};
      PgResult r(PQexecParams(conn_,
                         birth ? "INSERT INTO facilities (group_id, edge_node, device, online, birth_ms)"
                                 " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (group_id, edge_node, device) DO UPDATE SET"
                                 " online = true, birth_ms = excluded.birth_ms"
                               : "INSERT INTO facilities (group_id, edge_node, device, online, death_ms)"
                                 " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (group_id, edge_node, device) DO UPDATE SET"
                                 " online = false, death_ms = excluded.death_ms",
                         5, nullptr, p, nullptr, nullptr, 0));
      if (r.status() != PGRES_COMMAND_OK) return abort("storing a facility");
    }
    if (birth && !e.metrics.empty()) {
      std::vector<std::string> names, types, aliases;
      for (const auto& m : e.metrics) {
        names.push_back(m.name);
        types.push_back(std::to_string(m.datatype));
        aliases.push_back(m.alias < 0 ? "NULL" : std::to_string(m.alias));
      }
      std::string n = TextArray(names), t = TextArray(types), a = "{";
      for (size_t i = 0; i < aliases.size(); ++i) {
        if (i) a += ',';
        a += aliases[i];
      }
      a += '}';
      const char* p[] = {e.group.c_str(), e.edge_node.c_str(), e.device.c_str(), n.c_str(), t.c_str(), a.c_str(),
                         ts.c_str()};
      PgResult r(PQexecParams(conn_,
                         "INSERT INTO metric_catalog (group_id, edge_node, device, metric, datatype, alias, birth_ms)"
                         " SELECT $1, $2, $3, m, d, a, $7 FROM unnest($4::text[], $5::int[], $6::bigint[]) AS u(m, d, a)"
                         " ON CONFLICT (group_id, edge_node, device, metric) DO UPDATE SET datatype = excluded.datatype,"
                         " alias = excluded.alias, birth_ms = excluded.birth_ms",
                         7, nullptr, p, nullptr, nullptr, 0));
      if (r.status() != PGRES_COMMAND_OK) return abort("storing the metric catalogue");
    }
  }
  if (auto s = StoreAlarms(alarms, now_ms, &result); !s.ok()) {
    if (conn_) PgResult(PQexec(conn_, "ROLLBACK"));
    return s;
  }
  if (auto s = Exec("COMMIT"); !s.ok()) return s;
  return result;
}



gateway::Result<std::vector<PgStore::Declaration>> PgStore::LoadCatalog(const std::vector<std::string>& groups) {
  if (auto s = Ensure(); !s.ok()) return s;
  const std::string g = TextArray(groups);
  const char* p[] = {g.c_str()};
  PgResult r(PQexecParams(conn_,
                          "SELECT group_id, edge_node, device, metric, datatype, coalesce(alias, -1) FROM metric_catalog"
                          " WHERE group_id = ANY($1::text[]) ORDER BY birth_ms",
                          1, nullptr, p, nullptr, nullptr, 0));
  if (r.status() != PGRES_TUPLES_OK) return Fail("reading the metric catalogue");
  std::vector<Declaration> out;
  out.reserve(size_t(PQntuples(r.r)));
  for (int i = 0; i < PQntuples(r.r); ++i) {
    Declaration d;
    d.node = {PQgetvalue(r.r, i, 0), PQgetvalue(r.r, i, 1)};
    d.device = PQgetvalue(r.r, i, 2);
    d.decl.name = PQgetvalue(r.r, i, 3);
    d.decl.datatype = uint32_t(std::strtoul(PQgetvalue(r.r, i, 4), nullptr, 10));
    d.decl.alias = std::strtoll(PQgetvalue(r.r, i, 5), nullptr, 10);
    out.push_back(std::move(d));
  }
  return out;
}

gateway::Result<int> PgStore::DropExpired(int64_t now_ms, uint32_t retention_days) {
  if (auto s = Ensure(); !s.ok()) return s;
  PgResult r(PQexec(conn_,
               "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
               " JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'samples'"));
  if (r.status() != PGRES_TUPLES_OK) return Fail("listing partitions");
  const int64_t oldest_kept = DayOf(now_ms) - int64_t(retention_days);
  int dropped = 0;
  for (int i = 0; i < PQntuples(r.r); ++i) {
    std::string name = PQgetvalue(r.r, i, 0);
    // Our own partitions only; their names sort as their dates.
    if (name.size() != 17 || name.compare(0, 9, "samples_p") != 0 || name >= PartitionName(oldest_kept)) continue;
    std::string sql = "DROP TABLE IF EXISTS ";
    sql += name;
    if (auto s = Exec(sql.c_str()); !s.ok()) return s;
    spdlog::info("retention: dropped partition {}", name);
    ++dropped;
  }
  if (dropped) partitions_.clear();
  return dropped;
}

}  // namespace host
