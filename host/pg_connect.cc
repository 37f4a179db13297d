#include "pg_connect.h"

namespace host {

PGconn* OpenPg(const std::string& conninfo, const std::string& password, const char* application_name) {
  const char* keys[] = {"dbname", "application_name", nullptr, nullptr};
  const char* vals[] = {conninfo.c_str(), application_name, nullptr, nullptr};
  if (!password.empty()) {
    keys[2] = "password";
    vals[2] = password.c_str();
  }
  PGconn* conn = PQconnectdbParams(keys, vals, /*expand_dbname=*/1);
  // NOTICEs ("already exists, skipping") are expected, not news for the log.
  if (PQstatus(conn) == CONNECTION_OK) PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);
  return conn;
}

std::string PgTextArray(const std::vector<std::string>& v) {
  std::string out = "{";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += ',';
    out += '"';
    for (char c : v[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

gateway::Status PgError(PGconn* conn, const std::string& what) {
  std::string msg = what;
  msg += ": ";
  msg += PQerrorMessage(conn);
  while (!msg.empty() && msg.back() == '\n') msg.pop_back();
  return gateway::Status::Unavailable(msg);
}

}  // namespace host
